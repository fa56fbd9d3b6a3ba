"""The end and the transfer of a term: discharge (解除矫正), termination (终止), change of
the place of supervision (变更执行地)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from corrections.core import clocks
from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, RuleViolation
from corrections.org.models import Unit, UnitKind
from corrections.persons import privacy
from corrections.persons import service as persons
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.persons.scope import (
    audit_person,
    get_scoped,
)
from corrections.supervision import obligations
from corrections.supervision.decisions import require_decision_level
from corrections.supervision.models import (
    MonitoringPeriod,
    PersonTransfer,
    TermEnd,
    TravelPermit,
)


def term_end_view(session: Session, actor: Actor, end: TermEnd, status: str) -> dict[str, Any]:
    """A discharge or termination as ``actor`` may see it (the reason is typed)."""
    view = {
        c: getattr(end, c)
        for c in (
            "kind",
            "certificate_number",
            "document_number",
            "reason",
            "ended_on",
            "recorded_by",
            "recorded_at",
        )
    } | {"status": status}
    person = session.get(Person, end.person_id)
    return privacy.present(session, actor, person, "term_end", view)


# --- end and transfer of a term ----------------------------------------------------------


def _wind_up(session: Session, person: Person, reason: str, now: datetime) -> None:
    """Nothing more is due; pending permits lapse; monitoring ends."""
    obligations.close_open(session, person, reason, now)
    session.execute(
        update(TravelPermit)
        .where(
            TravelPermit.person_id == person.id, TravelPermit.status.in_(("requested", "approved"))
        )
        .values(status="cancelled", decision_note=reason, version=TravelPermit.version + 1)
    )
    session.execute(
        update(MonitoringPeriod)
        .where(
            MonitoringPeriod.person_id == person.id,
            MonitoringPeriod.removed_at.is_(None),
            MonitoringPeriod.end_date >= business_date(now),
        )
        .values(removed_at=now, removed_by="system", removal_reason=reason)
    )


def discharge(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    certificate_number: str,
    note: str | None,
    now: datetime | None = None,
) -> TermEnd:
    """Discharge at the end of the term (解除矫正, Art. 44) with the certificate number."""
    now = now or now_utc()
    today = business_date(now)
    person = get_scoped(session, actor, person_id)
    require_decision_level(actor, person, "discharge", "Discharge")
    if person.status != "active":
        raise Conflict(
            f"Only an active person can be discharged (status {person.status}).",
            errors={"person_id": [f"status is {person.status}"]},
        )
    if today < person.term_end:
        raise RuleViolation(f"the term ends on {person.term_end}", field="certificate_number")
    end = TermEnd(
        person_id=person.id,
        kind="discharge",
        certificate_number=certificate_number,
        reason=note or "期满解除矫正",
        ended_on=today,
        recorded_by=actor.username,
        recorded_at=now,
    )
    session.add(end)
    persons.change_status(
        session,
        actor=actor,
        person=person,
        to_status="discharged",
        reason=f"解除矫正 certificate {certificate_number}",
        now=now,
    )
    _wind_up(session, person, "term ended (discharged)", now)
    return end


TERMINATION_STATUS = {
    "revocation": "terminated",
    "return_to_custody": "terminated",
    "death": "deceased",
}


def terminate(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    kind: str,
    reason: str,
    ended_on: date,
    document_number: str,
    now: datetime | None = None,
) -> TermEnd:
    """Termination (终止, Art. 45): revocation, return to custody, or death, decided by the
    district on the document that grounds it (court ruling, custody decision, death record)."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id)
    require_decision_level(actor, person, "termination", "Termination")
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            f"The correction has already ended ({person.status}).",
            errors={"person_id": [f"status is {person.status}"]},
        )
    if ended_on > business_date(now):
        raise RuleViolation("must not be in the future", field="ended_on")
    end = TermEnd(
        person_id=person.id,
        kind=kind,
        reason=reason,
        ended_on=ended_on,
        document_number=document_number,
        recorded_by=actor.username,
        recorded_at=now,
    )
    session.add(end)
    persons.change_status(
        session,
        actor=actor,
        person=person,
        to_status=TERMINATION_STATUS[kind],
        reason=f"{kind}: {reason}",
        now=now,
    )
    _wind_up(session, person, f"term ended ({kind})", now)
    return end


def transfer(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    to_office_code: str | None,
    destination: str | None,
    reason: str,
    document_number: str,
    now: datetime | None = None,
) -> PersonTransfer:
    """Change of the place of supervision (变更执行地). Within the city the person moves to the
    new office and must report there within the rules' days; elsewhere the record closes."""
    now = now or now_utc()
    today = business_date(now)
    person = get_scoped(session, actor, person_id)
    require_decision_level(actor, person, "transfer", "A change of the place of supervision")
    if person.status not in ("active", "pending_intake"):
        raise Conflict(
            f"A person in status {person.status} cannot be transferred.",
            errors={"person_id": [f"status is {person.status}"]},
        )
    record = PersonTransfer(
        person_id=person.id,
        from_office_id=person.office_id,
        reason=reason,
        document_number=document_number,
        recorded_by=actor.username,
        recorded_at=now,
    )
    if to_office_code is not None:
        office = session.scalar(
            select(Unit).where(Unit.code == to_office_code, Unit.kind == UnitKind.OFFICE)
        )
        if office is None:
            raise RuleViolation("not a judicial office of this city", field="to_office_code")
        if office.id == person.office_id:
            raise RuleViolation("is the person's current office", field="to_office_code")
        due = clocks.due_for("transfer_report", today)
        record.to_office_id, record.report_by = office.id, due
        person.office_id, person.district_id, person.updated_at = (office.id, office.parent_id, now)
        person.office = office
        obligations.bring_report_forward(session, person, due, now)
    else:
        record.destination = destination
        persons.change_status(
            session,
            actor=actor,
            person=person,
            to_status="transferred",
            reason=f"变更执行地: {destination}",
            now=now,
        )
        _wind_up(session, person, "transferred out of the city", now)
    session.add(record)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "person.transfer",
        now=now,
        detail={"to_office": to_office_code, "outside": destination is not None},
    )
    return record


def transfer_view(session: Session, actor: Actor, record: PersonTransfer) -> dict[str, Any]:
    """A transfer as ``actor`` may see it (destination and reason are typed)."""
    codes = dict(
        session.execute(
            select(Unit.id, Unit.code).where(
                Unit.id.in_([record.from_office_id, record.to_office_id or 0])
            )
        ).all()
    )
    person = session.get(Person, record.person_id)
    view = {
        "id": record.id,
        "from_office_code": codes[record.from_office_id],
        "to_office_code": codes.get(record.to_office_id),
        "destination": record.destination,
        "reason": record.reason,
        "report_by": record.report_by,
        "document_number": record.document_number,
        "recorded_by": record.recorded_by,
        "recorded_at": record.recorded_at,
        "status": person.status,
    }
    return privacy.present(session, actor, person, "transfer", view)
