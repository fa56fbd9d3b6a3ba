"""Portable SQL for the few things PostgreSQL and SQLite spell differently."""

from __future__ import annotations

from sqlalchemy import Date, Integer, func, select, types
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import GenericFunction


class add_days(GenericFunction):
    """``date + n days``: PostgreSQL's date arithmetic, SQLite's date() modifier."""

    type = Date()
    inherit_cache = True


@compiles(add_days, "postgresql")
def _add_days_pg(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} + CAST({compiler.process(days, **kw)} AS INTEGER))"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, days = list(element.clauses)
    return (
        f"date({compiler.process(day, **kw)}, "
        f"(CAST({compiler.process(days, **kw)} AS INTEGER) || ' days'))"
    )


class least(GenericFunction):
    """The smaller of two values (PostgreSQL LEAST, SQLite's two-argument MIN)."""

    inherit_cache = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = self.clauses.clauses[0].type if self.clauses.clauses else types.NullType()


@compiles(least, "postgresql")
def _least_pg(element, compiler, **kw):
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element, compiler, **kw):
    return f"MIN({compiler.process(element.clauses, **kw)})"


class days_between(GenericFunction):
    """Whole days from the first date to the second (``later - earlier``)."""

    type = Integer()
    inherit_cache = True


@compiles(days_between, "postgresql")
def _days_between_pg(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


class business_day(GenericFunction):
    """The Asia/Shanghai calendar day of a UTC instant (a ``UTCDateTime`` column). Shanghai
    keeps UTC+8 all year (no daylight saving since 1991), which SQLite's modifier relies on."""

    type = Date()
    inherit_cache = True


@compiles(business_day, "postgresql")
def _business_day_pg(element, compiler, **kw):
    (instant,) = list(element.clauses)
    return f"CAST(timezone('Asia/Shanghai', {compiler.process(instant, **kw)}) AS DATE)"


@compiles(business_day, "sqlite")
def _business_day_sqlite(element, compiler, **kw):
    (instant,) = list(element.clauses)
    return f"date({compiler.process(instant, **kw)}, '+8 hours')"


class json_object(GenericFunction):
    """A JSON object from alternating keys and values (json_build_object / json_object)."""

    type = types.JSON()
    inherit_cache = True


@compiles(json_object, "postgresql")
def _json_object_pg(element, compiler, **kw):
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "sqlite")
def _json_object_sqlite(element, compiler, **kw):
    return f"json_object({compiler.process(element.clauses, **kw)})"


def insert_for(session: Session):
    """The dialect's INSERT construct (both have ``on_conflict_do_nothing``)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def newest_first(partition, *order):
    """``rn``: 1 on each ``partition``'s newest row by ``order`` (columns, newest first):
    filter ``rn == 1`` on the subquery to keep the latest row per person."""
    return (
        func.row_number()
        .over(partition_by=partition, order_by=tuple(c.desc() for c in order))
        .label("rn")
    )


def insert_many(session: Session, table, rows: list[dict]) -> None:
    """Insert many rows into ``table``, returning nothing: PostgreSQL's COPY, elsewhere one
    executemany. For bulk loads (a caseload import): an INSERT per row, or a multi-row INSERT
    whose every placeholder the driver parses, costs seconds per thousand rows; COPY does not.
    Each value goes through its column's type first, as an INSERT would bind it; every row has
    the same keys, and a column left out has no Python-side default (COPY applies only the
    database's own)."""
    if not rows:
        return
    conn = session.connection()
    names = list(rows[0])
    missing = [c.name for c in table.columns if c.name not in names and c.default is not None]
    if missing:
        raise ValueError(f"{table.name}: no value for {missing}, which have Python defaults")
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    columns = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in names)
    statement = (
        f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({columns}) FROM STDIN"
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        value if process is None or value is None else process(value)
                        for value, process in zip((row[n] for n in names), processors, strict=True)
                    ]
                )
    finally:
        cursor.close()


def lock_name(session: Session, name: str) -> None:
    """Hold a lock on ``name`` until the session's transaction ends: two transactions locking
    the same name run one after the other. PostgreSQL: a transaction-level advisory lock
    (keyed on the name's 64-bit hash); SQLite needs none, its transactions take the write lock
    when they begin (``BEGIN IMMEDIATE``, core/db.py), one writer at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))
