"""A domain error as a command prints it (``Error: ...``): each problem once, one a line.

Services name their first problem as the detail and list every problem in ``errors`` (which
the API sends as problem+json); printed as they come, a terminal showed the same sentence
twice, the second time as a JSON dict.
"""

from __future__ import annotations

import re
from typing import Any

import click

from corrections.core.errors import DomainError
from corrections.core.i18n import _, cli_text

# What a command says when the database has no tables yet (it was never migrated).
UNINITIALISED = _("the database is not initialised: run corrections db upgrade first")
# PostgreSQL's SQLSTATE for a relation that does not exist (undefined_table).
_UNDEFINED_TABLE = "42P01"
# The table a "no such table" names: SQLite's "no such table: main.x", PostgreSQL's
# 'relation "x" does not exist'.
_TABLE_NAMED = re.compile(r'no such table: (?:\w+\.)?(\w+)|relation "([^"]+)" does not exist')


def _entries(errors: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``errors`` as (field, message) pairs; nested members as ``outer.inner``."""
    if isinstance(errors, dict):
        return [
            pair
            for key, value in errors.items()
            for pair in _entries(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(errors, list | tuple):
        return [pair for value in errors for pair in _entries(value, prefix)]
    return [(prefix, errors)]


def domain_message(exc: DomainError) -> str:
    """The detail alone when ``errors`` only repeats it; when it is the first of several
    problems, every problem as ``field: message`` on a line of its own; otherwise the detail,
    then each entry on its own line. Each message in Chinese, then English
    (:func:`~corrections.core.i18n.cli_text`)."""
    detail = exc.detail
    entries = _entries(exc.errors or {})
    messages = [str(message) for _field, message in entries]
    if all(message == str(detail) for message in messages):
        return cli_text(detail)
    lines = [f"{field}: {cli_text(message)}" for field, message in entries]
    if str(detail) in messages:
        return "\n".join(lines)
    return "\n".join([cli_text(detail), *(f"  {line}" for line in lines)])


def missing_table(exc: BaseException) -> str | None:
    """The table named by ``exc`` (or an exception it came from) when it is the database's
    "no such table" (SQLite) or "relation does not exist" (PostgreSQL, SQLSTATE 42P01); "?"
    when it names none; None for any other error."""
    from sqlalchemy.exc import DBAPIError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            original = current.orig
            text = str(original)
            sqlite = type(original).__module__.startswith("sqlite3")
            if getattr(original, "sqlstate", None) == _UNDEFINED_TABLE or (
                sqlite and text.startswith("no such table")
            ):
                found = _TABLE_NAMED.search(text)
                return (found.group(1) or found.group(2)) if found else "?"
        current = current.__cause__ or current.__context__
    return None


def uninitialised_database(exc: BaseException) -> bool:
    """Whether ``exc`` is a missing table (:func:`missing_table`), whichever."""
    return missing_table(exc) is not None


def missing_table_message(engine, table: str):
    """What a command says after ``table`` was missing: "run db upgrade first" only when the
    database was never migrated (no ``alembic_version`` table, and none of ours); otherwise
    the table is named as lost, for a migrated database that lacks a table was damaged or
    tampered with (hostile review: after ``DROP TABLE audit_entries``, ``audit verify`` said
    "run db upgrade", hiding the tampering)."""
    from sqlalchemy import inspect

    try:
        names = set(inspect(engine).get_table_names()) - {"sqlite_sequence"}
    except Exception:  # no engine, or the database does not answer now: name the table
        names = {"?"}
    if not names:  # no alembic_version, nor any table: never migrated
        return UNINITIALISED
    return _(
        "the database lacks the table {table}: it may be damaged or tampered with; restore "
        "it from a backup (corrections backup restore), then check it with corrections "
        "audit verify",
        table=table,
    )


class OperatorError(click.ClickException):
    """What an operator must set right before a command can run (a file it cannot write, a
    keyring that is not the database's, a missing database driver): one line, ``错误：...``,
    exit status 2 like click's usage errors. systemd units name 2 in
    RestartPreventExitStatus: restarting would not mend it."""

    exit_code = 2


# Why a file or folder could not be written, for the common cases (the rest: the system's
# own text).
_OS_REASONS = {
    "EACCES": _("permission denied"),
    "EPERM": _("permission denied"),
    "ENOENT": _("the folder does not exist"),
    "EISDIR": _("it is a folder"),
    "EROFS": _("read-only file system"),
    "ENOSPC": _("no space left on the device"),
}


def os_reason(exc: OSError):
    """``exc``'s reason as a message (Chinese for the common cases)."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    return _OS_REASONS.get(name) or (exc.strerror or type(exc).__name__)


def startup_error(exc: BaseException) -> str | None:
    """The one line a command (or ``corrections-entrypoint``) ends with when the app cannot
    start for a reason the operator must set right, in their language; None for anything
    else (which keeps its traceback). A keyring that is not the database's, and a file of
    the instance folder the command's user cannot write or read (a command run as another
    user than the service's, or without CORRECTIONS_INSTANCE_PATH: the default instance
    folder is inside the virtualenv)."""
    from errno import EROFS

    from corrections.core.keys import KeyringError

    if isinstance(exc, KeyringError):
        return cli_text(exc.args[0] if exc.args else str(exc))
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno == EROFS):
        message = _(
            "{path}: {reason}; run corrections as the service user ({command}), or set "
            "CORRECTIONS_INSTANCE_PATH to a folder this user can write",
            path=str(exc.filename or "?"),
            reason=os_reason(exc),
            command="runuser -u corrections -- ...",
        )
        return cli_text(message)
    return None
