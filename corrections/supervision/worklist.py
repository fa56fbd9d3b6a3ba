"""Obligations as people work with them: a person's obligations, an office's work list,
excuses, and the sweep that marks what was missed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from corrections.alerts.models import LIVE_STATUSES, Alert
from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict
from corrections.core.i18n import ZH, _, bilingual
from corrections.persons import listing, privacy
from corrections.persons.models import Person
from corrections.persons.scope import (
    audit_person,
    get_record_of,
    read_scoped,
    require_level,
)
from corrections.supervision import obligations
from corrections.supervision.common import current_rules, label
from corrections.supervision.models import (
    Obligation,
)
from corrections.supervision.travel import mark_overdue_permits

# --- obligations -------------------------------------------------------------------------


def person_obligations(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    status: str | None = None,
    kind: str | None = None,
) -> list[Obligation]:
    person = read_scoped(session, actor, person_id, action="obligation.list")
    stmt = select(Obligation).where(Obligation.person_id == person.id)
    if status is not None:
        stmt = stmt.where(Obligation.status == status)
    if kind is not None:
        stmt = stmt.where(Obligation.kind == kind)
    return list(session.scalars(stmt.order_by(Obligation.due_on.desc(), Obligation.id.desc())))


def work_list(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    kind: str | None = None,
    due_before: date | None = None,
    due: str | None = None,
    office: str | None = None,
    todo: bool = False,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Obligations of the persons in scope: an office's work list (oldest due first, the
    most urgent on top), each with its person as ``actor`` may see them (``person``: the name
    masked as the role requires, the office) and the event types that fulfil it. The persons
    listed are audited, in one row, by the response that shows them. ``todo``: what is
    still to do, the open ones and the missed ones whose alert is live (not yet answered by a
    late event, excused or closed by a person)."""
    stmt = listing.scoped(actor, select(Obligation), Obligation.person_id)
    if todo:
        stmt = stmt.where(to_do())
    elif status is not None:
        stmt = stmt.where(Obligation.status == status)
    if kind is not None:
        stmt = stmt.where(Obligation.kind == kind)
    if due_before is not None:
        stmt = stmt.where(Obligation.due_on <= due_before)
    day = business_date(now or now_utc())
    if due is not None:
        stmt = stmt.where(Obligation.due_on <= DUE_LIMITS[due](day))
    if office is not None:
        stmt = stmt.where(listing.OFFICE.code == office)
    rows, total = listing.page(
        session, stmt, Obligation.due_on, Obligation.id, page=page, page_size=page_size
    )
    return listing.present(
        session,
        actor,
        "obligation",
        [
            (person, {**_fields(ob), **_urgency(ob, day), "office_code": person.office_code})
            for ob, person in rows
        ],
    ), total


def to_do() -> ColumnElement[bool]:
    """What is still to do: an open obligation, or a missed one not yet answered (its alert
    live: no late event answered it, nobody excused it or closed its alert)."""
    unanswered = exists().where(
        Alert.kind == "obligation_missed",
        Alert.subject_type == "obligation",
        Alert.subject_id == Obligation.id,
        Alert.person_id == Obligation.person_id,
        Alert.status.in_(LIVE_STATUSES),
    )
    return or_(Obligation.status == "open", and_(Obligation.status == "missed", unanswered))


# The ``due`` filters (work list, caseload): the last due day each takes, from today.
DUE_LIMITS = {
    "overdue": lambda day: day - timedelta(days=1),
    "today": lambda day: day,
    "week": lambda day: day + timedelta(days=7),
}
_URGENCY_ZH = {
    "overdue": _("Overdue"),
    "today": _("Due today"),
    "soon": _("Due within 7 days"),
    "later": _("Due later"),
}


def _urgency(ob: Obligation, day: date) -> dict[str, Any]:
    """How urgent an open obligation (or a missed one still to answer) is on ``day`` (the work
    list sorts by it: due first)."""
    if ob.status not in ("open", "missed"):
        return {}
    if ob.due_on < day:
        urgency = "overdue"
    elif ob.due_on == day:
        urgency = "today"
    elif ob.due_on <= day + timedelta(days=7):
        urgency = "soon"
    else:
        urgency = "later"
    return {"urgency": urgency, "urgency_label_zh": _URGENCY_ZH[urgency].render(ZH)}


def obligation_view(
    session: Session,
    actor: Actor,
    ob: Obligation,
    *,
    person: privacy.Subject | None = None,
    office_code: str | None = None,
) -> dict[str, Any]:
    """An obligation as ``actor`` may see it (an excuse's reason is typed text)."""
    view = _fields(ob)
    if office_code is not None:
        view["office_code"] = office_code
    person = person or session.get(Person, ob.person_id)
    return privacy.present(session, actor, person, "obligation", view)


def _fields(ob: Obligation) -> dict[str, Any]:
    rule = current_rules().obligations[ob.kind]
    view = {
        c: getattr(ob, c)
        for c in (
            "id",
            "person_id",
            "kind",
            "opens_on",
            "due_on",
            "status",
            "grade",
            "hours_required",
            "hours_done",
            "fulfilled_by_event_id",
            "fulfilled_at",
            "closed_reason",
        )
    }
    view["kind_label_zh"] = rule.label_zh
    view["status_label_zh"] = label("obligation_statuses", ob.status)
    # What fulfils it: the event types recorded for it (GET /event-types has their forms).
    view["event_types"] = list(rule.fulfilled_by or rule.hours_from)
    return view


def excuse_obligation(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    obligation_id: int,
    reason: str,
    now: datetime | None = None,
) -> Obligation:
    """Excuse an open or missed obligation for a documented reason (hospital stay, a court
    date ...). Decided by the person's office or above; a chained obligation's next window is
    then planned from the day it was due, as after a fulfilment."""
    now = now or now_utc()
    person, ob = get_record_of(
        session, actor, person_id, Obligation, obligation_id, _("obligation"), lock=True
    )
    require_level(actor, person, "office", _("Excusing an obligation"))
    if ob.status not in ("open", "missed"):
        status = bilingual(ob.status, label("obligation_statuses", ob.status) or ob.status)
        raise Conflict(
            _(
                "The obligation is {status}; only an open or missed one can be excused.",
                status=status,
            )
        )
    was = ob.status
    ob.status, ob.closed_reason, ob.updated_at = "excused", reason, now
    session.flush()
    if was == "open" and ob.kind in obligations.CHAINED_KINDS:
        obligations.plan_after_excuse(session, person, ob, now)
    audit_person(
        session,
        actor,
        person,
        "obligation.excuse",
        now=now,
        detail={"obligation_id": ob.id, "kind": ob.kind, "was": was},
    )
    return ob


def sweep(session: Session, *, now: datetime | None = None) -> obligations.SweepResult:
    """Mark overdue obligations missed, plan successors and month windows, and mark travel
    permits whose holder did not come back in time as overdue."""
    now = now or now_utc()
    today = business_date(now)
    result = obligations.sweep(session, today=today, now=now)
    mark_overdue_permits(session, today=today, now=now)
    return result
