from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime
from corrections.org.models import Unit

# Statuses in which a person is still under this office's supervision; one open record per ID.
OPEN_STATUSES = ("pending_intake", "active", "lost_contact", "absconded")
# Statuses in which obligations run and months are assessed (intake reported, term not over).
SUPERVISED_STATUSES = ("active", "lost_contact", "absconded")


class Person(db.Model):
    """A person under community correction (社区矫正对象)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(8))
    id_number: Mapped[str] = mapped_column(String(18))
    date_of_birth: Mapped[date] = mapped_column(Date)
    juvenile: Mapped[bool] = mapped_column(Boolean, default=False)

    category: Mapped[str] = mapped_column(String(32), index=True)
    crime_type: Mapped[str] = mapped_column(String(40))
    offence_date: Mapped[date | None] = mapped_column(Date)
    judgment_date: Mapped[date] = mapped_column(Date)
    judgment_effective_date: Mapped[date] = mapped_column(Date)
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    intake_deadline: Mapped[date] = mapped_column(Date)
    has_guarantor: Mapped[bool] = mapped_column(Boolean, default=False)

    office_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Denormalised from the office so district-wide, set-based queries need no join.
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)

    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    employment: Mapped[str | None] = mapped_column(String(20))
    housing: Mapped[str | None] = mapped_column(String(20))
    family_contact_name: Mapped[str | None] = mapped_column(String(50))
    family_contact_phone: Mapped[str | None] = mapped_column(String(20))

    status: Mapped[str] = mapped_column(String(20), index=True)
    # Pre-sentence / intake risk assessment (调查评估): low, medium, high.
    intake_risk: Mapped[str | None] = mapped_column(String(8))
    # Current grade, kept equal to the latest effective grade decision (derivable from them).
    grade: Mapped[str | None] = mapped_column(String(20), index=True)
    grade_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Loaded on access: units are few and stay in the identity map, so hot paths that do not
    # show the office (recording an event) do not pay for the join.
    office: Mapped[Unit] = relationship(foreign_keys=[office_id], lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index(
            "uq_persons_open_id_number",
            "id_number",
            unique=True,
            postgresql_where=text(
                "status IN ('pending_intake', 'active', 'lost_contact', 'absconded')"
            ),
            sqlite_where=text(
                "status IN ('pending_intake', 'active', 'lost_contact', 'absconded')"
            ),
        ),
        Index("ix_persons_id_number", "id_number"),
    )


class PersonStatusChange(db.Model):
    """Why and by whom a person's status changed; status changes only through the service."""

    __tablename__ = "person_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_username: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
