"""Lost contact and absconding (失去联系 / 脱管): one episode per person at a time.

overdue (an obligation missed, or an approved trip not returned from) -> lost_contact (no
successful contact within the rules' hours of the miss, or a failed search contact) ->
absconded (an officer confirms, with the search record) -> closed (returned, found, custody,
revoked). The absence counts in Asia/Shanghai days from the last successful contact; crossing
the rules' thresholds proposes sanctions for a person to decide, never applies them. The
person's status follows the episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text
from sqlalchemy.orm import Session

from corrections.alerts import rules as alert_rules
from corrections.alerts import service as alerts
from corrections.core.auth import SYSTEM, Actor
from corrections.core.clock import business_date, now_utc, start_of_business_day
from corrections.core.errors import Conflict, NotFound
from corrections.core.sqlfuncs import insert_for
from corrections.grading import service as grading
from corrections.incidents.models import (
    OPEN_INCIDENT_PREDICATE,
    OPEN_STATES,
    Incident,
    IncidentProposal,
)
from corrections.persons import privacy
from corrections.persons import service as persons
from corrections.persons.models import Person, PersonStatusChange
from corrections.persons.scope import audit_person, get_scoped, read_scoped, require_level
from corrections.supervision.models import Obligation, SupervisionEvent, TravelPermit

STATE_LABELS = {
    "overdue": "逾期未联系",
    "lost_contact": "失去联系",
    "absconded": "脱管",
    "closed": "已结案",
}
CLOSE_REASONS = {
    "returned": "自行返回",
    "found": "查找到",
    "custody": "已收监",
    "revoked": "已撤销",
}
CHECK_TYPES = ("phone_check", "location_check")


def _rules() -> dict[str, Any]:
    return alert_rules.current()["incidents"]


def successful_contact() -> Any:
    """SQL: an event that counts as a successful contact (checks only when they succeeded)."""
    types = _rules()["contact_events"]
    plain = [t for t in types if t not in CHECK_TYPES]
    checks = [t for t in types if t in CHECK_TYPES]
    return or_(
        SupervisionEvent.type.in_(plain),
        and_(SupervisionEvent.type.in_(checks), SupervisionEvent.payload["success"].as_boolean()),
    )


def last_contact_at(session: Session, person_id: int, before: datetime | None = None):
    """The last successful contact: a contact event, or becoming active (the intake report,
    or coming back at the close of an episode)."""
    contact = select(func.max(SupervisionEvent.occurred_at)).where(
        SupervisionEvent.person_id == person_id, successful_contact()
    )
    activated = select(func.max(PersonStatusChange.changed_at)).where(
        PersonStatusChange.person_id == person_id, PersonStatusChange.to_status == "active"
    )
    if before is not None:
        contact = contact.where(SupervisionEvent.occurred_at <= before)
        activated = activated.where(PersonStatusChange.changed_at <= before)
    times = [t for t in (session.scalar(contact), session.scalar(activated)) if t is not None]
    return max(times, default=None)


def absence_days(last_contact: datetime | None, fallback: date, today: date) -> int:
    """Whole Asia/Shanghai days since the last successful contact (or ``fallback``)."""
    start = business_date(last_contact) if last_contact is not None else fallback
    return max(0, (today - start).days)


# --- the detection job -------------------------------------------------------------------


@dataclass
class Detection:
    opened: int = 0
    lost_contact: int = 0
    closed: int = 0
    proposals: int = 0


def detect(session: Session, *, now: datetime, errors: dict[str, str]) -> Detection:
    """Open episodes for fresh misses and overdue trips, move them along, propose sanctions.
    Works from the state of the database now, so a run after downtime catches up. Each
    episode's step runs in a savepoint of its own: one person's bad data becomes an error for
    that person (in ``errors``) and does not stop the run."""
    result = Detection()
    today = business_date(now)
    result.closed = _close_answered(session, now, errors)
    result.opened = _open_from_misses(session, now) + _open_from_trips(session, now)
    result.lost_contact = _to_lost_contact(session, now, errors)
    result.proposals = _propose(session, today, now, errors)
    return result


def _contact_since(person_col, since_col) -> Any:
    return (
        select(SupervisionEvent.id)
        .where(
            SupervisionEvent.person_id == person_col,
            SupervisionEvent.occurred_at >= since_col,
            successful_contact(),
        )
        .exists()
    )


def _open_from_misses(session: Session, now: datetime) -> int:
    """An episode per person with a missed report or check that no contact answered since,
    unless one is open or that miss already had one."""
    kinds = _rules()["opened_by_missed"]
    rows = session.execute(
        select(Obligation.person_id, func.min(Obligation.due_on), func.min(Obligation.id))
        .join(Person, Person.id == Obligation.person_id)
        .where(
            Obligation.status == "missed",
            Obligation.kind.in_(kinds),
            Person.status == "active",
            ~exists().where(Incident.person_id == Person.id, Incident.state != "closed"),
            ~exists().where(
                Incident.trigger_type == "obligation", Incident.trigger_id == Obligation.id
            ),
        )
        .group_by(Obligation.person_id)
    ).all()
    candidates = []
    for person_id, due_on, ob_id in rows:
        since = start_of_business_day(due_on + timedelta(days=1))
        last = last_contact_at(session, person_id)
        if last is not None and last >= since:
            continue  # answered since the miss
        candidates.append((person_id, "obligation", ob_id, since, last))
    return _insert_incidents(session, candidates, now)


def _open_from_trips(session: Session, now: datetime) -> int:
    rows = session.execute(
        select(TravelPermit.person_id, TravelPermit.id, TravelPermit.end_date)
        .join(Person, Person.id == TravelPermit.person_id)
        .where(
            TravelPermit.status == "overdue",
            Person.status == "active",
            ~exists().where(Incident.person_id == Person.id, Incident.state != "closed"),
            ~exists().where(
                Incident.trigger_type == "permit", Incident.trigger_id == TravelPermit.id
            ),
        )
    ).all()
    candidates = [
        (
            person_id,
            "permit",
            permit_id,
            start_of_business_day(end + timedelta(days=1)),
            last_contact_at(session, person_id),
        )
        for person_id, permit_id, end in rows
    ]
    return _insert_incidents(session, candidates, now)


def _insert_incidents(session: Session, candidates, now: datetime) -> int:
    # In chunks: one multi-row INSERT may carry at most 65,535 parameters on PostgreSQL
    # (a city of 145,000 generated persons had more candidates than that at once).
    return sum(
        _insert_incident_rows(session, candidates[i : i + 5000], now)
        for i in range(0, len(candidates), 5000)
    )


def _insert_incident_rows(session: Session, candidates, now: datetime) -> int:
    if not candidates:
        return 0
    stmt = (
        insert_for(session)(Incident)
        .values(
            [
                {
                    "person_id": person_id,
                    "state": "overdue",
                    "trigger_type": trigger_type,
                    "trigger_id": trigger_id,
                    "overdue_since": since,
                    "opened_at": now,
                    "opened_by": SYSTEM.username,
                    "last_contact_at": last,
                    "updated_at": now,
                    "version": 1,
                }
                for person_id, trigger_type, trigger_id, since, last in candidates
            ]
        )
        .on_conflict_do_nothing(
            index_elements=["person_id"], index_where=text(OPEN_INCIDENT_PREDICATE)
        )
        .returning(Incident.id)  # counted from what came back: rowcount is not portable here
    )
    return len(session.execute(stmt).all())


def _each(session: Session, items, errors: dict[str, str], step) -> int:
    """Run ``step(*item)`` (an item starts with its episode) in a savepoint per item; returns
    the sum of what the steps return, recording failures per person."""
    done = 0
    for item in items:
        try:
            with session.begin_nested():
                done += step(*item)
        except Exception as exc:  # one person's bad data must not stop the run
            errors[str(item[0].person_id)] = type(exc).__name__
    return done


def _close_answered(session: Session, now: datetime, errors: dict[str, str]) -> int:
    """An overdue episode that a successful contact answered closes (returned)."""
    answered = session.execute(
        select(Incident).where(
            Incident.state == "overdue",
            _contact_since(Incident.person_id, Incident.overdue_since),
        )
    ).all()

    def close(incident: Incident) -> int:
        _close(session, incident, reason="returned", note="已恢复联系", actor=SYSTEM, now=now)
        return 1

    return _each(session, answered, errors, close)


def _to_lost_contact(session: Session, now: datetime, errors: dict[str, str]) -> int:
    hours = timedelta(hours=_rules()["lost_contact_after_hours"])
    failed_search = (
        select(SupervisionEvent.id)
        .where(
            SupervisionEvent.person_id == Incident.person_id,
            SupervisionEvent.type == "contact_attempt_failed",
            SupervisionEvent.occurred_at >= Incident.overdue_since,
        )
        .exists()
    )
    due = session.execute(
        select(Incident).where(
            Incident.state == "overdue",
            or_(Incident.overdue_since <= now - hours, failed_search),
        )
    ).all()

    def move(incident: Incident) -> int:
        mark_lost_contact(session, incident, actor=SYSTEM, now=now)
        return 1

    return _each(session, due, errors, move)


def mark_lost_contact(session: Session, incident: Incident, *, actor: Actor, now: datetime):
    incident.state, incident.lost_contact_at, incident.updated_at = "lost_contact", now, now
    person = session.get(Person, incident.person_id)
    if person.status == "active":
        persons.change_status(
            session,
            actor=actor,
            person=person,
            to_status="lost_contact",
            reason="失去联系（系统认定）" if actor.is_system else "失去联系",
            now=now,
        )
    # Lost contact makes the grade strict at once (a decision, with its basis, not a score).
    grading.apply_event_kind(
        session,
        actor=actor,
        person=person,
        kind="lost_contact",
        basis=f"incident:{incident.id}",
        now=now,
    )
    alerts.raise_one(
        session,
        person_id=incident.person_id,
        kind="lost_contact",
        subject_type="incident",
        subject_id=incident.id,
        detail={"incident_id": incident.id, "overdue_since": incident.overdue_since.isoformat()},
        now=now,
    )
    session.flush()


def _propose(session: Session, today: date, now: datetime, errors: dict[str, str]) -> int:
    rows = session.execute(
        select(Incident, Person.category, Person.term_start)
        .join(Person, Person.id == Incident.person_id)
        .where(Incident.state.in_(OPEN_STATES))
    ).all()

    def propose(incident: Incident, category: str, term_start: date) -> int:
        days = absence_days(incident.last_contact_at, term_start, today)
        return _propose_for(session, incident, category, days, now)

    return _each(session, rows, errors, propose)


def _propose_for(
    session: Session, incident: Incident, category: str, days: int, now: datetime
) -> int:
    rules = _rules()
    kinds = []
    if days > rules["warning_after_days"]:
        kinds.append("warning")
    if days > rules["revocation_after_days"]:
        kinds.append(rules["revocation_by_category"][category])
    return sum(_make_proposal(session, incident, kind, days, now) for kind in kinds)


def _make_proposal(
    session: Session, incident: Incident, kind: str, days: int, now: datetime
) -> int:
    evidence = {
        "incident_id": incident.id,
        "trigger": f"{incident.trigger_type}:{incident.trigger_id}",
        "last_contact_at": incident.last_contact_at.isoformat()
        if incident.last_contact_at
        else None,
        "absence_days": days,
        "state": incident.state,
    }
    stmt = (
        insert_for(session)(IncidentProposal)
        .values(
            incident_id=incident.id,
            person_id=incident.person_id,
            kind=kind,
            status="proposed",
            absence_days=days,
            evidence=evidence,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["incident_id", "kind"])
        .returning(IncidentProposal.id)
    )
    proposal_id = session.execute(stmt).scalar()
    if proposal_id is None:
        return 0
    alerts.raise_one(
        session,
        person_id=incident.person_id,
        kind="sanction_proposed",
        subject_type="proposal",
        subject_id=proposal_id,
        detail={"proposal": kind, "incident_id": incident.id, "absence_days": days},
        now=now,
    )
    return 1


# --- people acting on episodes -----------------------------------------------------------


def list_incidents(session: Session, *, actor: Actor, person_id: int) -> list[Incident]:
    person = read_scoped(session, actor, person_id, action="incident.list")
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.person_id == person.id)
            .order_by(Incident.opened_at.desc(), Incident.id.desc())
        )
    )


def open_incidents(
    session: Session, *, actor: Actor, now: datetime, limit: int = 500
) -> list[dict[str, Any]]:
    """Open episodes in the caller's scope with hours since the last contact, longest first
    (ids and times only: no personal data; the persons shown are audited by the response)."""
    from corrections.persons.scope import scope_clause

    rows = session.execute(
        select(Incident, Person.office_id, Person.district_id, Person.term_start, Person.juvenile)
        .join(Person, Person.id == Incident.person_id)
        .where(Incident.state.in_(OPEN_STATES), scope_clause(actor))
        .order_by(Incident.last_contact_at.asc().nulls_first(), Incident.id)
        .limit(limit)
    ).all()
    today = business_date(now)
    out = []
    for incident, office_id, district_id, term_start, juvenile in rows:
        since = incident.last_contact_at or start_of_business_day(term_start)
        person = privacy.PersonRef(incident.person_id, juvenile, office_id, district_id)
        out.append(
            (
                person,
                {
                    "id": incident.id,
                    "person_id": incident.person_id,
                    "office_id": office_id,
                    "district_id": district_id,
                    "state": incident.state,
                    "state_label_zh": STATE_LABELS[incident.state],
                    "last_contact_at": incident.last_contact_at,
                    "hours_since_contact": int((now - since).total_seconds() // 3600),
                    "absence_days": absence_days(incident.last_contact_at, term_start, today),
                    "opened_at": incident.opened_at,
                },
            )
        )
    return privacy.present_all(session, actor, "open_incident", out)


def proposals_of(session: Session, incident_ids: list[int]) -> dict[int, list[IncidentProposal]]:
    out: dict[int, list[IncidentProposal]] = {i: [] for i in incident_ids}
    if incident_ids:
        for p in session.scalars(
            select(IncidentProposal)
            .where(IncidentProposal.incident_id.in_(incident_ids))
            .order_by(IncidentProposal.id)
        ):
            out[p.incident_id].append(p)
    return out


def open_incident(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    state: str,
    note: str,
    now: datetime | None = None,
) -> Incident:
    """An officer opens an episode by hand (e.g. the person's phone has been off for a day)."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id)
    if person.status != "active":
        raise Conflict(
            f"An episode opens only for an active person (status {person.status}).",
            errors={"person_id": [f"status is {person.status}"]},
        )
    if session.scalar(
        select(Incident.id).where(Incident.person_id == person.id, Incident.state != "closed")
    ):
        raise Conflict("The person already has an open episode.", errors={"state": ["open"]})
    incident = Incident(
        person_id=person.id,
        state="overdue",
        trigger_type="manual",
        trigger_id=0,
        overdue_since=now,
        opened_at=now,
        opened_by=actor.username,
        last_contact_at=last_contact_at(session, person.id, before=now),
        close_note=None,
        search_record=note,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    if state == "lost_contact":
        mark_lost_contact(session, incident, actor=actor, now=now)
    days = absence_days(incident.last_contact_at, person.term_start, business_date(now))
    _propose_for(session, incident, person.category, days, now)
    audit_person(
        session,
        actor,
        person,
        "incident.open",
        now=now,
        detail={"incident_id": incident.id, "state": state},
    )
    return incident


def get_incident(session: Session, actor: Actor, person_id: int, incident_id: int):
    person = get_scoped(session, actor, person_id)
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id, Incident.person_id == person.id)
    )
    if incident is None:
        raise NotFound("No such incident.")
    return person, incident


