"""The event log's months on PostgreSQL: ``supervision_events`` is partitioned by range of
``recorded_at``, one partition per calendar month in Asia/Shanghai, in the schema
``event_partitions`` (migration 0030).

Why ``recorded_at``: it is the server's clock when the row is written, so it only moves
forward: the months created ahead always take new rows, and a month that is detached for the
archive never receives another row (an event recorded today about an old day lands in
today's month). Its primary key is (id, recorded_at), as PostgreSQL asks.

A row whose month has no partition (history imported or generated ahead of the job) goes to
the default partition; creating that month moves such rows into it. Elsewhere (SQLite) the log
is one plain table and everything here does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor
from corrections.core.clock import BUSINESS_TZ, add_months, business_date
from corrections.core.db import is_timeout
from corrections.core.errors import Conflict, NotFound
from corrections.core.i18n import _
from corrections.persons.models import SUPERVISED_STATUSES

log = logging.getLogger(__name__)
# How long a partition's DDL waits for the event log's exclusive lock (see _short_lock).
DDL_LOCK_TIMEOUT = "2s"

PARENT = "supervision_events"
SCHEMA = "event_partitions"
# Where a detached month waits for its archive copy (pg_dump -t) before it is dropped.
ARCHIVE_SCHEMA = "event_archive"
DEFAULT = "supervision_events_default"


_IN_MONTH = "recorded_at >= CAST(:lo AS timestamptz) AND recorded_at < CAST(:hi AS timestamptz)"
_WAITING = f"SELECT 1 FROM {SCHEMA}.{DEFAULT} WHERE {_IN_MONTH} LIMIT 1"  # noqa: S608
_MOVE = (
    f"WITH moved AS (DELETE FROM {SCHEMA}.{DEFAULT} WHERE {_IN_MONTH} RETURNING *) "  # noqa: S608
    f"INSERT INTO {SCHEMA}.{{name}} SELECT * FROM moved"
)
_WAITING_MONTHS = (
    "SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'Asia/Shanghai') "  # noqa: S608
    f"FROM {SCHEMA}.{DEFAULT}"
)


def month_of(at: datetime) -> date:
    """The first day of the business month ``at`` falls in."""
    return business_date(at).replace(day=1)


def name_of(month: date) -> str:
    return f"supervision_events_{month.year:04d}_{month.month:02d}"


def bounds(month: date) -> tuple[str, str]:
    """The partition's range as literals: midnight of the 1st in Asia/Shanghai, both months."""

    def start(d: date) -> str:
        return datetime(d.year, d.month, 1, tzinfo=BUSINESS_TZ).isoformat()

    return start(month), start(add_months(month, 1))


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": PARENT}
    ).scalar()
    return kind == "p"


def existing(conn: Connection) -> set[str]:
    """The names of the attached partitions (the default one included)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": PARENT},
    )
    return {r[0] for r in rows}


def create_months(conn: Connection, months: list[date]) -> list[str]:
    """Create the partitions of ``months`` that do not exist yet (idempotent); returns the
    names created. Rows of such a month waiting in the default partition move into it."""
    if not is_partitioned(conn):
        return []
    have = existing(conn)
    created = []
    for month in sorted(set(months)):
        name = name_of(month)
        if name in have:
            continue
        try:
            with conn.begin_nested():
                _create_month(conn, month, name)
        except OperationalError as exc:
            if not is_timeout(exc):
                raise
            # The log is busy (a backup's dump, a long read): the DDL's exclusive lock would
            # queue every event behind it. The months are made ahead; the next run makes it.
            log.warning("event log busy: partition %s not created this run", name)
            continue
        created.append(name)
    return created


def _short_lock(conn: Connection) -> None:
    """The DDL of a partition takes the event log's exclusive lock: wait for it only
    :data:`DDL_LOCK_TIMEOUT`, for while it waits every event's statement waits behind it."""
    conn.execute(text(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT}'"))


def _create_month(conn: Connection, month: date, name: str) -> None:
    _short_lock(conn)
    lo, hi = bounds(month)
    # Names and bounds here are built from dates and constants, never from input.
    waiting = conn.execute(text(_WAITING), {"lo": lo, "hi": hi}).first()
    if waiting is None:
        conn.execute(
            text(
                f"CREATE TABLE {SCHEMA}.{name} PARTITION OF {PARENT} "
                f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
            )
        )
    else:
        # The default partition holds rows of this month: a partition made on top of it
        # is refused, so the month is filled beside it and then attached.
        conn.execute(
            text(
                f"CREATE TABLE {SCHEMA}.{name} "
                f"(LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
        )
        moved = _MOVE.replace("{name}", name)
        conn.execute(text(moved), {"lo": lo, "hi": hi})
        conn.execute(
            text(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {SCHEMA}.{name} "
                f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
            )
        )


def waiting_months(conn: Connection) -> list[date]:
    """The months of the rows in the default partition (none, once the job has run)."""
    rows = conn.execute(text(_WAITING_MONTHS))
    return [r[0].date() for r in rows]


def create_ahead(session: Session, *, now: datetime, ahead: int) -> list[str]:
    """The scheduled job: this month's partition and the next ``ahead`` months', and the
    months of any rows waiting in the default partition. Idempotent; nothing on SQLite."""
    conn = session.connection()
    if not is_partitioned(conn):
        return []
    this = month_of(now)
    months = [add_months(this, k) for k in range(ahead + 1)]
    return create_months(conn, months + waiting_months(conn))


@dataclass(frozen=True)
class Month:
    name: str
    month: date | None  # None: the default partition
    rows: int  # the planner's estimate (pg_class.reltuples; -1 never analysed)
    bytes: int


def months(session: Session) -> list[Month]:
    """The attached partitions, oldest first, with their estimated rows and total size."""
    conn = session.connection()
    if not is_partitioned(conn):
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"
        ),
        {"t": PARENT},
    )
    out = []
    for name, tuples, size in rows:
        month = None
        if name != DEFAULT:
            year, mon = name.rsplit("_", 2)[-2:]
            month = date(int(year), int(mon), 1)
        out.append(Month(name, month, int(tuples), int(size)))
    return sorted(out, key=lambda m: (m.month is None, m.month or date.min))


