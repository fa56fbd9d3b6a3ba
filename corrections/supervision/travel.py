"""Travel permits (外出, 实施办法 26-28): request, decide, depart and return. The decision
itself is the pure function ``travel_rules.decide``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, RuleViolation
from corrections.core.i18n import ZH, Message, _, bilingual
from corrections.exchange import triggers as exchange
from corrections.grading import rules as grading_rules
from corrections.persons import listing, privacy
from corrections.persons.models import Person
from corrections.persons.scope import (
    audit_person,
    get_record_of,
    get_scoped,
    read_scoped,
    require_level,
)
from corrections.supervision import travel_rules
from corrections.supervision.common import (
    ACTIVE_PERMITS,
    current_rules,
    label,
    overlap_days,
    status_is,
)
from corrections.supervision.events import record_event
from corrections.supervision.models import (
    TravelPermit,
)

# --- travel permits ----------------------------------------------------------------------


def request_permit(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> TravelPermit:
    """Ask to leave the city or county; the approval level follows from the rules."""
    now = now or now_utc()
    today = business_date(now)
    # Locked: the overlap and the 30-days-in-2-months rule read the person's other permits.
    person = get_scoped(session, actor, person_id, lock=True)
    if person.status != "active":
        raise Conflict(
            _("Only a person under active supervision can travel."),
            errors={"person_id": [status_is(person.status)]},
        )
    start, end = data["start_date"], data["end_date"]
    if start < today:
        raise RuleViolation(_("must not be in the past"), field="start_date")
    if end < start:
        raise RuleViolation(_("must not be before start_date"), field="end_date")
    others = session.scalars(
        select(TravelPermit).where(
            TravelPermit.person_id == person.id,
            TravelPermit.status.in_((*ACTIVE_PERMITS, "returned")),
        )
    ).all()
    for other in others:
        if other.status != "returned" and overlap_days(
            start, end, other.start_date, other.end_date
        ):
            raise Conflict(
                _("Overlaps travel permit {id}.", id=other.id),
                errors={"start_date": [_("overlaps permit {id}", id=other.id)]},
            )
    decision = travel_rules.decide(
        start,
        end,
        other_trips=[travel_rules.Trip(o.start_date, o.end_date) for o in others],
        rules=travel_rules.TravelRules.from_yaml(current_rules().raw),
        grade=_grade_travel(person),
        today=today,
    )
    if decision.refused:
        first = decision.refusals[0]
        raise RuleViolation(
            _("{what} ({article})", what=first.text, article=first.article),
            errors={
                "end_date": [
                    _("{what} ({article})", what=r.text, article=r.article)
                    for r in decision.refusals
                ]
            },
        )
    days, level, notify = decision.days, decision.approval_level, decision.notify_procuratorate
    permit = TravelPermit(
        person_id=person.id,
        destination=data["destination"],
        reason=data["reason"],
        start_date=start,
        end_date=end,
        days=days,
        approval_level=level,
        notify_procuratorate=notify,
        conditions=list(decision.conditions),
        decision_reasons=[r.as_json() for r in decision.reasons],
        rules_version=decision.rules_version,
        status="requested",
        requested_by_id=actor.user_id,
        requested_by=actor.username,
        requested_at=now,
    )
    session.add(permit)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "travel.request",
        now=now,
        detail={"permit_id": permit.id, "days": days, "level": level},
    )
    return permit


def _grade_travel(person: Person) -> travel_rules.GradeTravel:
    """What the person's grade adds to a trip, from ``rules/grading.yaml``."""
    rules = grading_rules.current()
    grade = rules.grade(person.grade)
    req = grade.requirements
    return travel_rules.GradeTravel(
        grade=person.grade,
        label_zh=grade.label_zh,
        approver=req.travel_approver,
        max_days=req.travel_max_days,
        conditions=req.travel_conditions,
        rules_version=rules.version,
    )


def _permit(
    session: Session, actor: Actor, person_id: int, record_id: int
) -> tuple[Person, TravelPermit]:
    return get_record_of(
        session, actor, person_id, TravelPermit, record_id, _("travel permit"), lock=True
    )


def _permit_status(permit: TravelPermit) -> Message:
    return bilingual(permit.status, label("permit_statuses", permit.status) or permit.status)


