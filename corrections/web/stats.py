"""Command-centre statistics (scoped counts; no personal data)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corrections.alerts import rules as alert_rules
from corrections.alerts import service as alerts
from corrections.alerts.models import LIVE_STATUSES, Alert
from corrections.core.auth import Actor
from corrections.core.clock import business_date, start_of_business_day
from corrections.grading import rules as grading_rules
from corrections.grading.models import GradeDecision
from corrections.incidents.models import OPEN_STATES, Incident
from corrections.org.models import Unit
from corrections.persons import rules as person_rules
from corrections.persons.models import SUPERVISED_STATUSES, Person
from corrections.persons.scope import scope_clause
from corrections.risk import queries as risk_queries
from corrections.supervision.models import Obligation


def _counts(rows, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        {"key": str(k), "label_zh": (labels or {}).get(k), "count": n}
        for k, n in sorted(rows, key=lambda r: (-r[1], str(r[0])))
    ]


def overview(session: Session, *, actor: Actor, now: datetime) -> dict[str, Any]:
    scope = scope_clause(actor)
    active = (Person.status.in_(SUPERVISED_STATUSES), scope)
    rules = grading_rules.current()

    def by(column):
        return session.execute(select(column, func.count()).where(*active).group_by(column)).all()

    by_grade = [(g or "ungraded", n) for g, n in by(Person.grade)]
    level_of = {g.id: g.level for g in rules.grades}
    by_level: dict[str, int] = {}
    for grade, n in by_grade:
        level = level_of.get(grade, "ungraded")
        by_level[level] = by_level.get(level, 0) + n
    total = sum(n for _, n in by_grade)
    in_incident = (
        session.scalar(
            select(func.count(func.distinct(Incident.person_id)))
            .join(Person, Person.id == Incident.person_id)
            .where(Incident.state.in_(OPEN_STATES), *active)
        )
        or 0
    )
    offices = session.execute(
        select(Unit.code, Unit.name_zh, func.count(Person.id))
        .join(Person, Person.office_id == Unit.id)
        .where(*active)
        .group_by(Unit.code, Unit.name_zh)
    ).all()
    live = (Alert.status.in_(LIVE_STATUSES), alerts.scope_clause(actor))

    # Outer joins: the system's own alerts (a backup failed) have no person and count too.
    def alerts_by(column):
        return session.execute(
            select(column, func.count())
            .outerjoin(Person, Person.id == Alert.person_id)
            .where(*live)
            .group_by(column)
        ).all()

    month_start = business_date(now).replace(day=1)
    missed = (
        session.scalar(
            select(func.count())
            .select_from(Obligation)
            .join(Person, Person.id == Obligation.person_id)
            .where(Obligation.status == "missed", Obligation.due_on >= month_start, scope)
        )
        or 0
    )
    awaiting = (
        session.scalar(
            select(func.count())
            .select_from(GradeDecision)
            .join(Person, Person.id == GradeDecision.person_id)
            .where(GradeDecision.status == "proposed", scope)
        )
        or 0
    )
    # Alerts raised per Asia/Shanghai day over the last 30 days (in scope).
    today = business_date(now)
    first_day = today - timedelta(days=29)
    per_day = dict.fromkeys((first_day + timedelta(days=i) for i in range(30)), 0)
    for (raised_at,) in session.execute(
        select(Alert.raised_at)
        .outerjoin(Person, Person.id == Alert.person_id)
        .where(Alert.raised_at >= start_of_business_day(first_day), alerts.scope_clause(actor))
    ):
        day = business_date(raised_at)
        if day in per_day:
            per_day[day] += 1
    alert_labels = alert_rules.current()
    kinds = alert_labels.kinds
    categories = person_rules.current().categories
    return {
        "as_of": now,
        "active_persons": total,
        "by_level": _counts(by_level.items(), {k: v["label_zh"] for k, v in rules.levels.items()}),
        "by_grade": _counts(by_grade, {g.id: g.label_zh for g in rules.grades}),
        "by_category": _counts(by(Person.category), {k: v.label_zh for k, v in categories.items()}),
        "by_office": [
            {"key": code, "label_zh": name, "count": n}
            for code, name, n in sorted(offices, key=lambda r: r[0])
        ],
        "open_alerts_by_kind": _counts(
            alerts_by(Alert.kind), {k: v["label_zh"] for k, v in kinds.items()}
        ),
        "open_alerts_by_severity": _counts(
            alerts_by(Alert.severity), alert_labels.labels["severities"]
        ),
        "lost_contact_now": dict(by(Person.status)).get("lost_contact", 0),
        "absconded_now": dict(by(Person.status)).get("absconded", 0),
        "in_open_incident": in_incident,
        "in_control_rate": round((total - in_incident) / total, 4) if total else None,
        "obligations_missed_this_month": missed,
        "grade_decisions_awaiting_approval": awaiting,
        "alerts_per_day": [{"day": d, "count": n} for d, n in per_day.items()],
        # Latest risk band of each active person (empty until a model has scored).
        "risk_bands": risk_queries.band_counts(session, scope),
    }
