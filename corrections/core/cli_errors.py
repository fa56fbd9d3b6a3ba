"""A domain error as a command prints it (``Error: ...``): each problem once, one a line.

Services name their first problem as the detail and list every problem in ``errors`` (which
the API sends as problem+json); printed as they come, a terminal showed the same sentence
twice, the second time as a JSON dict.
"""

from __future__ import annotations

from typing import Any

from corrections.core.errors import DomainError
from corrections.core.i18n import _, cli_text

# What a command says when the database has no tables yet (it was never migrated).
UNINITIALISED = _("the database is not initialised: run corrections db upgrade first")
# PostgreSQL's SQLSTATE for a relation that does not exist (undefined_table).
_UNDEFINED_TABLE = "42P01"


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


def uninitialised_database(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it came from) is the database's "no such table"
    (SQLite) or "relation does not exist" (PostgreSQL, SQLSTATE 42P01): a command run
    before ``corrections db upgrade`` made the schema."""
    from sqlalchemy.exc import DBAPIError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            original = current.orig
            if getattr(original, "sqlstate", None) == _UNDEFINED_TABLE:
                return True
            if type(original).__module__.startswith("sqlite3") and str(original).startswith(
                "no such table"
            ):
                return True
        current = current.__cause__ or current.__context__
    return False
