from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime

# Statuses in which an alert still asks for attention; one such alert per cause.
LIVE_STATUSES = ("open", "acknowledged")
# The unique index's predicate, also the ON CONFLICT target's (spelled once).
LIVE_PREDICATE = "status IN ('open', 'acknowledged')"
# The same for the system's own alerts (no person): NULLs are distinct in a unique index, so
# these have an index of their own.
SYSTEM_LIVE_PREDICATE = f"person_id IS NULL AND {LIVE_PREDICATE}"


class Alert(db.Model):
    """Something the command centre must see: a missed obligation, lost contact, ... or a
    failure of the system itself (a backup, its drill), which has no person.

    A cause is (person, kind, subject): at most one live alert per cause, enforced by a partial
    unique index (one more for the system's alerts), so re-runs and concurrent schedulers
    cannot duplicate.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # None: the system's own alert (a backup failed), seen by the city and administrators.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    kind: Mapped[str] = mapped_column(String(32))
    # What it is about: ("obligation", its id), ("permit", id), ("incident", id), ("person",
    # the person's id), ("job", 0) for the system's alerts (the kind names the job).
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    severity: Mapped[str] = mapped_column(String(16))
    # The list's order, most severe first (rules.SEVERITY_RANK), stored so that an index can
    # give a district's alerts in the order the command centre reads them.
    severity_rank: Mapped[int] = mapped_column(SmallInteger)
    # The person's office and district, copied when the alert is raised (an office moving to
    # another district takes its persons' alerts along: org/structure.py; a transfer, the
    # person's: alerts.follow_person): the scope of a list, answered from the alerts' own
    # index. None for the system's alerts. Copies of the person's, which refers to the units:
    # no foreign key of their own (its check per row was an eighth of a sweep's time).
    office_id: Mapped[int | None] = mapped_column(BigId)
    district_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))
    # Ids, codes and dates only: never personal data.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    ack_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_note: Mapped[str | None] = mapped_column(Text)
    auto_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        Index(
            "uq_alerts_live_cause",
            "person_id",
            "kind",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text(LIVE_PREDICATE),
            sqlite_where=text(LIVE_PREDICATE),
        ),
        Index(
            "uq_alerts_live_system_cause",
            "kind",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text(SYSTEM_LIVE_PREDICATE),
            sqlite_where=text(SYSTEM_LIVE_PREDICATE),
        ),
        Index("ix_alerts_status_severity", "status", "severity", "raised_at"),
        # A scope's alerts in the list's order (most severe, then the longest waiting): a
        # page is an index range, at a million alerts as at a hundred. Live ones (the command
        # centre's list) have indexes of their own, so 10% of the rows are not found among
        # 100%.
        *(
            Index(
                f"ix_alerts_{scope}_order{suffix}",
                f"{scope}_id",
                "severity_rank",
                "raised_at",
                "id",
                postgresql_where=where,
                sqlite_where=where,
            )
            for scope, suffix, where in (
                ("district", "", None),
                ("district", "_live", text(LIVE_PREDICATE)),
                # An office's alerts are a district's few: its live ones are found in its
                # order index without an index of their own (one less to keep on each insert).
                ("office", "", None),
            )
        ),
        # The city's: what was escalated to it.
        Index(
            "ix_alerts_escalated_order",
            "severity_rank",
            "raised_at",
            "id",
            postgresql_where=text("escalation_level >= 1"),
            sqlite_where=text("escalation_level >= 1"),
        ),
        # Every alert a cause ever had (whether to raise it again), and a person's alerts.
        Index("ix_alerts_cause", "person_id", "kind", "subject_type", "subject_id"),
    )


# The live lists newest first (the command centre's and the wall's order: most severe, then
# the newest), which the ascending index gives only by sorting a whole severity.
Index(
    "ix_alerts_district_newest_live",
    Alert.district_id,
    Alert.severity_rank,
    Alert.raised_at.desc(),
    Alert.id.desc(),
    postgresql_where=text(LIVE_PREDICATE),
    sqlite_where=text(LIVE_PREDICATE),
)


class AlertChange(db.Model):
    """Every change of an alert, in order: what the live stream replays (``Last-Event-ID``)."""

    __tablename__ = "alert_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key: a change is written only from the RETURNING of the statement that
    # changed its alert (alerts are never deleted), and the per-row check cost the sweep an
    # eighth of its time at 100,000 persons (migration 0031).
    alert_id: Mapped[int] = mapped_column(BigId, index=True)
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    change: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertStream(db.Model):
    """An open live stream (a slot): counted per user across every worker for the per-user
    cap. Its process renews ``seen_at`` while the stream is open and deletes the row when it
    ends; a row not renewed for a while belongs to a process that died and no longer counts."""

    __tablename__ = "alert_streams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A user's stream, or a wall display's (org/displays.py): counted per user or per display.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    display_id: Mapped[int | None] = mapped_column(ForeignKey("display_tokens.id"), index=True)
    token_id: Mapped[int | None] = mapped_column(BigInteger)
    # host:pid:random of the process serving it (the one that renews it).
    holder: Mapped[str] = mapped_column(String(200), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