def confirm_absconded(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    incident_id: int,
    search_record: str,
    now: datetime | None = None,
) -> Incident:
    """An officer confirms absconding (脱管认定) with the record of the search."""
    now = now or now_utc()
    person, incident = get_incident(session, actor, person_id, incident_id)
    if incident.state != "lost_contact":
        raise Conflict(
            f"Only an episode in lost contact can be confirmed (state {incident.state}).",
            errors={"state": [incident.state]},
        )
    incident.state, incident.absconded_at, incident.updated_at = "absconded", now, now
    incident.confirmed_by, incident.search_record = actor.username, search_record
    if person.status == "lost_contact":
        persons.change_status(
            session, actor=actor, person=person, to_status="absconded", reason="脱管认定", now=now
        )
    alerts.raise_one(
        session,
        person_id=person.id,
        kind="absconded",
        subject_type="incident",
        subject_id=incident.id,
        detail={"incident_id": incident.id},
        now=now,
        raised_by=actor.username,
    )
    session.flush()
    audit_person(
        session, actor, person, "incident.absconded", now=now, detail={"incident_id": incident.id}
    )
    return incident


def close_incident(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    incident_id: int,
    reason: str,
    note: str | None,
    now: datetime | None = None,
) -> Incident:
    now = now or now_utc()
    _, incident = get_incident(session, actor, person_id, incident_id)
    if incident.state == "closed":
        raise Conflict("The episode is already closed.", errors={"state": ["closed"]})
    _close(session, incident, reason=reason, note=note, actor=actor, now=now)
    return incident


