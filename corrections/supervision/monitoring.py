"""Electronic monitoring periods (电子定位, 社区矫正法 29): open, extend, remove, list."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.core import clocks, ruleset_store
from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, RuleViolation
from corrections.core.i18n import _
from corrections.grading import service as grading
from corrections.persons import privacy
from corrections.persons.models import Person
from corrections.persons.scope import (
    audit_person,
    get_record_of,
    get_scoped,
    read_scoped,
    require_level,
)
from corrections.supervision.common import current_rules, overlap_days, require_supervised
from corrections.supervision.decisions import require_decision_level
from corrections.supervision.models import (
    MonitoringPeriod,
)

# --- electronic monitoring ---------------------------------------------------------------


def _period_end(period: MonitoringPeriod) -> date:
    return business_date(period.removed_at) if period.removed_at else period.end_date


def _check_period(
    session: Session, person: Person, start: date, end: date, exclude: int | None = None
) -> None:
    limit = clocks.current()["monitoring_period"]
    if end < start:
        raise RuleViolation(_("must not be before start_date"), field="end_date")
    if end > clocks.due("monitoring_period", start, clocks.current()):
        raise RuleViolation(
            _(
                "a monitoring period lasts at most {months} months ({article})",
                months=limit.amount,
                article=limit.article,
            ),
            field="end_date",
        )
    for other in session.scalars(
        select(MonitoringPeriod).where(MonitoringPeriod.person_id == person.id)
    ):
        if other.id != exclude and overlap_days(start, end, other.start_date, _period_end(other)):
            raise Conflict(
                _("Overlaps monitoring period {id}.", id=other.id),
                errors={"start_date": [_("overlaps period {id}", id=other.id)]},
            )


def open_monitoring(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> MonitoringPeriod:
    """Electronic monitoring only on one of the five legal grounds of Art. 29, approved at
    district level, at most three months a period; the grade becomes strict."""
    now = now or now_utc()
    # Locked: periods must not overlap, and the grade moves.
    person = get_scoped(session, actor, person_id, lock=True)
    require_supervised(person)
    require_decision_level(actor, person, "monitoring", _("Electronic monitoring"))
    _check_period(session, person, data["start_date"], data["end_date"])
    period = MonitoringPeriod(
        person_id=person.id,
        ground=data["ground"],
        start_date=data["start_date"],
        end_date=data["end_date"],
        approved_by_id=actor.user_id,
        approved_by=actor.username,
        approved_at=now,
        note=data.get("note"),
        rules_version=ruleset_store.versions(session, now, "supervision", "clocks"),
    )
    session.add(period)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "monitoring.open",
        now=now,
        detail={"period_id": period.id, "ground": period.ground},
    )
    grading.apply_event_kind(
        session,
        actor=actor,
        person=person,
        kind="electronic_monitoring",
        basis=f"monitoring:{period.id}",
        now=now,
    )
    return period


def _period(
    session: Session, actor: Actor, person_id: int, record_id: int
) -> tuple[Person, MonitoringPeriod]:
    return get_record_of(
        session, actor, person_id, MonitoringPeriod, record_id, _("monitoring period"), lock=True
    )


def extend_monitoring(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    period_id: int,
    end_date: date,
    reassessment_note: str,
    now: datetime | None = None,
) -> MonitoringPeriod:
    """An extension is a new period of at most three months, with a reassessment."""
    now = now or now_utc()
    person, period = _period(session, actor, person_id, period_id)
    require_supervised(person)
    require_decision_level(actor, person, "monitoring", _("Extending electronic monitoring"))
    if period.removed_at is not None:
        raise Conflict(_("The period was removed; open a new one instead."))
    if session.scalar(select(MonitoringPeriod.id).where(MonitoringPeriod.extends_id == period.id)):
        raise Conflict(_("The period was already extended; extend the latest one."))
    start = period.end_date + timedelta(days=1)
    _check_period(session, person, start, end_date)
    extension = MonitoringPeriod(
        person_id=person.id,
        ground=period.ground,
        start_date=start,
        end_date=end_date,
        approved_by_id=actor.user_id,
        approved_by=actor.username,
        approved_at=now,
        note=reassessment_note,
        extends_id=period.id,
        rules_version=ruleset_store.versions(session, now, "supervision", "clocks"),
    )
    session.add(extension)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "monitoring.extend",
        now=now,
        detail={"period_id": extension.id, "extends": period.id},
    )
    return extension


def remove_monitoring(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    period_id: int,
    reason: str,
    now: datetime | None = None,
) -> MonitoringPeriod:
    """Removed when no longer needed: the period closes now."""
    now = now or now_utc()
    person, period = _period(session, actor, person_id, period_id)
    require_level(actor, person, "district", _("Removing electronic monitoring"))
    if period.removed_at is not None:
        raise Conflict(_("The period was already removed."))
    period.removed_at, period.removed_by, period.removal_reason = now, actor.username, reason
    session.flush()
    audit_person(
        session, actor, person, "monitoring.remove", now=now, detail={"period_id": period.id}
    )
    return period


def list_monitoring(session: Session, *, actor: Actor, person_id: int) -> list[MonitoringPeriod]:
    person = read_scoped(session, actor, person_id, action="monitoring.list")
    return list(
        session.scalars(
            select(MonitoringPeriod)
            .where(MonitoringPeriod.person_id == person.id)
            .order_by(MonitoringPeriod.start_date)
        )
    )


def monitoring_view(
    session: Session, actor: Actor, period: MonitoringPeriod, today: date
) -> dict[str, Any]:
    """A monitoring period as ``actor`` may see it (notes are typed)."""
    ground = current_rules().monitoring_grounds[period.ground]
    view = {
        c: getattr(period, c)
        for c in (
            "id",
            "person_id",
            "ground",
            "start_date",
            "end_date",
            "approved_by",
            "approved_at",
            "note",
            "extends_id",
            "removed_at",
            "removed_by",
            "removal_reason",
        )
    }
    view["ground_number"] = ground["number"]
    view["ground_label_zh"] = ground["label_zh"]
    view["active"] = period.removed_at is None and period.start_date <= today <= period.end_date
    person = session.get(Person, period.person_id)
    return privacy.present(session, actor, person, "monitoring", view)
