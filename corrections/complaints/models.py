from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime


class Complaint(db.Model):
    """A complaint received by a district (投诉登记) and its answer. It names no person under
    correction; its summary and answer are typed by staff and may still quote someone, so they
    are shown to staff of the district (and the city) only. Only the counts are published."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    # Business dates (Asia/Shanghai).
    received_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    answered_on: Mapped[date | None] = mapped_column(Date)
    answer_note: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The monthly counts select by district and day.
        Index("ix_complaints_district_received", "district_id", "received_on"),
        Index("ix_complaints_district_answered", "district_id", "answered_on"),
    )
