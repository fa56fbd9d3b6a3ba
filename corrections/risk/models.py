from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
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
    # [{"feature": name, "value": ..., "typical": ..., "effect": drop in probability}, ...];
    # None: not computed at night (a low score: service.REASONS_AT_NIGHT), computed when the
    # person's score is read (service.reasons_of).
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_risk_scores_person_scored", "person_id", "scored_at"),
        Index("ix_risk_scores_scored_at", "scored_at"),
    )


class RiskMonitoring(db.Model):
    """One month's check of a model on the service's own outcomes (risk/monitoring.py): the
    realised discrimination and calibration of the scores whose 90-day window has closed, and
    the drift (PSI) of each feature and of the score. Figures only: no person."""

    __tablename__ = "risk_monitoring"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))  # the run's month, 2026-11 (Asia/Shanghai)
    model_version: Mapped[str] = mapped_column(ForeignKey("risk_models.version"))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rules_version: Mapped[str] = mapped_column(String(40))
    # The scores evaluated: made in [window_start, window_end), each 90 days past.
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scores: Mapped[int] = mapped_column(Integer, default=0)
    positives: Mapped[int] = mapped_column(Integer, default=0)
    auc: Mapped[float | None] = mapped_column(Float)
    brier: Mapped[float | None] = mapped_column(Float)
    calibration_slope: Mapped[float | None] = mapped_column(Float)
    calibration_intercept: Mapped[float | None] = mapped_column(Float)
    # [{"predicted", "observed", "n"}, ...]: report.calibration's bins.
    calibration_bins: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The card's hold-out figures the thresholds compare with.
    holdout_auc: Mapped[float | None] = mapped_column(Float)
    holdout_brier: Mapped[float | None] = mapped_column(Float)
    # Drift of the latest scoring run (psi_at) against the reference (reference_at).
    psi_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reference_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    psi_score: Mapped[float | None] = mapped_column(Float)
    psi: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # feature -> PSI
    # The reference's bins and shares (feature or "score" -> {kind, edges|categories, shares}).
    reference: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # ok | alert | insufficient
    # [{"check", "value", "threshold", "feature"?}, ...]
    crossed: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    alert_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("month", "model_version"),)
