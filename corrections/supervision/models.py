from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core import crypto
from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime

# The predicate of uq_obligations_one_open, also the ON CONFLICT target's (spelled once): the
# chained kinds (the grade's intervals, the medical reports of 暂予监外执行) and the summary due
# once before the term ends.
ONE_OPEN_PREDICATE = (
    "status = 'open' AND kind IN "
    "('report', 'check', 'visit', 'health_report', 'medical_reexam', 'term_summary')"
)
# The predicate of uq_detentions_open_person: the person is still held.
HELD_PREDICATE = "end_date IS NULL"
# The events the risk model's features count (risk/features.py ``_events``, in the form its
# statement takes, so that PostgreSQL sees the partial index ix_supervision_events_counted
# answers it; tests/risk/test_features.py proves it does): late reports, failed contacts,
# sanctions, address and job changes, monitor alarms.
COUNTED_EVENTS = (
    "type = 'report' AND CAST((payload ->> 'late') AS BOOLEAN) IS true"
    " OR type IN ('phone_check', 'location_check')"
    " AND CAST((payload ->> 'success') AS BOOLEAN) IS false"
    " OR type = 'contact_attempt_failed' OR type = 'admonition' OR type = 'warning'"
    " OR type = 'police_penalty' OR type = 'address_change' OR type = 'job_change'"
    " OR type = 'monitor_alarm'"
)
# SQLite's form: ->> needs SQLite 3.38, json_extract any (the index is PostgreSQL's tool; SQLite
# only keeps it).
COUNTED_EVENTS_SQLITE = (
    "type = 'report' AND CAST(json_extract(payload, '$.late') AS BOOLEAN) IS true"
    " OR type IN ('phone_check', 'location_check')"
    " AND CAST(json_extract(payload, '$.success') AS BOOLEAN) IS false"
    " OR type = 'contact_attempt_failed' OR type = 'admonition' OR type = 'warning'"
    " OR type = 'police_penalty' OR type = 'address_change' OR type = 'job_change'"
    " OR type = 'monitor_alarm'"
)
# Event payload members encrypted at rest (address_change's new address).
ENCRYPTED_PAYLOAD_KEYS = ("new_address",)


class SupervisionEvent(db.Model):
    """One thing that happened to a person under supervision. Append-only: a correction is a
    new event that references the corrected one, never an edit."""

    __tablename__ = "supervision_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(BigId)
    recorded_by: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # A new address is identity data: encrypted inside the payload like the person's own.
    payload: Mapped[dict[str, Any]] = mapped_column(
        crypto.JSONWithEncryptedKeys("supervision_events.payload", ENCRYPTED_PAYLOAD_KEYS),
        default=dict,
    )
    # No foreign key to the event log (here and in sanction_decisions, obligations): on
    # PostgreSQL it is partitioned by month of recording, whose id alone is no key there, and an
    # archived month is detached; the log is append-only, so an id once given stays true.
    corrects_id: Mapped[int | None] = mapped_column(BigId)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_supervision_events_person_occurred", "person_id", "occurred_at"),
        # Who corrected an event (features, the event list). At most one correction per event
        # and a retried request never recorded twice are the claims' unique keys below: a
        # unique index of a partitioned table holds only within a month.
        Index(
            "ix_supervision_events_corrects",
            "corrects_id",
            postgresql_where=text("corrects_id IS NOT NULL"),
            sqlite_where=text("corrects_id IS NOT NULL"),
        ),
        # Only the events the risk features count, by when they occurred (migration 0032):
        # the nightly features read those of every active person within 180 days.
        Index(
            "ix_supervision_events_counted",
            "occurred_at",
            postgresql_where=text(COUNTED_EVENTS),
            sqlite_where=text(COUNTED_EVENTS_SQLITE),
        ),
    )


class SupervisionEventKey(db.Model):
    """The Idempotency-Key an event was recorded under, unique per user across every month
    of the log. Written by the database itself (a trigger on the event insert, migration
    0030), so the event's one statement claims it: a retry fails on this key, and the first
    event is found from here."""

    __tablename__ = "supervision_event_keys"

    recorded_by_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    idempotency_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupervisionEventCorrection(db.Model):
    """At most one correction per event (corrections form a chain, not a tree), across every
    month of the log; written by the same trigger as :class:`SupervisionEventKey`."""

    __tablename__ = "supervision_event_corrections"

    corrects_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigId)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SanctionDecision(db.Model):
    """Who decided a sanction, on what legal ground and on what evidence (Art. 28)."""

    __tablename__ = "sanction_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(BigId, unique=True)  # the event log: no foreign key
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    decided_by_id: Mapped[int | None] = mapped_column(BigId)
    decided_by: Mapped[str] = mapped_column(String(64))
    decider_level: Mapped[str] = mapped_column(String(16))
    decider_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    legal_ground: Mapped[str] = mapped_column(Text)
    evidence_event_ids: Mapped[list[int]] = mapped_column(JSON)
    document_number: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The article the level came from and the rules versions in force.
    article: Mapped[str | None] = mapped_column(String(200))
    rules_version: Mapped[str | None] = mapped_column(String(100))
    # 提请治安管理处罚: a copy goes to the procuratorate (实施办法 36). Marker for the exchange
    # outbox (a later issue) to pick up: decisions with this set and not yet sent.
    notify_procuratorate: Mapped[bool] = mapped_column(Boolean, default=False)


