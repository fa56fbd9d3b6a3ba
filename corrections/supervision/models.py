from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime


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
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_supervision_events_person_occurred", "person_id", "occurred_at"),
        Index("ix_supervision_events_type_occurred", "type", "occurred_at"),
    )
