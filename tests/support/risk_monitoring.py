"""The risk model's monitoring in tests (risk/monitoring.py): scores stored as the nightly
scoring would have stored them, and a registered model whose scores drifted."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from corrections.core.clock import BUSINESS_TZ, start_of_business_day
from corrections.core.db import db
from corrections.demo.generator import build_persons
from corrections.risk import features
from corrections.risk import service as risk
from corrections.risk.models import RiskModel, RiskScore
from tests.conftest import TEST_NOW

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
# The 1st of December, 04:00 in Asia/Shanghai (the job's trigger): it checks August's scores.
RUN_AT = datetime(2026, 12, 1, 4, 0, tzinfo=BUSINESS_TZ)


def nightly(day: date) -> datetime:
    """When the nightly scoring runs on ``day`` (02:00 in Asia/Shanghai)."""
    return start_of_business_day(day) + timedelta(hours=2)


def store(session, model: str, at: datetime, person_ids, probabilities) -> None:
    session.execute(
        insert(RiskScore),
        [
            {
                "person_id": int(pid),
                "scored_at": at,
                "model_version": model,
                "probability": round(float(p), 6),
                "band": "low",
                "reasons": [],
            }
            for pid, p in zip(person_ids, probabilities, strict=True)
        ],
    )


@pytest.fixture
def drifted(app, city):
    """A small generated city and a registered active model whose scores jumped between its
    first run (July) and its latest (November): the score's PSI is far past 0.25."""
    card = json.loads((REPO_MODELS / risk.DEFAULT_MODEL / "card.json").read_text("utf-8"))
    with app.app_context():
        build_persons(db.session, count=150, seed=23, now=TEST_NOW, history_months=6)
        db.session.add(
            RiskModel(
                version="drift-test",
                sha256="0" * 64,
                card_sha256="0" * 64,
                card=card,
                holdout_auc=card["metrics"]["auc"],
                active=True,
                registered_at=TEST_NOW - timedelta(days=200),
            )
        )
        db.session.flush()
        rng = np.random.default_rng(3)
        for day, low, high in ((date(2026, 7, 1), 0.01, 0.10), (date(2026, 11, 20), 0.3, 0.6)):
            at = nightly(day)
            ids = db.session.scalars(features.active_at(at)).all()
            store(db.session, "drift-test", at, ids, rng.uniform(low, high, len(ids)))
        db.session.commit()
        db.session.remove()
