from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime


class RiskModel(db.Model):
    """A trained model the service knows: registered when first signed here (``risk sign``)
    or activated; at most one active.

    ``sha256`` and ``card_sha256`` are the artifact's and the card's at activation: the scoring
    job refuses an artifact whose files changed since (a swapped or tampered file). ``card``
    holds the card with this instance's signature of it, which the scoring job verifies."""

    __tablename__ = "risk_models"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    card_sha256: Mapped[str] = mapped_column(String(64))
    card: Mapped[dict[str, Any]] = mapped_column(JSON)
    holdout_auc: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_by: Mapped[str | None] = mapped_column(String(64))
    activation_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_risk_models_one_active",
            "active",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )


class RiskScore(db.Model):
    """One person's score from one run: never changes a grade or a status by itself."""

    __tablename__ = "risk_scores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model_version: Mapped[str] = mapped_column(ForeignKey("risk_models.version"))
    probability: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(8))
    # [{"feature": name, "value": ..., "typical": ..., "effect": drop in probability}, ...]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_risk_scores_person_scored", "person_id", "scored_at"),
        Index("ix_risk_scores_scored_at", "scored_at"),
    )
