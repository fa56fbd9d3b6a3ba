from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core import crypto
from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime

# The predicate of uq_correction_plans_current (one current plan per person).
CURRENT_PLAN_PREDICATE = "status = 'current'"


class Announcement(db.Model):
    """An intake (入矫宣告) or discharge announcement (解矫宣告): when, where, who presided and
    who attended. At most one of each kind per person."""

    __tablename__ = "procedure_announcements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    kind: Mapped[str] = mapped_column(String(16))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200))
    presided_by: Mapped[str] = mapped_column(String(100))
    # [{"name", "capacity"}]: who attended besides the person (team members, family ...).
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(BigId)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("uq_procedure_announcements_person_kind", "person_id", "kind", unique=True),
    )


class TeamMember(db.Model):
    """A member of a person's correction team (矫正小组). A removed member stays, with when and
    by whom; the team is the members not removed."""

    __tablename__ = "correction_team_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    # A third party's identity: encrypted at rest like the person's family contact.
    name: Mapped[str] = mapped_column(crypto.EncryptedString("correction_team_members.name"))
    phone: Mapped[str | None] = mapped_column(
        crypto.EncryptedString("correction_team_members.phone")
    )
    gender: Mapped[str] = mapped_column(String(8))
    organisation: Mapped[str | None] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class CorrectionPlan(db.Model):
    """One version of a person's individual correction plan (矫正方案): needs, measures and the
    next review day. A new version supersedes the current one; a grade change marks the current
    one due for review."""

    __tablename__ = "correction_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per person
    status: Mapped[str] = mapped_column(String(16))
    needs: Mapped[str] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str | None] = mapped_column(Text)
    next_review_on: Mapped[date] = mapped_column(Date)
    # Set when something makes a review due before next_review_on (a grade change).
    review_due_kind: Mapped[str | None] = mapped_column(String(24))
    review_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due_inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(BigId)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("correction_plans.id"))
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("uq_correction_plans_person_number", "person_id", "number", unique=True),
        Index(
            "uq_correction_plans_current",
            "person_id",
            unique=True,
            postgresql_where=text(CURRENT_PLAN_PREDICATE),
            sqlite_where=text(CURRENT_PLAN_PREDICATE),
        ),
    )


class InvestigationAssessment(db.Model):
    """The investigation assessment (调查评估) the decision organ asked for before deciding on
    community correction: who asked, on which document, and (once finished) the conclusion and
    to whom it was submitted. At most one per person."""

    __tablename__ = "investigation_assessments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requesting_document: Mapped[str] = mapped_column(String(64))
    requested_on: Mapped[date | None] = mapped_column(Date)
    conclusion: Mapped[str | None] = mapped_column(String(16))
    finished_on: Mapped[date | None] = mapped_column(Date)
    submitted_to: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class ExitBan(db.Model):
    """The exit ban (不准出境) filed with the public-security exit-entry office at intake, and
    its lifting (撤销报备) when the term ends. At most one per person."""

    __tablename__ = "exit_bans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    filed_on: Mapped[date] = mapped_column(Date)
    filed_with: Mapped[str] = mapped_column(String(200))
    document_number: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Opened by the end of the term (which kind of end), then done by the lifting.
    lift_due_kind: Mapped[str | None] = mapped_column(String(24))
    lift_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_on: Mapped[date | None] = mapped_column(Date)
    lift_document_number: Mapped[str | None] = mapped_column(String(64))
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