class Obligation(db.Model):
    """Something due from (or, for visits, about) a person, derived from their grade.

    Interval kinds (report, check, visit) have a rolling window that opens the day after the
    last fulfilment; hour kinds (education, service) have one window per calendar month.
    Windows are Asia/Shanghai calendar days, both ends included.
    """

    __tablename__ = "obligations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    kind: Mapped[str] = mapped_column(String(16))
    opens_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    grade: Mapped[str | None] = mapped_column(String(20))
    hours_required: Mapped[float | None] = mapped_column(Float)
    hours_done: Mapped[float | None] = mapped_column(Float)
    fulfilled_by_event_id: Mapped[int | None] = mapped_column(BigId)  # no foreign key: see above
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    # When the sweep found it missed: the sweep raises alerts for what it marked in this run.
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One window per month for the hour kinds, so planning twice plans once.
        Index(
            "uq_obligations_month",
            "person_id",
            "kind",
            "opens_on",
            unique=True,
            postgresql_where=text("kind IN ('education', 'service')"),
            sqlite_where=text("kind IN ('education', 'service')"),
        ),
        # The sweep's work list: open obligations by due day, and kind (each of the sweep's
        # passes marks some kinds: the others are passed over in the index, not visited in
        # the table, where the rows the pass before marked are still found: migration 0033).
        Index(
            "ix_obligations_open_due",
            "due_on",
            "kind",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # At most one open interval obligation per person and kind: no duplicate, no gap.
        Index(
            "uq_obligations_one_open",
            "person_id",
            "kind",
            unique=True,
            postgresql_where=text(ONE_OPEN_PREDICATE),
            sqlite_where=text(ONE_OPEN_PREDICATE),
        ),
        Index("ix_obligations_person_kind_due", "person_id", "kind", "due_on"),
        # What a sweep run marked missed (its alerts are raised from these).
        Index(
            "ix_obligations_missed_at",
            "missed_at",
            postgresql_where=text("missed_at IS NOT NULL"),
            sqlite_where=text("missed_at IS NOT NULL"),
        ),
    )


class TravelPermit(db.Model):
    """Permission to leave the city or county (外出, Art. 27)."""

    __tablename__ = "travel_permits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    destination: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    approval_level: Mapped[str] = mapped_column(String(16))
    # A city approval is notified to the procuratorate (实施办法 27). Marker for the exchange
    # outbox (a later issue) to pick up: approved permits with this set and not yet sent.
    notify_procuratorate: Mapped[bool] = mapped_column(Boolean, default=False)
    # The decision function's output: conditions while away (from the grade), the reasons
    # with their articles, and the rules versions it used.
    conditions: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    decision_reasons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=list)
    rules_version: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(BigId)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(BigId)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class MonitoringPeriod(db.Model):
    """A period of electronic monitoring (电子定位装置, Art. 29): at most 3 months each."""

    __tablename__ = "monitoring_periods"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    ground: Mapped[str] = mapped_column(String(40))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    approved_by_id: Mapped[int | None] = mapped_column(BigId)
    approved_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    extends_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_periods.id"))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removal_reason: Mapped[str | None] = mapped_column(Text)
    # The rules files' versions the decision was taken under (core.ruleset_store.versions).
    rules_version: Mapped[str | None] = mapped_column(String(100))


class PersonTransfer(db.Model):
    """A change of the place of supervision (变更执行地)."""

    __tablename__ = "person_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    from_office_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    to_office_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    destination: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    report_by: Mapped[date | None] = mapped_column(Date)
    # The written decision the transfer rests on (变更执行地决定书).
    document_number: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The rules files' versions the decision was taken under (core.ruleset_store.versions).
    rules_version: Mapped[str | None] = mapped_column(String(100))


class TermEnd(db.Model):
    """How a person's correction ended: discharge (解除矫正) or termination (终止)."""

    __tablename__ = "term_ends"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    certificate_number: Mapped[str | None] = mapped_column(String(64))
    # What grounds a termination: the court ruling, the custody decision or the death record.
    document_number: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    ended_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The rules files' versions the decision was taken under (core.ruleset_store.versions).
    rules_version: Mapped[str | None] = mapped_column(String(100))


class Detention(db.Model):
    """The person held by another authority (拘留, 强制隔离戒毒, 刑事强制措施 ...): from
    ``start_date`` until the release day ``end_date`` nothing falls due and nothing is missed;
    on release what is due is planned again from that day. At most one open per person."""

    __tablename__ = "detentions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    # The release day (None while held).
    end_date: Mapped[date | None] = mapped_column(Date)
    # The authority that decided it and its document (决定书) number, as the notice gives them.
    authority: Mapped[str] = mapped_column(String(100))
    document_number: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(BigId)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_detentions_open_person",
            "person_id",
            unique=True,
            postgresql_where=text(HELD_PREDICATE),
            sqlite_where=text(HELD_PREDICATE),
        ),
    )
