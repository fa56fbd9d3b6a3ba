"""A procuratorate's 纠正意见 (correction opinion) or 检察建议 (procuratorial suggestion) to the
bureau, and the bureau's written reply."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime
from corrections.oversight.rules import STATUSES as OPINION_STATUSES

__all__ = ["OPINION_STATUSES", "OversightOpinion"]


class OversightOpinion(db.Model):
    """One document a procuratorate filed: its kind, number and dates, what it is about (a
    district, and within it an office and/or a person), its text, and the reply it asks for
    by ``reply_due_on`` (rules/oversight.yaml). Open until the district (or the city) replies
    in writing; a reply is once."""

    __tablename__ = "oversight_opinions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    # The procuratorate's own number (cited, kept as typed: （2026）东检矫纠字第3号).
    document_number: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date] = mapped_column(Date)
    # When the bureau received it: the reply clock counts from its Asia/Shanghai day.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The subject: always a district; within it an office and/or a person.
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    # Typed text: masked like other typed text for whoever may not see a juvenile subject.
    content: Mapped[str] = mapped_column(Text)
    reply_due_on: Mapped[date] = mapped_column(Date)
    # The article the reply clock rests on and the rules version it was computed under.
    article: Mapped[str] = mapped_column(String(200))
    rules_version: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="open")
    reply: Mapped[str | None] = mapped_column(Text)
    replied_by: Mapped[str | None] = mapped_column(String(64))
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the overdue reply raised its alert (once per opinion).
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # A document is filed once by its agency (a repeat is 409).
        UniqueConstraint("agency_id", "document_number"),
        # The queue (open, oldest first) and the deadline job.
        Index("ix_oversight_opinions_status_received", "status", "received_at"),
    )