def detach(
    session: Session,
    *,
    month: date,
    now: datetime,
    retention_months: int,
    actor: Actor,
    force: bool = False,
    reason: str | None = None,
) -> str:
    """Detach one month of the log for the archive: the partition leaves the table and moves
    to the schema ``event_archive`` (copy it with ``pg_dump -t``, then drop it). Refused for a
    month not older than ``retention_months`` before this one, and for one holding events of
    persons still under supervision unless ``force`` (with a ``reason``, audited). The month's
    idempotency and correction claims are deleted with it. Audited."""
    conn = session.connection()
    if not is_partitioned(conn):
        raise Conflict(_("The event log is partitioned only on PostgreSQL."))
    month = month.replace(day=1)
    oldest_kept = add_months(month_of(now), -retention_months)
    if month >= oldest_kept:
        raise Conflict(
            _(
                "{month} is within the retention of {months} months: only months before "
                "{oldest} can be detached.",
                month=month.strftime("%Y-%m"),
                months=retention_months,
                oldest=oldest_kept.strftime("%Y-%m"),
            )
        )
    name = name_of(month)
    if name not in existing(conn):
        raise NotFound(
            _("No partition of the event log for {month}.", month=month.strftime("%Y-%m"))
        )
    # A person still under supervision would lose part of their own record (hostile review:
    # a five-year probation outlives the default retention).
    open_cases = conn.execute(
        text(
            f"SELECT count(DISTINCT e.person_id) FROM {SCHEMA}.{name} e "  # noqa: S608
            "JOIN persons p ON p.id = e.person_id WHERE p.status IN :open"
        ).bindparams(bindparam("open", expanding=True)),
        {"open": list(SUPERVISED_STATUSES)},
    ).scalar_one()
    if open_cases and not force:
        raise Conflict(
            _(
                "{month} holds events of {count} persons still under supervision: their "
                "records would lose them. Detach it once their cases have ended, or give "
                "--force with a reason.",
                month=month.strftime("%Y-%m"),
                count=open_cases,
            )
        )
    _short_lock(conn)
    try:
        conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {SCHEMA}.{name}"))
    except OperationalError as exc:
        if not is_timeout(exc):
            raise
        raise Conflict(
            _("The event log is busy (a backup or a long read): try again in a quiet hour.")
        ) from None
    lo, hi = bounds(month)
    # The month's claims go with it: a retry of an archived event's key is months late.
    for claims in ("supervision_event_keys", "supervision_event_corrections"):
        conn.execute(text(f"DELETE FROM {claims} WHERE {_IN_MONTH}"), {"lo": lo, "hi": hi})  # noqa: S608
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {ARCHIVE_SCHEMA}"))
    conn.execute(text(f"ALTER TABLE {SCHEMA}.{name} SET SCHEMA {ARCHIVE_SCHEMA}"))
    audit.record(
        session,
        actor=actor,
        action="events.detach",
        detail={
            "month": month.strftime("%Y-%m"),
            "table": f"{ARCHIVE_SCHEMA}.{name}",
            "open_cases": open_cases,
            "reason": reason,
        },
        now=now,
    )
    return f"{ARCHIVE_SCHEMA}.{name}"