def _close(
    session: Session,
    incident: Incident,
    *,
    reason: str,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    person = session.get(Person, incident.person_id)
    today = business_date(now)
    days = absence_days(incident.last_contact_at, person.term_start, today)
    was = incident.state
    incident.state, incident.closed_at, incident.closed_by = "closed", now, actor.username
    incident.close_reason, incident.close_note, incident.absence_days = reason, note, days
    incident.updated_at = now
    session.flush()
    if reason in ("returned", "found") and person.status in ("lost_contact", "absconded"):
        persons.change_status(
            session,
            actor=actor,
            person=person,
            to_status="active",
            reason=f"脱管/失联结案：{CLOSE_REASONS[reason]}",
            now=now,
        )
    if was != "overdue" and days <= _rules()["admonition_max_days"]:
        _make_proposal(session, incident, "admonition", days, now)
    alerts.resolve_where(
        session,
        and_(
            alerts.Alert.subject_type == "incident",
            alerts.Alert.subject_id == incident.id,
            alerts.Alert.person_id == incident.person_id,
        ),
        now=now,
        note=f"事件已结案：{CLOSE_REASONS[reason]}",
    )
    audit_person(
        session,
        actor,
        person,
        "incident.close",
        now=now,
        detail={"incident_id": incident.id, "reason": reason, "absence_days": days},
    )


def decide_proposal(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    incident_id: int,
    proposal_id: int,
    decision: str,
    note: str,
    now: datetime | None = None,
) -> IncidentProposal:
    """The district decides a proposed sanction (accepted: the decision is then recorded
    through its own procedure, e.g. a warning event or a revocation proposal to the court)."""
    now = now or now_utc()
    person, incident = get_incident(session, actor, person_id, incident_id)
    require_level(actor, person, "district", "A sanction proposal")
    proposal = session.scalar(
        select(IncidentProposal).where(
            IncidentProposal.id == proposal_id, IncidentProposal.incident_id == incident.id
        )
    )
    if proposal is None:
        raise NotFound("No such proposal.")
    if proposal.status != "proposed":
        raise Conflict(f"The proposal is already {proposal.status}.")
    proposal.status, proposal.decided_at = decision, now
    proposal.decided_by, proposal.decision_note = actor.username, note
    alerts.resolve_where(
        session,
        and_(
            alerts.Alert.kind == "sanction_proposed",
            alerts.Alert.subject_type == "proposal",
            alerts.Alert.subject_id == proposal.id,
        ),
        now=now,
        note="建议已决定",
    )
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "incident.proposal",
        now=now,
        detail={"proposal_id": proposal.id, "kind": proposal.kind, "decision": decision},
    )
    return proposal


