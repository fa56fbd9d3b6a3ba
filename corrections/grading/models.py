from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime

# imported: the grade a person had in the system a caseload was carried over from
# (corrections persons import), with the source file's sha256 in its inputs.
DECISION_KINDS = ("intake", "automatic_stricter", "proposed_looser", "manual", "imported")
DECISION_STATUSES = ("proposed", "approved", "rejected", "effective")


class GradeDecision(db.Model):
    """A change (or confirmation) of a person's grade, with everything needed to explain it."""

    __tablename__ = "grade_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), index=True)
    from_grade: Mapped[str | None] = mapped_column(String(20))
    to_grade: Mapped[str] = mapped_column(String(20))
    rules_version: Mapped[str] = mapped_column(String(90))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    # What the decision rests on, for idempotency: "event:42", "assessment:2026-10" ...
    basis: Mapped[str | None] = mapped_column(String(64))
    proposed_by_id: Mapped[int | None] = mapped_column(BigId)
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(BigId)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One open proposal per person at a time.
        Index(
            "uq_grade_decisions_open_proposal",
            "person_id",
            unique=True,
            postgresql_where=text("status = 'proposed'"),
            sqlite_where=text("status = 'proposed'"),
        ),
        # A job re-run or a replayed event never decides twice on the same basis.
        Index(
            "uq_grade_decisions_basis",
            "person_id",
            "basis",
            unique=True,
            postgresql_where=text("basis IS NOT NULL"),
            sqlite_where=text("basis IS NOT NULL"),
        ),
    )


class MonthlyAssessment(db.Model):
    """One person's conduct score for one Asia/Shanghai calendar month (月度考核)."""

    __tablename__ = "monthly_assessments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    month: Mapped[date] = mapped_column(Date)
    grade: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(Integer)
    rating: Mapped[str] = mapped_column(String(8))
    evidence: Mapped[int] = mapped_column(Integer)
    deductions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules_version: Mapped[str] = mapped_column(String(90))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("person_id", "month"),)
