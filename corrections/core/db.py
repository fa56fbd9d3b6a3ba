"""Database session, declarative base and engine settings for SQLite and PostgreSQL."""

from __future__ import annotations

import logging

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


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and transactions that take the write lock up front.

    pysqlite opens transactions lazily and only before DML, so a read-then-write transaction
    can fail with SQLITE_BUSY when another writer commits in between; ``BEGIN IMMEDIATE``
    queues writers behind the busy timeout instead (SQLAlchemy's documented recipe).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # pragma: no cover - driver hook
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        conn.exec_driver_sql("BEGIN IMMEDIATE")
