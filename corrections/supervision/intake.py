"""Intake (入矫) as a use case of supervision: the person's record (persons), the first grade
(grading), and, when the person reports, the start of supervision with its first obligations.
Persons keeps the record; it knows nothing of grades or obligations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import RuleViolation
from corrections.core.i18n import _
from corrections.grading import service as grading
from corrections.persons import service as persons
from corrections.persons.models import Person, PersonStatusChange
from corrections.persons.scope import get_scoped
from corrections.supervision import obligations

# Status moves a user may make by hand through the API; the rest belong to their own
# procedures (a death is a termination on the death record, decided by the district).
MANUAL_STATUS_TARGETS = frozenset({"active"})


def intake(
    session: Session, *, actor: Actor, data: dict[str, Any], now: datetime | None = None
) -> Person:
    """Register a person for community correction (入矫登记): status ``pending_intake``, the
    intake grade from the grading rules."""
    now = now or now_utc()
    person = persons.new_record(session, actor=actor, data=data, now=now)
    grading.apply_intake(session, actor=actor, person=person, now=now)
    persons.registered(session, actor=actor, person=person, now=now)
    return person


def activate(
    session: Session, *, actor: Actor, person: Person, reason: str, now: datetime
) -> PersonStatusChange:
    """The person reported (pending_intake -> active): the intake report is the first report,
    and what is due is planned from today."""
    change = persons.change_status(
        session, actor=actor, person=person, to_status="active", reason=reason, now=now
    )
    obligations.plan_initial(session, person, business_date(now), now)
    return change


def change_status_by_request(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    to_status: str,
    reason: str,
    now: datetime | None = None,
) -> PersonStatusChange:
    """Record intake reporting (pending_intake -> active), the one status set by hand."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    if to_status not in MANUAL_STATUS_TARGETS:
        raise RuleViolation(
            _(
                "{status} is set by its own procedure, not by hand (a death: POST "
                "/persons/<id>/termination with kind death and the death record)",
                status=to_status,
            ),
            field="to_status",
        )
    if person.status != "pending_intake":
        raise RuleViolation(
            _("only a person pending intake can be activated by hand"), field="to_status"
        )
    return activate(session, actor=actor, person=person, reason=reason, now=now)
