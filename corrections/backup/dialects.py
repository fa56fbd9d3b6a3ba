"""How each database is copied, read and put back: PostgreSQL through its own client tools
(``pg_dump --format=custom``, ``pg_restore``), SQLite through its online backup API.

Nothing here knows what the tables mean. A database URL's password never reaches an argument
list, a log line or a message: the client tools get it from ``PGPASSWORD`` in their
environment, and URLs are shown masked (:func:`masked`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from corrections.core.errors import DomainError
from corrections.core.i18n import _
from corrections.supervision import partitions

# How long SQLite's backup waits for a lock held by a writer (milliseconds).
SQLITE_BUSY_MS = 60_000
# Audit rows still unsealed in a copy are listed by id in its manifest (ids only), up to this.
UNSEALED_IDS_LISTED = 1000


class ToolFailed(DomainError):
    """A database client tool or the SQLite backup failed (the message is the tool's own,
    with quoted values taken out: a refused row's values can be personal data)."""

    status, code = 500, "backup-tool-failed"


def parse_url(url: str | URL) -> URL:
    """The URL with ``postgresql://`` read as psycopg's, as the configuration does."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:  # the text is not repeated: it may hold a password
        raise ToolFailed(
            _("not a database URL: sqlite:///PATH or postgresql://user@host/db")
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def kind_of(url: URL) -> str:
    """``postgresql`` or ``sqlite``; anything else is refused."""
    backend = url.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise ToolFailed(_("unsupported database {backend}: sqlite or postgresql", backend=backend))
    return backend


def masked(url: str | URL) -> str:
    """The URL for messages, manifests and logs: its password replaced by ``***`` (one
    given as ``?password=`` too)."""
    parsed = parse_url(url)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def same_database(a: str | URL, b: str | URL) -> bool | None:
    """Whether two URLs reach the same database; None when that cannot be told.

    SQLite: the same file (real paths, hard links too). PostgreSQL: asked of the servers
    themselves, so that ``localhost`` and ``127.0.0.1``, a Unix socket, another user or the
    port written out are recognised (hostile review: a restore of the instance's own
    database under another spelling skipped the checkpoint acknowledgement): the cluster's
    system identifier, its start time (a clone of the cluster keeps the identifier, not the
    start) and the database. When one of them cannot be reached: the same spelling (driver,
    password and the default port aside) is the same database, another is undecided (None:
    the caller asks the operator)."""
    ua, ub = parse_url(a), parse_url(b)
    if kind_of(ua) != kind_of(ub):
        return False
    if kind_of(ua) == "sqlite":
        pa, pb = sqlite_path(ua), sqlite_path(ub)
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
        return pa.resolve() == pb.resolve()
    ia, ib = server_identity(ua), server_identity(ub)
    if ia is not None and ib is not None:
        return ia == ib
    return True if same_spelling(ua, ub) else None


def same_spelling(ua: URL, ub: URL) -> bool:
    """Whether two PostgreSQL URLs are written alike: host, port (5432 when none is named),
    database, user and a host given as a query parameter."""
    ua, ub = (u.set(port=u.port or 5432) for u in (ua, ub))
    fields = ("host", "port", "database", "username")
    return all(
        (getattr(ua, f) or None) == (getattr(ub, f) or None) for f in fields
    ) and ua.query.get("host") == ub.query.get("host")


# What identifies a PostgreSQL database whatever the URL that reached it.
_IDENTITY = text(
    "SELECT (SELECT system_identifier FROM pg_control_system()), pg_postmaster_start_time(), "
    "current_database()"
)


def server_identity(url: URL) -> tuple[Any, ...] | None:
    """(cluster system identifier, the server's start time, database) of the PostgreSQL
    database ``url`` reaches; None when it cannot be reached (within 10 seconds)."""
    engine = scratch_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(_IDENTITY).one())
    except Exception:  # unreachable, refused, no such database: undecided, said by the caller
        return None
    finally:
        engine.dispose()


def scratch_engine(url: URL, **options: Any) -> Engine:
    """An engine that keeps no connection once disposed (a database about to be dropped)."""
    return create_engine(url, poolclass=NullPool, **options)


# --- what a database holds ---------------------------------------------------------------


@dataclass
class Facts:
    """What a copy must agree on with its manifest: the schema's migration, each table's row
    count, and where the audit chain ended."""

    migration_head: str | None
    tables: dict[str, int]
    audit: dict[str, Any] = field(default_factory=dict)


def read_facts(conn: Connection) -> Facts:
    """Row counts of every table of the connection's schema, the Alembic revision and the
    audit chain's head, all read in the connection's current transaction (one snapshot)."""
    names = sorted(inspect(conn).get_table_names())
    tables = {
        name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
        for name in names
    }
    head = None
    if "alembic_version" in tables:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    audit: dict[str, Any] = {"head_seq": 0, "head_hash": None, "unsealed": 0, "unsealed_ids": []}
    if "audit_chain_head" in tables:
        row = conn.execute(
            text("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")
        ).first()
        if row is not None:
            audit["head_seq"], audit["head_hash"] = int(row[0]), row[1]
    if "audit_entries" in tables:
        audit["unsealed"] = conn.execute(
            text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")
        ).scalar_one()
        audit["unsealed_ids"] = [
            int(i)
            for i in conn.execute(
                text("SELECT id FROM audit_entries WHERE seq IS NULL ORDER BY id LIMIT :n"),
                {"n": UNSEALED_IDS_LISTED},
            ).scalars()
        ]
    return Facts(migration_head=head, tables=tables, audit=audit)


def sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- PostgreSQL --------------------------------------------------------------------------


def pg_tool(name: str, bin_dir: str | None) -> str:
    """The absolute path of a PostgreSQL client tool (``bin_dir`` first, else ``PATH``)."""
    found = shutil.which(name, path=bin_dir) if bin_dir else shutil.which(name)
    if not found:
        where = bin_dir or "PATH"
        raise ToolFailed(
            _(
                "the PostgreSQL client tool {name} is not in {where}: install the server's "
                "client tools, or set BACKUP_PG_BIN_DIR",
                name=name,
                where=where,
            )
        )
    return found


_PLAIN = re.compile(r"^[^\s'\\]+$")


def _conninfo_value(value: str) -> str:
    if _PLAIN.match(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def libpq(url: URL, *, database: str | None = None) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it
    (``PGPASSWORD``): argument lists are visible to every user of the machine (``ps``)."""
    parts: dict[str, str] = {}
    if url.host:
        parts["host"] = url.host
    if url.port:
        parts["port"] = str(url.port)
    if url.username:
        parts["user"] = url.username
    parts["dbname"] = database or url.database or ""
    # The caller's PGPASSWORD or ~/.pgpass still serve a URL without a password.
    env = dict(os.environ)
    password = url.password
    for key, value in url.query.items():
        value = value[-1] if isinstance(value, tuple) else value
        if key == "password":
            password = value
        else:
            parts[key] = str(value)
    if password:
        env["PGPASSWORD"] = str(password)
    conninfo = " ".join(f"{k}={_conninfo_value(v)}" for k, v in parts.items())
    return conninfo, env


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def _tool_message(name: str, proc: subprocess.CompletedProcess) -> str:
    """The tool's error lines, with what the server quoted taken out (values of a refused
    row); DETAIL, CONTEXT and LINE lines, which quote rows and statements, dropped."""
    kept = []
    for line in (proc.stderr or "").splitlines():
        if not re.search(r"error:|fatal:|FATAL|ERROR", line) or re.search(
            r"DETAIL|CONTEXT|LINE \d|HINT", line
        ):
            continue
        head, sep, tail = line.partition("ERROR:")
        kept.append((head + sep + _QUOTED.sub('"…"', tail))[:300])
        if len(kept) == 3:
            break
    return "; ".join(kept) or f"{name} exited with status {proc.returncode}"


def run_tool(
    args: list[str],
    env: dict[str, str],
    name: str,
    *,
    output: bool = True,
    failed: Callable[[str], str] | None = None,
) -> str:
    """Run a client tool; its standard output (``output=False``: not kept, for tools that
    write a file or would print the records), or :class:`ToolFailed` with ``failed(message)``
    (default: "NAME failed: ...") carrying the tool's error lines (:func:`_tool_message`)."""
    proc = subprocess.run(  # noqa: S603 - an absolute tool path and our own arguments
        args,
        env=env,
        stdout=subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A damaged dump can make pg_restore print bytes that are not UTF-8 (a flaky test
        # found it): they must not turn a finding into a crash.
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if proc.returncode != 0:
        message = _tool_message(name, proc)
        raise ToolFailed(
            failed(message) if failed else _("{name} failed: {message}", name=name, message=message)
        )
    return proc.stdout or ""


def tool_version(path: str) -> str:
    return run_tool([path, "--version"], dict(os.environ), Path(path).name).strip()


def pg_dump(engine: Engine, out: Path, *, bin_dir: str | None) -> tuple[Facts, dict[str, Any]]:
    """Dump the database to ``out`` in pg_dump's custom format, and read its facts from the
    very snapshot pg_dump copies (a repeatable-read transaction exports it and stays open
    while pg_dump runs), so the manifest describes exactly the dump."""
    tool = pg_tool("pg_dump", bin_dir)
    conninfo, env = libpq(engine.url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            facts = read_facts(conn)
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            server = conn.execute(text("SHOW server_version")).scalar_one()
            # The file exists, private, before pg_dump writes into it: under the process's
            # umask (022) it was world-readable (hostile review), and a copy that keeps modes
            # would carry that along.
            os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.chmod(out, 0o600)
            run_tool(
                [
                    tool,
                    "--format=custom",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    f"--file={out}",
                    f"--dbname={conninfo}",
                ],
                env,
                "pg_dump",
            )
    return facts, {"schema": schema, "server_version": server, "tool": tool_version(tool)}


_TOC_DATA = re.compile(r"\bTABLE DATA (\S+) (\S+) ")


def pg_list(dump: Path, *, bin_dir: str | None) -> set[str]:
    """Read the dump's table of contents (``pg_restore --list``: the file is readable); the
    tables whose rows it holds."""
    out = run_tool(
        [pg_tool("pg_restore", bin_dir), "--list", str(dump)], dict(os.environ), "pg_restore"
    )
    held = set()
    for m in _TOC_DATA.finditer(out):
        # A partitioned table's rows are its partitions' (the event log's months).
        held.add(_PARTITIONS_OF.get(m.group(1), m.group(2)))
    return held


# Objects an extension installed are the extension's: neither counted nor dropped here.
_RELATIONS = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :s AND c.relkind IN ({kinds}) AND NOT EXISTS "
    "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
)
_ROUTINES = (
    "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s "
    "AND p.prokind IN ('f', 'p', 'w') AND NOT EXISTS "
    "(SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
)
_TYPES = (
    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = :s AND t.typtype IN ('e', 'd', 'r') AND NOT EXISTS "
    "(SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')"
)


# The schemas holding a partitioned table's partitions, by that table (migration 0030), and
# where its detached months wait for the archive: a restore drops them with ``public`` (the
# dump creates them again).
_PARTITIONS_OF = {partitions.SCHEMA: partitions.PARENT}
_OWN_SCHEMAS = (partitions.SCHEMA, partitions.ARCHIVE_SCHEMA)


def pg_is_empty(engine: Engine, schema: str) -> bool:
    """No table, view, sequence, function or type of our own in ``schema``."""
    queries = (_RELATIONS.format(kinds="'r', 'p', 'v', 'm', 'S', 'f'"), _ROUTINES, _TYPES)
    with engine.connect() as conn:
        return not any(conn.execute(text(q), {"s": schema}).first() for q in queries)


def pg_drop_statements(engine: Engine, schema: str) -> list[str]:
    """The statements that drop every view, table, sequence, function and type of
    ``schema`` (``public`` itself, its owner and its grants stay; so do extensions); another
    schema is dropped whole (the dump creates it again). Run by :func:`pg_restore` in the
    restore's own transaction."""
    with engine.connect() as conn:
        quote = conn.dialect.identifier_preparer.quote
        where = quote(schema)
        if schema != "public":
            return [f"DROP SCHEMA IF EXISTS {where} CASCADE"]
        statements = [f"DROP SCHEMA IF EXISTS {quote(s)} CASCADE" for s in _OWN_SCHEMAS]
        for kind, kinds in (
            ("VIEW", "'v'"),
            ("MATERIALIZED VIEW", "'m'"),
            ("FOREIGN TABLE", "'f'"),
            ("TABLE", "'r', 'p'"),
            ("SEQUENCE", "'S'"),
        ):
            for (name,) in conn.execute(text(_RELATIONS.format(kinds=kinds)), {"s": schema}):
                statements.append(f"DROP {kind} IF EXISTS {where}.{quote(name)} CASCADE")
        for name, args in conn.execute(text(_ROUTINES), {"s": schema}):
            statements.append(f"DROP ROUTINE IF EXISTS {where}.{quote(name)}({args}) CASCADE")
        for (name,) in conn.execute(text(_TYPES), {"s": schema}):
            statements.append(f"DROP TYPE IF EXISTS {where}.{quote(name)} CASCADE")
    return statements


def pg_restore(
    dump: Path, url: URL, *, bin_dir: str | None, replacing: list[str] | None = None
) -> None:
    """Restore a custom-format dump into ``url`` in one transaction (all or nothing); objects
    end up owned by the restoring role, grants are not restored (``--no-owner
    --no-privileges``: the target cluster need not have the source's roles).

    ``replacing``: statements that first empty the target (:func:`pg_drop_statements`), run
    in the same transaction: ``pg_restore`` writes the dump as SQL into ``psql
    --single-transaction``, so a restore that fails half-way leaves the target as it was."""
    conninfo, env = libpq(url)
    if replacing is None:
        run_tool(
            [
                pg_tool("pg_restore", bin_dir),
                "--no-owner",
                "--no-privileges",
                "--no-password",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={conninfo}",
                str(dump),
            ],
            env,
            "pg_restore",
        )
        return
    with tempfile.TemporaryDirectory(prefix="corrections-restore-") as tmp:
        drops = Path(tmp) / "drop.sql"
        drops.write_text("".join(f"{s};\n" for s in replacing), encoding="utf-8")
        # The dump as SQL into a file first, and only a complete one goes to psql: piped, psql
        # --single-transaction commits at the end of its input whatever pg_restore's exit
        # status, so a pg_restore that failed half-way left the target emptied (hostile
        # review). The folder is private (mode 0700): the SQL holds the records.
        script = Path(tmp) / "restore.sql"
        run_tool(
            [
                pg_tool("pg_restore", bin_dir),
                "--no-owner",
                "--no-privileges",
                f"--file={script}",
                str(dump),
            ],
            env,
            "pg_restore",
            output=False,
            failed=lambda message: _(
                "pg_restore failed, the target database is unchanged: {message}",
                message=message,
            ),
        )
        run_tool(
            [
                pg_tool("psql", bin_dir),
                "--no-psqlrc",
                "--no-password",
                "--quiet",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                f"--dbname={conninfo}",
                f"--file={drops}",
                f"--file={script}",
            ],
            env,
            "psql",
            output=False,
            failed=lambda message: _(
                "psql failed, the target database is unchanged: {message}", message=message
            ),
        )


def _admin_engine(url: URL) -> Engine:
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


_SCRATCH = re.compile(r"^corrections_drill_(\d{14})_[0-9a-f]{6}$")


def _drop_stale_scratch(conn, now: datetime) -> None:
    """Scratch databases of drills that were killed (their ``finally`` never ran) and are
    over a day old: each a full copy of the records (hostile review). Younger ones may be a
    drill still running elsewhere."""
    names = conn.execute(
        text("SELECT datname FROM pg_database WHERE datname LIKE 'corrections_drill_%'")
    ).scalars()
    for name in list(names):
        match = _SCRATCH.match(name)
        if match is None:
            continue
        made = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        if now - made > timedelta(days=1):
            try:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except DBAPIError as exc:  # another role's (autocommit: nothing else is undone)
                if _sqlstate(exc) != _INSUFFICIENT_PRIVILEGE:
                    raise


# PostgreSQL's SQLSTATE insufficient_privilege: CREATE DATABASE without CREATEDB, DROP
# DATABASE of another role's.
_INSUFFICIENT_PRIVILEGE = "42501"


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


@contextmanager
def pg_scratch(server: URL, now: datetime) -> Iterator[URL]:
    """A new, uniquely named database on ``server`` for the time of the block, dropped after
    (``WITH (FORCE)``: a connection left behind does not keep it). Needs CREATEDB."""
    name = f"corrections_drill_{now:%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    admin = _admin_engine(server)
    try:
        with admin.connect() as conn:
            _drop_stale_scratch(conn, now)
            try:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
            except DBAPIError as exc:
                if _sqlstate(exc) != _INSUFFICIENT_PRIVILEGE:
                    raise
                # Not "ProgrammingError at cursor.py:117" (new-operator review).
                message = _(
                    "the drill needs a database role that may create databases (CREATEDB), "
                    "or BACKUP_DRILL_URL naming a server where it may"
                )
                raise ToolFailed(message) from None
        try:
            yield server.set(database=name)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --- SQLite ------------------------------------------------------------------------------


def sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ToolFailed(
            _("an in-memory or URI SQLite database cannot be backed up: give sqlite:///PATH")
        )
    return Path(database)


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file nor leave -wal/-shm files beside it (a copy
    whose checksum must stay what the manifest says)."""
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro&immutable=1", uri=True)


class _Locked(Exception):
    pass


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    """``src.backup(dst)`` in one step, but giving up once a writer has held the lock for
    ``SQLITE_BUSY_MS`` (Python's backup retries a locked database for ever)."""
    started = time.monotonic()

    def progress(status: int, remaining: int, total: int) -> None:
        locked = status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        if locked and (time.monotonic() - started) * 1000 > SQLITE_BUSY_MS:
            raise _Locked

    for conn in (src, dst):
        conn.execute(f"PRAGMA busy_timeout={min(int(SQLITE_BUSY_MS), 1000)}")
    try:
        src.backup(dst, progress=progress)
    except _Locked:
        seconds = format(SQLITE_BUSY_MS / 1000, "g")
        raise ToolFailed(
            _(
                "a writer held the SQLite database locked for {seconds} s: stop the service "
                "and try again",
                seconds=seconds,
            )
        ) from None


def sqlite_backup(source: Path, out: Path) -> None:
    """Copy a live SQLite database with the online backup API (one step: a consistent
    snapshot while writers go on, WAL included), then make the copy one self-contained file
    (rollback journal instead of WAL)."""
    if not source.exists():
        raise ToolFailed(_("the SQLite database file does not exist"))
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(out)
    try:
        _copy(src, dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise ToolFailed(_("the SQLite backup failed: {error}", error=type(exc).__name__)) from None
    finally:
        dst.close()
        src.close()


def sqlite_facts(path: Path) -> Facts:
    engine = create_engine("sqlite://", creator=lambda: _read_only(path), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return read_facts(conn)
    finally:
        engine.dispose()


def sqlite_integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check``: [] when the file is sound, else its complaints (a file
    that is not a database at all is one)."""
    try:
        conn = _read_only(path)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [f"{type(exc).__name__}: {exc}"]
    return [] if rows == ["ok"] else rows[:10]


def sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        conn.close()


def sqlite_restore(copy: Path, target: Path) -> None:
    """Put a copy back with the backup API, copy to target: the target's pages are replaced
    as a whole (its WAL included), never a file copied under an open database."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src = _read_only(copy)
    dst = sqlite3.connect(target)
    try:
        _copy(src, dst)
        dst.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise ToolFailed(
            _("the SQLite restore failed: {error}", error=type(exc).__name__)
        ) from None
    finally:
        dst.close()
        src.close()