def incident_view(
    session: Session,
    actor: Actor,
    incident: Incident,
    proposals: list[IncidentProposal],
    today: date,
    person: Person,
) -> dict[str, Any]:
    """An episode with its proposals as ``actor`` may see it (search record and notes are
    typed text)."""
    rules = _rules()
    days = (
        incident.absence_days
        if incident.state == "closed"
        else absence_days(incident.last_contact_at, person.term_start, today)
    )
    view = {
        "id": incident.id,
        "person_id": incident.person_id,
        "state": incident.state,
        "state_label_zh": STATE_LABELS[incident.state],
        "trigger_type": incident.trigger_type,
        "trigger_id": incident.trigger_id,
        "overdue_since": incident.overdue_since,
        "opened_at": incident.opened_at,
        "opened_by": incident.opened_by,
        "last_contact_at": incident.last_contact_at,
        "lost_contact_at": incident.lost_contact_at,
        "absconded_at": incident.absconded_at,
        "confirmed_by": incident.confirmed_by,
        "search_record": incident.search_record,
        "closed_at": incident.closed_at,
        "closed_by": incident.closed_by,
        "close_reason": incident.close_reason,
        "close_reason_label_zh": CLOSE_REASONS.get(incident.close_reason or ""),
        "close_note": incident.close_note,
        "absence_days": days,
        "proposals": [
            {
                "id": p.id,
                "kind": p.kind,
                "kind_label_zh": rules["proposal_labels"][p.kind],
                "status": p.status,
                "absence_days": p.absence_days,
                "evidence": p.evidence,
                "created_at": p.created_at,
                "decided_at": p.decided_at,
                "decided_by": p.decided_by,
                "decision_note": p.decision_note,
            }
            for p in proposals
        ],
        "version": incident.version,
    }
    return privacy.present(session, actor, person, "incident", view)
