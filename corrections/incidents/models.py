from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime

OPEN_STATES = ("overdue", "lost_contact", "absconded")
# Predicates of the partial unique indexes, also the ON CONFLICT targets' (spelled once).
OPEN_INCIDENT_PREDICATE = "state <> 'closed'"
PROPOSAL_BASIS_PREDICATE = "basis IS NOT NULL"
LIVE_FLAG_PREDICATE = "status IN ('proposed', 'active')"


class Incident(db.Model):
    """One episode of lost contact (失去联系) and absconding (脱管): overdue -> lost_contact ->
    absconded -> closed. At most one open episode per person."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    # What opened it: ("obligation", id), ("event", id) or ("manual", 0).
    trigger_type: Mapped[str] = mapped_column(String(16))
    trigger_id: Mapped[int] = mapped_column(Integer)
    # When contact was due and did not happen (the end of the missed window's last day).
    overdue_since: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(64))
    # When supervision was lost (脱离监管): the missed obligation's due time or the first failed
    # contact since the last successful one, whichever is earlier; the absence counts from it.
    # None on episodes opened before it was recorded (then overdue_since).
    out_of_supervision_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last successful contact before the episode (None: none ever recorded).
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lost_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    absconded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    search_record: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_reason: Mapped[str | None] = mapped_column(String(16))
    close_note: Mapped[str | None] = mapped_column(Text)
    absence_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        Index(
            "uq_incidents_open_person",
            "person_id",
            unique=True,
            postgresql_where=text(OPEN_INCIDENT_PREDICATE),
            sqlite_where=text(OPEN_INCIDENT_PREDICATE),
        ),
    )


class IncidentProposal(db.Model):
    """A sanction proposed with its article and evidence (admonition, warning, revocation, return
    to custody, police penalty): from an episode's absence, or (no episode) from the ladder,
    a 禁止令 breach or late intake; decided by a person, never applied automatically."""

    __tablename__ = "incident_proposals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    absence_days: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The article it rests on and the rules versions it was made under (incidents+sanctions).
    article: Mapped[str | None] = mapped_column(String(120))
    rules_version: Mapped[str | None] = mapped_column(String(80))
    # What ground proposed it (ladder proposals; None for an episode's): never proposed twice.
    basis: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The officer who proposed it with evidence (POST .../proposals); None: the rules did.
    proposed_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The person's statement (陈述/申辩) taken before the decision, or why it could not be.
    statement: Mapped[str | None] = mapped_column(Text)
    statement_not_taken_reason: Mapped[str | None] = mapped_column(Text)
    decision_rules_version: Mapped[str | None] = mapped_column(String(80))
    # The number of the 建议书 an accepted revocation / custody proposal went to the court with.
    decision_document_number: Mapped[str | None] = mapped_column(String(64))
    # The court's (or deciding authority's) ruling on an accepted revocation / return-to-custody
    # proposal, as its notice came in (exchange/inbound.py): granted | refused, the day, the
    # document, when it was recorded (社区矫正法 48, 49).
    court_ruling: Mapped[str | None] = mapped_column(String(16))
    court_ruled_on: Mapped[date | None] = mapped_column(Date)
    court_document_number: Mapped[str | None] = mapped_column(String(64))
    court_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("incident_id", "kind"),
        Index(
            "uq_incident_proposals_person_basis",
            "person_id",
            "basis",
            unique=True,
            postgresql_where=text(PROPOSAL_BASIS_PREDICATE),
            sqlite_where=text(PROPOSAL_BASIS_PREDICATE),
        ),
    )


class Flag(db.Model):
    """Flagged control (挂牌管控) at district or township level, reviewed monthly, closed by
    conversion (转化)."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))  # district | office
    status: Mapped[str] = mapped_column(String(16))  # proposed | active | converted | declined
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str | None] = mapped_column(String(64))  # what proposed it, for dedup
    responsible_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_due_on: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(64))
    last_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviews: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rules_version: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        # One live flag per person (proposed or active).
        Index(
            "uq_flags_live_person",
            "person_id",
            unique=True,
            postgresql_where=text(LIVE_FLAG_PREDICATE),
            sqlite_where=text(LIVE_FLAG_PREDICATE),
        ),
    )
