from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db


class DemoTruth(db.Model):
    """What the generator knows and the model must not: for evaluation only."""

    __tablename__ = "demo_truths"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    propensity: Mapped[float] = mapped_column(Float)
    activated_on: Mapped[date] = mapped_column(Date)
    history_from: Mapped[date] = mapped_column(Date)
    history_to: Mapped[date] = mapped_column(Date)
    # [[first day, last day], ...] of the unstable condition, as date ordinals.
    unstable: Mapped[list[list[int]]] = mapped_column(JSON)
    # Date ordinals on which a lost-contact episode began.
    episodes: Mapped[list[int]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)
