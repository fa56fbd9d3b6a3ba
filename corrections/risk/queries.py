"""Read-side queries on stored scores (no modelling libraries: the statistics page uses them)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corrections.core.sqlfuncs import newest_first
from corrections.persons.models import Person
from corrections.risk.models import RiskScore
from corrections.risk.rules import band_labels


def latest_scores():
    """Each person's latest score (a subquery with ``person_id``, ``band``, ``rn`` = 1)."""
    return select(
        RiskScore.person_id,
        RiskScore.band,
        newest_first(RiskScore.person_id, RiskScore.scored_at, RiskScore.id),
    )


def previous_bands(session: Session, before) -> dict[int, str]:
    ranked = latest_scores().where(RiskScore.scored_at < before).subquery()
    return dict(
        session.execute(select(ranked.c.person_id, ranked.c.band).where(ranked.c.rn == 1)).all()
    )


def band_counts(session: Session, *where) -> list[dict]:
    """Active persons (matching ``where``, a scope) by their latest band; [] if none scored."""
    ranked = (
        latest_scores()
        .join(Person, Person.id == RiskScore.person_id)
        .where(Person.status == "active", *where)
        .subquery()
    )
    counts = dict(
        session.execute(
            select(ranked.c.band, func.count()).where(ranked.c.rn == 1).group_by(ranked.c.band)
        ).all()
    )
    if not counts:
        return []
    return [
        {"key": b, "label_zh": label, "count": int(counts.get(b, 0))}
        for b, label in band_labels().items()
    ]
