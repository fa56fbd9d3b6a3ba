from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime


class PublicStatistic(db.Model):
    """One published figure (矫务公开): a metric of a month for a district, or for the city
    (``district_id`` NULL), as the job ``public_statistics`` computed it with the disclosure
    rule applied. The public API and page read these rows only, never a personal table."""

    __tablename__ = "public_statistics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The month's first day (Asia/Shanghai calendar).
    period: Mapped[date] = mapped_column(Date, index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    metric: Mapped[str] = mapped_column(String(40))
    # The count, or a rate in tenths of a per cent; NULL when withheld or not applicable.
    value: Mapped[int | None] = mapped_column(Integer)
    # What is shown: "123", "4.5%", "<10", "*", "—".
    display: Mapped[str] = mapped_column(String(16))
    # None (shown), small (1..threshold-1), withheld (complementary), derived (a rate of a
    # withheld count), not_applicable (a rate over 0).
    suppressed: Mapped[str | None] = mapped_column(String(16))
    rules_version: Mapped[str] = mapped_column(String(80))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
