"""Oversight's scheduled work: a reply overdue raises ``oversight_reply_overdue``, once per
opinion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from corrections.alerts import service as alerts
from corrections.oversight import service
from corrections.oversight.models import OversightOpinion


def reply_deadlines(ctx) -> dict[str, Any]:
    """Alert once per open opinion whose reply day has passed: about a person, their
    district's command centre sees it; about a district or an office (no person), the city
    and the administrators (the system's alerts), while the district's queue marks it overdue."""
    session, now = ctx.session, ctx.now
    overdue = service.overdue_opinions(session, now=now)
    for opinion_id, person_id, kind in overdue:
        alerts.raise_one(
            session,
            person_id=person_id,
            kind=service.ALERT_KIND,
            subject_type=service.ALERT_SUBJECT,
            subject_id=opinion_id,
            detail={"opinion_kind": kind},
            now=now,
        )
    if overdue:
        session.execute(
            update(OversightOpinion)
            .where(OversightOpinion.id.in_([row[0] for row in overdue]))
            .values(overdue_alerted_at=now)
            .execution_options(synchronize_session=False)
        )
    return {"overdue": len(overdue)}
