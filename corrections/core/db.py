"""Database session, declarative base and engine settings for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names make Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def _no_result_rows(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO


def keep_rows_out_of_logs() -> None:
    """SQLAlchemy logs every result row at DEBUG, decrypted identity fields included: drop
    those records whatever the log level (statements still log at INFO, and the engine
    options hide their parameters)."""
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    if _no_result_rows not in logger.filters:
        logger.addFilter(_no_result_rows)


@dataclass(frozen=True)
class Timeouts:
    """How long one statement may run and how long it may wait for a lock, in milliseconds
    (0: no limit)."""

    statement_ms: int
    lock_ms: int


def timeouts(config: Mapping[str, Any], profile: str) -> Timeouts:
    """The ``request``, ``job`` or ``health`` timeouts of the configuration (seconds there)."""
    if profile == "health":
        health_ms = 1000 * config["HEALTHZ_TIMEOUT_SECONDS"]
        return Timeouts(statement_ms=health_ms, lock_ms=health_ms)
    prefix = "REQUEST" if profile == "request" else "JOB"
    return Timeouts(
        statement_ms=1000 * config[f"{prefix}_STATEMENT_TIMEOUT_SECONDS"],
        lock_ms=1000 * config[f"{prefix}_LOCK_TIMEOUT_SECONDS"],
    )


HEALTH_PROFILE = "health"


def current_profile() -> str:
    """``request`` inside an HTTP request (``health`` once the deep health check asked for its
    own, shorter timeouts: :func:`use_health_timeouts`); ``job`` for everything else
    (scheduled jobs, CLI commands, migrations)."""
    if not has_request_context():
        return "job"
    return g.get("db_timeouts", "request")


def use_health_timeouts(session: Any) -> None:
    """Run the rest of this request's database work under ``HEALTHZ_TIMEOUT_SECONDS``. The
    timeouts are set when a transaction begins, so one already open (it has the request's;
    the health check wrote nothing in it) is ended first. A monitor waiting a few seconds
    then sees 503 ``busy``, not a timeout of its own."""
    g.db_timeouts = HEALTH_PROFILE
    session.rollback()


# SQLite waits for the write lock this long when the lock timeout is 0 ("no limit"): its own 0
# would mean "do not wait at all".
_SQLITE_FOREVER_MS = 2**31 - 1


def configure_sqlite(engine: Engine, config: Mapping[str, Any]) -> None:
    """WAL, foreign keys, a busy timeout, and transactions that take the write lock up front.

    pysqlite opens transactions lazily and only before DML, so a read-then-write transaction
    can fail with SQLITE_BUSY when another writer commits in between; ``BEGIN IMMEDIATE``
    queues writers behind the busy timeout instead (SQLAlchemy's documented recipe). The busy
    timeout is the lock timeout of the request or the job (SQLite has no statement timeout):
    past it the transaction fails with "database is locked" (503 for a request).
    """

    def busy_ms() -> int:
        return timeouts(config, current_profile()).lock_ms or _SQLITE_FOREVER_MS

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # pragma: no cover - driver hook
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        wanted = busy_ms()
        cursor.execute(f"PRAGMA busy_timeout={int(wanted)}")  # before WAL, which may wait
        connection_record.info["busy_timeout_ms"] = wanted
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        wanted = busy_ms()
        if conn.info.get("busy_timeout_ms") != wanted:  # a setting of the connection
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wanted)}")
            conn.info["busy_timeout_ms"] = wanted
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def configure_postgresql(engine: Engine, config: Mapping[str, Any]) -> None:
    """Statement and lock timeouts: a request's are each connection's own settings (set once
    when it connects, so a request pays no extra round trip); a job's, a CLI command's, a
    migration's or the deep health check's are set for its transaction (``SET LOCAL``, through
    ``set_config``). Past them PostgreSQL cancels the statement (QueryCanceled,
    LockNotAvailable): 503 for a request. The JIT compiler is off unless ``DATABASE_JIT``
    (set in the same statement)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # pragma: no cover - driver hook
        t = timeouts(config, "request")
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, false), "
                "set_config('lock_timeout', %s, false), set_config('jit', %s, false)",
                (
                    str(t.statement_ms),
                    str(t.lock_ms),
                    "on" if config.get("DATABASE_JIT") else "off",
                ),
            )
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        profile = current_profile()
        if profile == "request":
            return
        t = timeouts(config, profile)
        conn.exec_driver_sql(
            "SELECT set_config('statement_timeout', %(s)s, true), "
            "set_config('lock_timeout', %(l)s, true)",
            {"s": str(t.statement_ms), "l": str(t.lock_ms)},
        )


def is_timeout(error: BaseException) -> bool:
    """Whether a database error is a timeout: a statement cancelled by the statement timeout
    or a lock not granted in time (PostgreSQL), or the write lock not had within the busy
    timeout (SQLite), or a deadlock that the database broke."""
    orig = getattr(error, "orig", error)
    if getattr(orig, "sqlstate", None) in ("57014", "55P03", "40P01"):
        return True
    return type(orig).__module__ == "sqlite3" and str(orig).startswith(
        ("database is locked", "database table is locked")
    )
