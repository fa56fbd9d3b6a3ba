"""Raising an alert directly, for tests that need one without the event that would raise it."""

from __future__ import annotations

from datetime import datetime

from corrections.alerts import service as alerts
from corrections.core.db import db


def raise_alarm(
    app,
    person_id: int,
    now: datetime,
    *,
    kind: str = "monitor_alarm",
    subject_type: str = "event",
    subject_ids: range | list[int] = (999,),
    detail: dict | None = None,
) -> None:
    """Raise one alert per subject id for ``person_id`` at ``now`` and commit (an electronic
    monitoring alarm by default: critical, and nothing else resolves it)."""
    with app.app_context():
        for subject_id in subject_ids:
            alerts.raise_one(
                db.session,
                person_id=person_id,
                kind=kind,
                subject_type=subject_type,
                subject_id=subject_id,
                detail=detail or {},
                now=now,
            )
        db.session.commit()
        db.session.remove()
