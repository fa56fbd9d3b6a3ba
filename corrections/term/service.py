"""The end and the transfer of a term: discharge (解除矫正), termination (终止), change of
the place of supervision (变更执行地)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from corrections.alerts import service as alerts
from corrections.alerts.models import LIVE_STATUSES, Alert
from corrections.core import clocks, ruleset_store
from corrections.core.auth import SYSTEM, Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, RuleViolation
from corrections.core.i18n import _
from corrections.exchange import triggers as exchange
from corrections.incidents import flags
from corrections.incidents.models import IncidentProposal
from corrections.org.models import Unit, UnitKind
from corrections.persons import privacy, sealing
from corrections.persons import service as persons
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.persons.scope import (
    audit_person,
    close_log,
    get_scoped,
)
from corrections.procedures import service as procedures
from corrections.supervision import obligations
from corrections.supervision.common import ACTIVE_PERMITS, status_is, status_text
from corrections.supervision.decisions import require_decision_level
from corrections.supervision.models import (
    Detention,
    MonitoringPeriod,
    PersonTransfer,
    SupervisionEvent,
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


def end_case(
    session: Session, *, actor: Actor, person: Person, kind: str, reason: str, now: datetime
) -> None:
    """The one path every end of a case takes (discharge, pardon, revocation, return to
    custody, death, transfer out of the city), after the status change: nothing more falls
    due, permits lapse (a trip under way included), monitoring ends, flags end, live alerts are
    resolved, the exit ban's lifting becomes due, and a juvenile's discharged record is sealed.
    Events dated after the end are refused by the supervision log (the person is no longer
    supervised)."""
    obligations.close_open(session, person, reason, now)
    session.execute(
        update(TravelPermit)
        .where(TravelPermit.person_id == person.id, TravelPermit.status.in_(ACTIVE_PERMITS))
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
    session.execute(
        update(Detention)
        .where(Detention.person_id == person.id, Detention.end_date.is_(None))
        .values(
            end_date=business_date(now),
            released_by=SYSTEM.username,
            released_at=now,
            release_note=reason,
        )
    )
    flags.end_for_case(session, person, reason, now)
    session.execute(
        update(IncidentProposal)
        .where(IncidentProposal.person_id == person.id, IncidentProposal.status == "proposed")
        .values(status="declined", decided_at=now, decided_by=SYSTEM.username, decision_note=reason)
    )
    alerts.resolve_where(
        session,
        and_(Alert.person_id == person.id, Alert.status.in_(LIVE_STATUSES)),
        now=now,
        note=reason,
    )
    if kind != "transfer":
        procedures.on_term_end(session, person, kind, now)
    if kind in ("discharge", "pardon"):
        sealing.seal_if_juvenile(session, person, now, actor)


def discharge(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    certificate_number: str,
    note: str | None,
    ground: str = "expiry",
    document_number: str | None = None,
    now: datetime | None = None,
) -> TermEnd:
    """Discharge (解除矫正, 社区矫正法 44) with the certificate number: at the end of the term
    (``expiry``), or earlier when the person is pardoned (``pardon``, 赦免, on the pardon's
    document number)."""
    now = now or now_utc()
    today = business_date(now)
    person = get_scoped(session, actor, person_id, lock=True)
    require_decision_level(actor, person, "discharge", _("Discharge"))
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            _("The correction has already ended ({status}).", status=status_text(person.status)),
            errors={"person_id": [status_is(person.status)]},
        )
    if ground == "expiry" and person.status != "active":
        raise Conflict(
            _(
                "Only an active person can be discharged at the end of the term (status {status}).",
                status=status_text(person.status),
            ),
            errors={"person_id": [status_is(person.status)]},
        )
    if ground == "expiry" and today < person.term_end:
        raise RuleViolation(
            _("the term ends on {day}", day=person.term_end), field="certificate_number"
        )
    if ground == "pardon" and not document_number:
        raise RuleViolation(
            _("a pardon is discharged on its document (赦免)"), field="document_number"
        )
    close_log(session, person)
    _no_events_after(session, person, today, "person_id")
    kind = "discharge" if ground == "expiry" else "pardon"
    end = TermEnd(
        person_id=person.id,
        kind=kind,
        certificate_number=certificate_number,
        document_number=document_number,
        reason=note or ("期满解除矫正" if kind == "discharge" else "被赦免，解除矫正"),
        ended_on=today,
        recorded_by=actor.username,
        recorded_at=now,
        rules_version=ruleset_store.versions(session, now, "supervision"),
    )
    session.add(end)
    persons.change_status(
        session,
        actor=actor,
        person=person,
        to_status="discharged",
        reason=f"解除矫正 certificate {certificate_number}"
        + (f" (赦免 {document_number})" if kind == "pardon" else ""),
        now=now,
    )
    end_case(session, actor=actor, person=person, kind=kind, reason=end.reason, now=now)
    session.flush()
    exchange.case_ended(session, person, end, _end_label(kind), now)
    return end


def _check_end_date(session: Session, person: Person, ended_on: date, field: str) -> None:
    """An end lies within the term and after every event already recorded (events dated
    after the end are refused, so an end dated before them would leave records the case
    cannot have)."""
    if ended_on < person.term_start:
        raise RuleViolation(
            _("is before the term began ({day})", day=person.term_start), field=field
        )
    _no_events_after(session, person, ended_on, field)


def _no_events_after(session: Session, person: Person, ended_on: date, field: str) -> None:
    """No event of the person is dated after ``ended_on`` (a discharge or a transfer out ends
    the case today; an event may be dated a few minutes ahead, into tomorrow)."""
    latest = session.scalar(
        select(func.max(SupervisionEvent.occurred_at)).where(
            SupervisionEvent.person_id == person.id
        )
    )
    if latest is not None and business_date(latest) > ended_on:
        raise RuleViolation(
            _(
                "is before events already recorded (the latest on {day}); correct those "
                "first or date the end on or after that day",
                day=business_date(latest),
            ),
            field=field,
        )


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
    person = get_scoped(session, actor, person_id, lock=True)
    require_decision_level(actor, person, "termination", _("Termination"))
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            _("The correction has already ended ({status}).", status=status_text(person.status)),
            errors={"person_id": [status_is(person.status)]},
        )
    if ended_on > business_date(now):
        raise RuleViolation(_("must not be in the future"), field="ended_on")
    if ended_on < person.judgment_effective_date:
        raise RuleViolation(
            _(
                "is before the judgment took effect ({day})",
                day=person.judgment_effective_date,
            ),
            field="ended_on",
        )
    close_log(session, person)
    _check_end_date(session, person, ended_on, "ended_on")
    end = TermEnd(
        person_id=person.id,
        kind=kind,
        reason=reason,
        ended_on=ended_on,
        document_number=document_number,
        recorded_by=actor.username,
        recorded_at=now,
        rules_version=ruleset_store.versions(session, now, "supervision"),
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
    end_case(
        session, actor=actor, person=person, kind=kind, reason=f"社区矫正终止（{kind}）", now=now
    )
    session.flush()
    exchange.case_ended(session, person, end, _end_label(kind), now)
    return end


def _end_label(kind: str) -> str:
    """The end of a case as the rules name it (解除矫正, 撤销缓刑、假释 ...)."""
    from corrections.procedures import rules as procedure_rules

    labels = procedure_rules.current().lift_on_term_end
    return labels.get("discharge" if kind == "discharge" else kind) or kind


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
    person = get_scoped(session, actor, person_id, lock=True)
    require_decision_level(actor, person, "transfer", _("A change of the place of supervision"))
    if person.status not in ("active", "pending_intake"):
        raise Conflict(
            _(
                "A person in status {status} cannot be transferred.",
                status=status_text(person.status),
            ),
            errors={"person_id": [status_is(person.status)]},
        )
    record = PersonTransfer(
        person_id=person.id,
        from_office_id=person.office_id,
        reason=reason,
        document_number=document_number,
        recorded_by=actor.username,
        recorded_at=now,
        rules_version=ruleset_store.versions(session, now, "supervision", "clocks"),
    )
    if to_office_code is not None:
        office = session.scalar(
            select(Unit).where(Unit.code == to_office_code, Unit.kind == UnitKind.OFFICE)
        )
        if office is None:
            raise RuleViolation(_("not a judicial office of this city"), field="to_office_code")
        if office.id == person.office_id:
            raise RuleViolation(_("is the person's current office"), field="to_office_code")
        due = clocks.due_for("transfer_report", today)
        record.to_office_id, record.report_by = office.id, due
        person.office_id, person.district_id, person.updated_at = (office.id, office.parent_id, now)
        person.office = office
        # The alerts go along: the new office's lists show them, the old one's no longer do.
        alerts.follow_person(session, person.id, office_id=office.id, district_id=office.parent_id)
        obligations.bring_report_forward(session, person, due, now)
    else:
        record.destination = destination
        close_log(session, person)
        _no_events_after(session, person, today, "person_id")
        persons.change_status(
            session,
            actor=actor,
            person=person,
            to_status="transferred",
            reason=f"变更执行地: {destination}",
            now=now,
        )
        end_case(
            session, actor=actor, person=person, kind="transfer", reason="变更执行地至市外", now=now
        )
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