def _save_permit(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(_("Someone else changed this permit at the same time.")) from exc


def decide_permit(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    permit_id: int,
    approve: bool,
    note: str | None,
    now: datetime | None = None,
) -> TravelPermit:
    """Approve or reject a permit, at the level the rules named for it or above."""
    now = now or now_utc()
    person, permit = _permit(session, actor, person_id, permit_id)
    require_level(actor, person, permit.approval_level, _("This travel permit"))
    if permit.status != "requested":
        raise Conflict(
            _("The permit is {status}, not awaiting a decision.", status=_permit_status(permit))
        )
    if approve and permit.end_date < business_date(now):
        raise Conflict(_("The permit's period is over; it can no longer be approved."))
    permit.status = "approved" if approve else "rejected"
    permit.decided_by_id, permit.decided_by, permit.decided_at = (
        actor.user_id,
        actor.username,
        now,
    )
    permit.decision_note = note
    _save_permit(session)
    action = "travel.approve" if approve else "travel.reject"
    audit_person(session, actor, person, action, now=now, detail={"permit_id": permit.id})
    exchange.travel_approved(session, person, permit, now)
    return permit


def record_movement(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    permit_id: int,
    departure: bool,
    occurred_at: datetime,
    note: str | None,
    now: datetime | None = None,
) -> TravelPermit:
    """Departure from or return to the city on an approved permit, as events in the log."""
    now = now or now_utc()
    person, permit = _permit(session, actor, person_id, permit_id)
    if occurred_at > now + current_rules().future_tolerance:
        raise RuleViolation(_("must not be in the future"), field="occurred_at")
    if departure:
        if permit.status != "approved":
            raise Conflict(
                _(
                    "The permit is {status}; departure needs an approved one.",
                    status=_permit_status(permit),
                )
            )
        permit.status, permit.departed_at = "departed", occurred_at
    else:
        if permit.status not in ("departed", "overdue"):
            raise Conflict(
                _(
                    "The permit is {status}; there is no departure to return from.",
                    status=_permit_status(permit),
                )
            )
        if permit.departed_at and occurred_at < permit.departed_at:
            raise RuleViolation(_("must not be before the departure"), field="occurred_at")
        permit.status, permit.returned_at = "returned", occurred_at
    _save_permit(session)
    record_event(
        session,
        actor=actor,
        person=person,
        type="travel_departure" if departure else "travel_return",
        occurred_at=occurred_at,
        payload={"permit_id": permit.id},
        note=note,
        now=now,
    )
    return permit


def list_permits(session: Session, *, actor: Actor, person_id: int) -> list[TravelPermit]:
    person = read_scoped(session, actor, person_id, action="travel.list")
    return list(
        session.scalars(
            select(TravelPermit)
            .where(TravelPermit.person_id == person.id)
            .order_by(TravelPermit.start_date.desc())
        )
    )


def mark_overdue_permits(session: Session, *, today: date, now: datetime) -> list[int]:
    """Permits past their end day: away and not back is overdue (absconding, Art. 27); approved
    but never used is expired."""
    overdue = session.scalars(
        update(TravelPermit)
        .where(TravelPermit.status == "departed", TravelPermit.end_date < today)
        .values(status="overdue", version=TravelPermit.version + 1)
        .returning(TravelPermit.id)
    ).all()
    session.execute(
        update(TravelPermit)
        .where(TravelPermit.status.in_(("approved", "requested")), TravelPermit.end_date < today)
        .values(status="expired", version=TravelPermit.version + 1)
    )
    return list(overdue)


def permit_queue(
    session: Session,
    *,
    actor: Actor,
    status: list[str] | None = None,
    approval_level: list[str] | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Travel permits of the persons in ``actor``'s scope, the earliest trip first
    (``status=requested&approval_level=district``: what waits for a district), each with its
    person as ``actor`` may see them; the response audits the persons it shows."""
    stmt = listing.scoped(actor, select(TravelPermit), TravelPermit.person_id)
    if status:
        stmt = stmt.where(TravelPermit.status.in_(status))
    if approval_level:
        stmt = stmt.where(TravelPermit.approval_level.in_(approval_level))
    rows, total = listing.page(
        session,
        stmt,
        TravelPermit.start_date,
        TravelPermit.requested_at,
        TravelPermit.id,
        page=page,
        page_size=page_size,
    )
    # The rules' labels of the decision reasons, read once for the page.
    rules = travel_rules.TravelRules.from_yaml(current_rules().raw)
    return listing.present(
        session,
        actor,
        "travel_permit",
        [(person, _queued(permit, rules)) for permit, person in rows],
    ), total


def _queued(permit: TravelPermit, rules: travel_rules.TravelRules) -> dict[str, Any]:
    return {
        **_view(permit),
        **listing.queue_fields(
            "travel_permit",
            proposed_zh=_(
                "Travel for {days} days, {start} to {end}",
                days=permit.days,
                start=permit.start_date.isoformat(),
                end=permit.end_date.isoformat(),
            ).render(ZH),
            level=permit.approval_level,
            proposed_by=permit.requested_by,
            proposed_at=permit.requested_at,
            rules=[
                # The explanations are stored in English: the rule in Chinese from its id.
                {
                    "rule_id": r.get("rule_id"),
                    "label_zh": rules.label_zh(r.get("rule_id")),
                    "article": r.get("article"),
                }
                for r in permit.decision_reasons or ()
            ],
        ),
        "evidence_refs": [],
    }


def permit_view(session: Session, actor: Actor, permit: TravelPermit) -> dict[str, Any]:
    """A travel permit as ``actor`` may see it (destination, reason and notes are typed)."""
    person = session.get(Person, permit.person_id)
    return privacy.present(session, actor, person, "travel_permit", _view(permit))


def _view(permit: TravelPermit) -> dict[str, Any]:
    view = {
        c: getattr(permit, c)
        for c in (
            "id",
            "person_id",
            "destination",
            "reason",
            "start_date",
            "end_date",
            "days",
            "approval_level",
            "notify_procuratorate",
            "rules_version",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "departed_at",
            "returned_at",
        )
    }
    view["approval_level_label_zh"] = label("approval_levels", permit.approval_level)
    labels = grading_rules.current().travel_conditions
    view["conditions"] = [
        {"kind": c, "kind_label_zh": labels.get(c, {}).get("label_zh", c)}
        for c in permit.conditions or ()
    ]
    view["decision_reasons"] = list(permit.decision_reasons or ())
    view["status_label_zh"] = label("permit_statuses", permit.status)
    return view
