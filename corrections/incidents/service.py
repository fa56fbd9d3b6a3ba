"""Lost contact and absconding (失去联系 / 脱管): one episode per person at a time.

overdue (an obligation missed, or an approved trip not returned from) -> lost_contact (no
successful contact within the rules' hours of the miss, or a failed search contact) ->
absconded (an officer confirms, with the search record) -> closed (returned, found, custody,
revoked). The absence (脱离监管) counts in Asia/Shanghai calendar days and months from when
supervision was lost (the missed obligation's due time or the first failed contact, whichever
is earlier), never while the episode is only overdue; crossing the thresholds of
rules/incidents.yaml proposes sanctions (corrections/incidents/ladder.py) for a person to
decide, never applies them. The person's status follows the episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, text
from sqlalchemy.orm import Session

from corrections.alerts import service as alerts
from corrections.core.auth import SYSTEM, Actor
from corrections.core.clock import business_date, now_utc, start_of_business_day
from corrections.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from corrections.core.i18n import _
from corrections.core.ruleset_store import ensure_recorded
from corrections.core.sqlfuncs import insert_for
from corrections.exchange import triggers as exchange
from corrections.grading import service as grading
from corrections.incidents import ladder
from corrections.incidents import rules as incident_rules
from corrections.incidents.models import (
    OPEN_INCIDENT_PREDICATE,
    OPEN_STATES,
    PROPOSAL_BASIS_PREDICATE,
    Incident,
    IncidentProposal,
)
from corrections.persons import privacy
from corrections.persons import service as persons
from corrections.persons.models import OPEN_STATUSES, Person, PersonStatusChange
from corrections.persons.scope import (
    audit_person,
    get_scoped,
    lock_persons,
    read_scoped,
    require_level,
)
from corrections.supervision.common import status_is, status_text
from corrections.supervision.models import Detention, Obligation, SupervisionEvent, TravelPermit

CHECK_TYPES = ("phone_check", "location_check")


def _rules() -> incident_rules.IncidentRules:
    return incident_rules.current()


def _state_label(state: str) -> str:
    return _rules().state_labels[state]


def _close_label(reason: str | None) -> str | None:
    return _rules().close_reason_labels.get(reason or "")


def held(person_id_col) -> Any:
    """SQL: the person is held by another authority now (an open detention record): no episode
    opens while they are, and an open one closes."""
    return (
        select(Detention.id)
        .where(Detention.person_id == person_id_col, Detention.end_date.is_(None))
        .exists()
    )


def _rules_version(session: Session, now: datetime) -> str:
    return "+".join(ensure_recorded(session, name, now) for name in ("incidents", "sanctions"))


def successful_contact() -> Any:
    """SQL: an event that counts as a successful contact (checks only when they succeeded)."""
    types = _rules().contact_events
    plain = [t for t in types if t not in CHECK_TYPES]
    checks = [t for t in types if t in CHECK_TYPES]
    return or_(
        SupervisionEvent.type.in_(plain),
        and_(SupervisionEvent.type.in_(checks), SupervisionEvent.payload["success"].as_boolean()),
    )


def last_contact_at(session: Session, person_id: int, before: datetime | None = None):
    """The last successful contact: a contact event, or becoming active (the intake report,
    or coming back at the close of an episode), or being taken into or released from another
    authority's custody (where the person was is known: the start of that day)."""
    return last_contacts(session, [person_id], before).get(person_id)


# Persons per statement of the set-based reads (PostgreSQL takes at most 65,535 parameters).
_CHUNK = 10_000


def last_contacts(
    session: Session, person_ids: Iterable[int], before: datetime | None = None
) -> dict[int, datetime]:
    """:func:`last_contact_at` of many persons at once (three statements per 10,000 persons);
    a person with no contact at all is absent."""
    ids = sorted(set(person_ids))
    last: dict[int, datetime] = {}

    def keep(person_id: int, at: datetime | None) -> None:
        if at is not None and (before is None or at <= before):
            last[person_id] = max(at, last.get(person_id, at))

    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        contact = (
            select(SupervisionEvent.person_id, func.max(SupervisionEvent.occurred_at))
            .where(SupervisionEvent.person_id.in_(chunk), successful_contact())
            .group_by(SupervisionEvent.person_id)
        )
        activated = (
            select(PersonStatusChange.person_id, func.max(PersonStatusChange.changed_at))
            .where(
                PersonStatusChange.person_id.in_(chunk), PersonStatusChange.to_status == "active"
            )
            .group_by(PersonStatusChange.person_id)
        )
        if before is not None:
            contact = contact.where(SupervisionEvent.occurred_at <= before)
            activated = activated.where(PersonStatusChange.changed_at <= before)
        for person_id, at in [*session.execute(contact), *session.execute(activated)]:
            keep(person_id, at)
        for person_id, start, end in session.execute(
            select(Detention.person_id, Detention.start_date, Detention.end_date).where(
                Detention.person_id.in_(chunk)
            )
        ):
            for d in (start, end):
                if d is not None:
                    keep(person_id, start_of_business_day(d))
    return last


def absence_days(since: datetime | None, fallback: date, today: date) -> int:
    """Whole Asia/Shanghai calendar days from ``since`` (or ``fallback``) to ``today``."""
    start = business_date(since) if since is not None else fallback
    return max(0, (today - start).days)


def first_failed_contact(session: Session, person_id: int, after: datetime | None, until):
    """The first failed search contact after the last successful contact, up to ``until``."""
    stmt = select(func.min(SupervisionEvent.occurred_at)).where(
        SupervisionEvent.person_id == person_id,
        SupervisionEvent.type == "contact_attempt_failed",
        SupervisionEvent.occurred_at <= until,
    )
    if after is not None:
        stmt = stmt.where(SupervisionEvent.occurred_at > after)
    return session.scalar(stmt)


def first_failed_contacts(session: Session, incidents: Any, until: datetime) -> dict[int, datetime]:
    """:func:`first_failed_contact` after each episode's last contact, for the episodes
    ``incidents`` (a select of incident ids) in one statement: episode id -> when."""
    stmt = (
        select(Incident.id, func.min(SupervisionEvent.occurred_at))
        .join(SupervisionEvent, SupervisionEvent.person_id == Incident.person_id)
        .where(
            Incident.id.in_(incidents),
            SupervisionEvent.type == "contact_attempt_failed",
            SupervisionEvent.occurred_at <= until,
            or_(
                Incident.last_contact_at.is_(None),
                SupervisionEvent.occurred_at > Incident.last_contact_at,
            ),
        )
        .group_by(Incident.id)
    )
    return dict(session.execute(stmt).all())


def _lost_at(session: Session, person_id: int, start: datetime, last, now: datetime):
    """The earlier of an episode's start and the first failed contact since ``last``."""
    failed = first_failed_contact(session, person_id, last, now)
    return min(start, failed) if failed is not None else start


def lost_since(incident: Incident) -> datetime:
    """When supervision was lost for an episode (older episodes: when it became overdue)."""
    return incident.out_of_supervision_since or incident.overdue_since


_UNREAD: Any = object()


def _refreshed_lost_since(incident: Incident, failed: datetime | None) -> datetime:
    """The earlier of the episode's start and ``failed``, a failed contact recorded since the
    last successful contact (a failed contact may be recorded after the episode opened)."""
    since = lost_since(incident)
    return failed if failed is not None and failed < since else since


def _refresh_lost_since(
    session: Session, incident: Incident, now: datetime, failed: Any = _UNREAD
) -> datetime:
    """Store :func:`_refreshed_lost_since` on the episode; ``failed`` as
    :func:`first_failed_contacts` found it, else read here."""
    if failed is _UNREAD:
        failed = first_failed_contact(session, incident.person_id, incident.last_contact_at, now)
    since = _refreshed_lost_since(incident, failed)
    if incident.out_of_supervision_since != since:
        incident.out_of_supervision_since = since
    return since


def out_of_supervision_days(incident: Incident, today: date) -> int:
    """Whole Asia/Shanghai days out of supervision (the day it was lost is day 0)."""
    return absence_days(lost_since(incident), today, today)


# --- the detection job -------------------------------------------------------------------


@dataclass
class Detection:
    opened: int = 0
    lost_contact: int = 0
    closed: int = 0
    proposals: int = 0
    # Episodes due to go lost contact left for the next run (LOST_CONTACT_MAX_PER_RUN).
    lost_contact_deferred: int = 0


def detect(session: Session, *, now: datetime, errors: dict[str, str]) -> Detection:
    """Open episodes for fresh misses and overdue trips, move them along, propose sanctions.
    Works from the state of the database now, so a run after downtime catches up. What it
    reads, it reads for all persons at once; the episodes' steps run in batches, each in a
    savepoint: one person's bad data becomes an error for that person (in ``errors``) and
    does not stop the run (:func:`_each`)."""
    result = Detection()
    today = business_date(now)
    result.closed = _close_answered(session, now, errors) + _close_detained(session, now, errors)
    result.opened = _open_from_misses(session, now) + _open_from_trips(session, now)
    result.lost_contact, result.lost_contact_deferred = _to_lost_contact(session, now, errors)
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


def _opened_nothing(trigger_type: str, trigger_id, person_id) -> Any:
    """SQL: the obligation (or permit) ``trigger_id`` of ``person_id`` never opened an
    episode. Looked up among the person's own episodes (by their index): the planner, misled
    by the statistics of a freshly loaded city, ran a lookup by the trigger alone (which has
    no index) as a scan of all episodes per missed obligation, 134 s at 100,000 persons."""
    return ~exists().where(
        Incident.person_id == person_id,
        Incident.trigger_type == trigger_type,
        Incident.trigger_id == trigger_id,
    )


def _open_from_misses(session: Session, now: datetime) -> int:
    """An episode per person with a missed report or check that no contact answered since,
    unless one is open or that miss already had one. The earliest miss after the last
    successful contact opens it: an old miss a later contact answered does not count (nor
    hide a new one)."""
    kinds = _rules().opened_by_missed
    rows = session.execute(
        select(Obligation.person_id, Obligation.due_on, Obligation.id)
        .join(Person, Person.id == Obligation.person_id)
        .where(
            Obligation.status == "missed",
            Obligation.kind.in_(kinds),
            Person.status == "active",
            ~held(Person.id),
            ~exists().where(Incident.person_id == Person.id, Incident.state != "closed"),
            _opened_nothing("obligation", Obligation.id, Obligation.person_id),
        )
        .order_by(Obligation.person_id, Obligation.due_on, Obligation.id)
    ).all()
    by_person: dict[int, list[tuple[date, int]]] = {}
    for person_id, due_on, ob_id in rows:
        by_person.setdefault(person_id, []).append((due_on, ob_id))
    lasts = last_contacts(session, by_person)
    candidates = []
    for person_id, misses in by_person.items():
        last = lasts.get(person_id)
        for due_on, ob_id in misses:
            since = start_of_business_day(due_on + timedelta(days=1))
            if last is None or last < since:  # not answered since the miss
                candidates.append((person_id, "obligation", ob_id, since, last))
                break
    return _insert_incidents(session, candidates, now)


def _open_from_trips(session: Session, now: datetime) -> int:
    rows = session.execute(
        select(TravelPermit.person_id, TravelPermit.id, TravelPermit.end_date)
        .join(Person, Person.id == TravelPermit.person_id)
        .where(
            TravelPermit.status == "overdue",
            Person.status == "active",
            ~held(Person.id),
            ~exists().where(Incident.person_id == Person.id, Incident.state != "closed"),
            _opened_nothing("permit", TravelPermit.id, TravelPermit.person_id),
        )
    ).all()
    lasts = last_contacts(session, [row[0] for row in rows])
    candidates = [
        (
            person_id,
            "permit",
            permit_id,
            start_of_business_day(end + timedelta(days=1)),
            lasts.get(person_id),
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
                    "out_of_supervision_since": _lost_at(session, person_id, since, last, now),
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


# Items per savepoint in :func:`_each`: two statements per batch, not per person.
_BATCH = 200


def _each(session: Session, items, errors: dict[str, str], step, prepare=None, finish=None) -> int:
    """Run ``step(*item)`` (an item starts with its episode) for every item; returns the sum
    of what the steps return, recording failures per person. The items go in batches, each
    in a savepoint: ``prepare(batch)`` first (what the steps need, read at once), the steps,
    then ``finish(batch)`` (what the batch does at once). A batch that fails is rolled back
    and run again one item per savepoint (each with its ``finish``), so one person's bad
    data becomes an error for that person and does not stop the run."""
    items = list(items)
    done = 0
    for i in range(0, len(items), _BATCH):
        batch = items[i : i + _BATCH]
        try:
            with session.begin_nested():
                if prepare is not None:
                    prepare(batch)
                n = sum(step(*item) for item in batch)
                if finish is not None:
                    finish(batch)
            done += n
        except Exception:  # some item failed: each again on its own
            done += _one_by_one(session, batch, errors, step, finish)
    return done


def _one_by_one(session: Session, items, errors: dict[str, str], step, finish=None) -> int:
    done = 0
    for item in items:
        try:
            with session.begin_nested():
                n = step(*item)
                if finish is not None:
                    finish([item])
            done += n
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


def _close_detained(session: Session, now: datetime, errors: dict[str, str]) -> int:
    """An open episode of a person now held by another authority closes (detained): they are
    found. Out of supervision only until the day they were taken, so an episode that began
    while they were already held proposes nothing."""
    rows = session.execute(
        select(Incident, Detention.start_date)
        .join(
            Detention,
            and_(Detention.person_id == Incident.person_id, Detention.end_date.is_(None)),
        )
        .where(Incident.state.in_(OPEN_STATES))
    ).all()

    def close(incident: Incident, taken_on: date) -> int:
        _close(
            session, incident, reason="detained", note=None, actor=SYSTEM, now=now, until=taken_on
        )
        return 1

    return _each(session, rows, errors, close)


def _to_lost_contact(session: Session, now: datetime, errors: dict[str, str]) -> tuple[int, int]:
    """Move the overdue episodes past the rules' hours (or with a failed contact attempt
    since) to lost contact, a failed search first, then the longest overdue, at most
    ``LOST_CONTACT_MAX_PER_RUN`` moved (a person's step is a status change, a stricter grade,
    its obligations planned again and audit rows: about 15 ms; a step that fails takes no
    place); the rest wait for the next run, 15 minutes later. A backlog
    (a first run on an imported caseload: 11,781 persons at once on the 148,000-person city)
    is so worked off over a few runs, each within a tenth of the interval, instead of one run
    of three minutes holding the scheduler's lease. Returns (moved, deferred)."""
    hours = timedelta(hours=_rules().lost_contact_after_hours)
    failed_search = (
        select(SupervisionEvent.id)
        .where(
            SupervisionEvent.person_id == Incident.person_id,
            SupervisionEvent.type == "contact_attempt_failed",
            SupervisionEvent.occurred_at
            >= func.coalesce(Incident.out_of_supervision_since, Incident.overdue_since),
        )
        .exists()
    )
    due = session.execute(
        select(Incident)
        .where(
            Incident.state == "overdue",
            or_(Incident.overdue_since <= now - hours, failed_search),
        )
        # A failed search means lost contact at once: those first, then the longest overdue.
        .order_by(case((failed_search, 0), else_=1), Incident.overdue_since, Incident.id)
    ).all()
    cap = int(current_app.config["LOST_CONTACT_MAX_PER_RUN"])

    def move(incident: Incident) -> int:
        mark_lost_contact(session, incident, actor=SYSTEM, now=now, alert=False)
        return 1

    locked: list[Person] = []  # the batch's persons, kept in the session while it runs

    def prepare(batch) -> None:
        # The persons' row locks and rows in one statement; the episodes' new state written
        # together by the first flush.
        locked[:] = lock_persons(session, [incident.person_id for (incident,) in batch])
        for (incident,) in batch:
            _lose(incident, now)

    def finish(batch) -> None:  # the batch's alerts in one statement
        causes = [_lost_contact_cause(incident) for (incident,) in batch]
        alerts.raise_many(session, causes, kind="lost_contact", now=now)

    # Only the episodes moved count against the cap: one whose step fails at every run (its
    # error recorded) does not hold its place ahead of the others (hostile review).
    moved = taken = 0
    while moved < cap and taken < len(due):
        chunk = due[taken : taken + cap - moved]
        taken += len(chunk)
        moved += _each(session, chunk, errors, move, prepare=prepare, finish=finish)
    return moved, len(due) - taken


def _lose(incident: Incident, now: datetime) -> None:
    incident.state, incident.lost_contact_at, incident.updated_at = "lost_contact", now, now


def _lost_contact_cause(incident: Incident) -> tuple[int, str, int, dict[str, Any]]:
    """The ``lost_contact`` alert's cause: (person, subject type, subject, detail)."""
    detail = {"incident_id": incident.id, "overdue_since": incident.overdue_since.isoformat()}
    return incident.person_id, "incident", incident.id, detail


def mark_lost_contact(
    session: Session, incident: Incident, *, actor: Actor, now: datetime, alert: bool = True
):
    """The episode is lost contact now: the person's status and grade follow; ``alert``: and
    the ``lost_contact`` alert is raised (the detection job raises its batch's at once)."""
    _lose(incident, now)
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
    if alert:
        person_id, subject_type, subject_id, detail = _lost_contact_cause(incident)
        alerts.raise_one(
            session,
            person_id=person_id,
            kind="lost_contact",
            subject_type=subject_type,
            subject_id=subject_id,
            detail=detail,
            now=now,
        )
    session.flush()


def _propose(session: Session, today: date, now: datetime, errors: dict[str, str]) -> int:
    """The proposals of every open episode's time out of supervision, the ladder's and the
    custody grounds'. What a step would change is read first, for all at once (the failed
    contacts, the proposals made): a step runs only where it changes something."""
    # Only overdue: nothing to propose (_propose_for).
    lost = select(Incident.id).where(Incident.state.in_(OPEN_STATES), Incident.state != "overdue")
    rows = session.execute(
        select(Incident, Person.category)
        .join(Person, Person.id == Incident.person_id)
        .where(Incident.id.in_(lost))
    ).all()
    failed = first_failed_contacts(session, lost, now)
    made = set(
        session.execute(
            select(IncidentProposal.incident_id, IncidentProposal.kind).where(
                IncidentProposal.incident_id.in_(lost)
            )
        ).all()
    )
    work = []
    for incident, category in rows:
        since = _refreshed_lost_since(incident, failed.get(incident.id))
        episode = replace(_episode(incident), lost_on=business_date(since))
        found = ladder.absence(category, episode, today, _rules())
        if since != incident.out_of_supervision_since or any(
            (incident.id, p.kind) not in made for p in found
        ):
            work.append((incident, category))

    def propose(incident: Incident, category: str) -> int:
        return _propose_for(session, incident, category, now, failed.get(incident.id))

    return (
        _each(session, work, errors, propose)
        + _propose_ladder(session, today, now, errors)
        + _propose_custody(session, today, now, errors)
    )


def _episode(incident: Incident) -> ladder.Episode:
    return ladder.Episode(
        incident_id=incident.id,
        state=incident.state,
        lost_on=business_date(lost_since(incident)),
        evidence={
            "trigger": f"{incident.trigger_type}:{incident.trigger_id}",
            "last_contact_at": incident.last_contact_at.isoformat()
            if incident.last_contact_at
            else None,
            "state": incident.state,
        },
    )


def _propose_for(
    session: Session, incident: Incident, category: str, now: datetime, failed: Any = _UNREAD
) -> int:
    """The proposals an open episode's time out of supervision calls for (none while it is
    only overdue); ``failed``: as :func:`_refresh_lost_since` takes it."""
    if incident.state == "overdue":
        return 0
    _refresh_lost_since(session, incident, now, failed)
    found = ladder.absence(category, _episode(incident), business_date(now), _rules())
    return sum(_make_proposal(session, incident.person_id, p, now, incident) for p in found)


def _make_proposal(
    session: Session,
    person_id: int,
    proposal: ladder.Proposal,
    now: datetime,
    incident: Incident | None = None,
) -> int:
    """Insert a proposal once (per episode and kind, or per ground); alert the deciders. A
    ground's proposal waits while an officer's proposal of the same kind waits for the person
    (the office already asked for that decision, with its facts); its ground is not used up,
    so it is proposed once that one is decided."""
    if incident is None and session.scalar(
        select(IncidentProposal.id).where(
            IncidentProposal.person_id == person_id,
            IncidentProposal.kind == proposal.kind,
            IncidentProposal.status == "proposed",
            IncidentProposal.proposed_by.is_not(None),
        )
    ):
        return 0
    if incident is not None:
        target = {"index_elements": ["incident_id", "kind"]}
    else:
        target = {
            "index_elements": ["person_id", "basis"],
            "index_where": text(PROPOSAL_BASIS_PREDICATE),
        }
    evidence = {**proposal.evidence, "article": proposal.article, "ground": proposal.ground}
    stmt = (
        insert_for(session)(IncidentProposal)
        .values(
            incident_id=incident.id if incident is not None else None,
            person_id=person_id,
            kind=proposal.kind,
            status="proposed",
            absence_days=proposal.absence_days,
            evidence=evidence,
            article=proposal.article,
            rules_version=_rules_version(session, now),
            basis=proposal.basis if incident is None else None,
            created_at=now,
        )
        .on_conflict_do_nothing(**target)
        .returning(IncidentProposal.id)
    )
    proposal_id = session.execute(stmt).scalar()
    if proposal_id is None:
        return 0
    detail = {"proposal": proposal.kind, "article": proposal.article, "ground": proposal.ground}
    if incident is not None:
        detail |= {"incident_id": incident.id, "absence_days": proposal.absence_days}
    _alert_deciders(session, person_id, proposal_id, detail, now)
    return 1


def _alert_deciders(session: Session, person_id: int, proposal_id: int, detail, now) -> None:
    """A proposal waits for its deciders: ``sanction_proposed``, resolved by the decision."""
    alerts.raise_one(
        session,
        person_id=person_id,
        kind="sanction_proposed",
        subject_type="proposal",
        subject_id=proposal_id,
        detail=detail,
        now=now,
    )


def _propose_ladder(session: Session, today: date, now: datetime, errors: dict[str, str]) -> int:
    """The ladder's proposals (repeated sanctions not corrected, 禁止令 breaches, late intake)
    for the persons SQL finds with such records in the window."""
    rules = _rules()
    since = start_of_business_day(ladder.window_start(today, rules.not_corrected_window))
    correction = SupervisionEvent.__table__.alias("correction")
    kinds = ("admonition", "warning", "prohibition_breach", *rules.reset_by)
    uncorrected = (
        SupervisionEvent.type.in_(kinds),
        SupervisionEvent.occurred_at >= since,
        SupervisionEvent.corrects_id.is_(None),
        ~select(correction.c.id).where(correction.c.corrects_id == SupervisionEvent.id).exists(),
    )
    ladder_kinds = ("admonition", "warning", "prohibition_breach")
    candidates = list(
        session.scalars(
            select(SupervisionEvent.person_id)
            .join(Person, Person.id == SupervisionEvent.person_id)
            .where(
                *uncorrected,
                SupervisionEvent.type.in_(ladder_kinds),
                Person.status.in_(("active", "lost_contact", "absconded")),
            )
            .group_by(SupervisionEvent.person_id)
            .having(
                or_(
                    func.count() >= 2,
                    func.sum(case((SupervisionEvent.type == "prohibition_breach", 1), else_=0)) > 0,
                )
            )
        )
    )
    # Late intake: a deadline within the window, reported after it (or not yet, and more than
    # the warning threshold ago).
    window_day = ladder.window_start(today, rules.not_corrected_window)
    activated = (
        select(func.min(PersonStatusChange.changed_at))
        .where(PersonStatusChange.person_id == Person.id, PersonStatusChange.to_status == "active")
        .scalar_subquery()
    )
    late = session.execute(
        select(Person.id, Person.category, Person.intake_deadline, activated).where(
            Person.intake_deadline >= window_day,
            Person.intake_deadline < today,
            Person.status.in_(("pending_intake", "active", "lost_contact", "absconded")),
        )
    ).all()
    items: list[tuple[Any, ...]] = []
    for person_id, category, deadline, reported_at in late:
        reported_on = business_date(reported_at) if reported_at is not None else None
        found = ladder.late_intake(category, deadline, reported_on, today, rules)
        items += [(_Subject(person_id), p) for p in found]
    if candidates:
        records: dict[int, list[ladder.Record]] = {}
        for e in session.scalars(
            select(SupervisionEvent)
            .where(SupervisionEvent.person_id.in_(candidates), *uncorrected)
            .order_by(SupervisionEvent.occurred_at, SupervisionEvent.id)
        ):
            records.setdefault(e.person_id, []).append(_record(e))
        categories = {
            pid: category
            for pid, category in session.execute(
                select(Person.id, Person.category).where(Person.id.in_(candidates))
            )
        }
        for person_id, recs in records.items():
            found = ladder.repeated(categories[person_id], recs, today, rules)
            items += [(_Subject(person_id), p) for p in found]

    def make(subject: _Subject, proposal: ladder.Proposal) -> int:
        return _make_proposal(session, subject.person_id, proposal, now)

    return _each(session, _unmade(session, items), errors, make)


def _propose_custody(session: Session, today: date, now: datetime, errors: dict[str, str]) -> int:
    """Return to custody on the grounds beyond the ladder (rules/sanctions.yaml
    ``custody_grounds``) for the supervised persons of their category that SQL finds with an
    event recording the reason ceased, or with a missed re-examination and a warning in the
    window, where that event or warning has proposed nothing yet."""
    rules = _rules()
    grounds = rules.custody_grounds
    ended, reexam = grounds["condition_ended"], grounds["reexam_not_submitted"]
    since_day = ladder.window_start(today, rules.not_corrected_window)
    since = start_of_business_day(since_day)
    correction = SupervisionEvent.__table__.alias("correction")
    not_corrected = (
        ~select(correction.c.id).where(correction.c.corrects_id == SupervisionEvent.id).exists()
    )

    def unproposed(prefix: str) -> Any:
        return (
            ~select(IncidentProposal.id)
            .where(
                IncidentProposal.person_id == SupervisionEvent.person_id,
                IncidentProposal.basis == literal(f"{prefix}:") + cast(SupervisionEvent.id, String),
            )
            .exists()
        )

    ceased = select(SupervisionEvent.person_id).where(
        SupervisionEvent.type == ended["event"], not_corrected, unproposed("condition_ended")
    )
    warned = select(SupervisionEvent.person_id).where(
        SupervisionEvent.type == "warning",
        SupervisionEvent.occurred_at >= since,
        not_corrected,
        unproposed("reexam_not_submitted"),
    )
    missed_reexam = select(Obligation.person_id).where(
        Obligation.kind == reexam["obligation"],
        Obligation.status == "missed",
        Obligation.due_on >= since_day,
    )
    persons = session.execute(
        select(Person.id, Person.category, Person.term_end).where(
            Person.category == grounds["category"],
            Person.status.in_(("active", "lost_contact", "absconded")),
            or_(Person.id.in_(ceased), and_(Person.id.in_(missed_reexam), Person.id.in_(warned))),
        )
    ).all()
    if not persons:
        return 0
    ids = [p.id for p in persons]
    records: dict[int, list[ladder.Record]] = {}
    for e in session.scalars(
        select(SupervisionEvent)
        .where(
            SupervisionEvent.person_id.in_(ids),
            not_corrected,
            or_(
                SupervisionEvent.type == ended["event"],
                and_(
                    SupervisionEvent.type.in_(("warning", *rules.reset_by)),
                    SupervisionEvent.occurred_at >= since,
                ),
            ),
        )
        .order_by(SupervisionEvent.occurred_at, SupervisionEvent.id)
    ):
        records.setdefault(e.person_id, []).append(_record(e))
    missed: dict[int, list[ladder.Missed]] = {}
    for ob_id, person_id, kind, due_on in session.execute(
        select(Obligation.id, Obligation.person_id, Obligation.kind, Obligation.due_on).where(
            Obligation.person_id.in_(ids),
            Obligation.kind == reexam["obligation"],
            Obligation.status == "missed",
            Obligation.due_on >= since_day,
        )
    ):
        missed.setdefault(person_id, []).append(ladder.Missed(ob_id, kind, due_on))
    items = [
        (_Subject(person_id), p)
        for person_id, category, term_end in persons
        for p in ladder.custody(
            category, records.get(person_id, []), missed.get(person_id, []), term_end, today, rules
        )
    ]

    def make(subject: _Subject, proposal: ladder.Proposal) -> int:
        return _make_proposal(session, subject.person_id, proposal, now)

    return _each(session, _unmade(session, items), errors, make)


@dataclass(frozen=True)
class _Subject:
    person_id: int


def _unmade(session: Session, items: list[tuple[Any, ladder.Proposal]]) -> list:
    """The ground proposals not made yet: one made on its ground (person and basis) is never
    made again (:func:`_make_proposal` would insert nothing), read for all at once."""
    persons = sorted({subject.person_id for subject, p in items if p.basis is not None})
    made: set[tuple[int, str]] = set()
    for i in range(0, len(persons), _CHUNK):
        made.update(
            session.execute(
                select(IncidentProposal.person_id, IncidentProposal.basis).where(
                    IncidentProposal.person_id.in_(persons[i : i + _CHUNK]),
                    IncidentProposal.basis.is_not(None),
                )
            ).all()
        )
    return [(subject, p) for subject, p in items if (subject.person_id, p.basis) not in made]


def _record(event: SupervisionEvent) -> ladder.Record:
    """A ladder record of an event (a correction stands for the record it corrects)."""
    severity = (event.payload or {}).get("severity") if event.type == "prohibition_breach" else None
    return ladder.Record(event.id, event.type, business_date(event.occurred_at), severity)


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
    """Open episodes in the caller's scope with hours since the last contact, longest first,
    each with its person as the caller may see them (name and office: persons/listing.py);
    the persons shown are audited by the response."""
    from corrections.persons import listing

    rows = session.execute(
        listing.scoped(actor, select(Incident, Person.term_start), Incident.person_id)
        .where(Incident.state.in_(OPEN_STATES))
        .order_by(Incident.last_contact_at.asc().nulls_first(), Incident.id)
        .limit(limit)
    ).all()
    today = business_date(now)
    out = []
    for incident, term_start, *columns in rows:
        person = listing.ListedPerson(*columns)
        since = incident.last_contact_at or start_of_business_day(term_start)
        out.append(
            (
                person,
                {
                    "id": incident.id,
                    "person_id": incident.person_id,
                    "office_id": person.office_id,
                    "district_id": person.district_id,
                    "state": incident.state,
                    "state_label_zh": _state_label(incident.state),
                    "last_contact_at": incident.last_contact_at,
                    "hours_since_contact": int((now - since).total_seconds() // 3600),
                    "absence_days": out_of_supervision_days(incident, today),
                    "opened_at": incident.opened_at,
                },
            )
        )
    return listing.present(session, actor, "open_incident", out)


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
    person = get_scoped(session, actor, person_id, lock=True)
    if person.status != "active":
        raise Conflict(
            _(
                "An episode opens only for an active person (status {status}).",
                status=status_text(person.status),
            ),
            errors={"person_id": [status_is(person.status)]},
        )
    if session.scalar(select(held(person.id))):
        raise Conflict(
            _("The person is held by another authority (a detention record is open)."),
            errors={"person_id": [_("held")]},
        )
    if session.scalar(
        select(Incident.id).where(Incident.person_id == person.id, Incident.state != "closed")
    ):
        raise Conflict(_("The person already has an open episode."), errors={"state": [_("open")]})
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
    incident.out_of_supervision_since = _lost_at(
        session, person.id, now, incident.last_contact_at, now
    )
    _propose_for(session, incident, person.category, now)
    audit_person(
        session,
        actor,
        person,
        "incident.open",
        now=now,
        detail={"incident_id": incident.id, "state": state},
    )
    return incident


def get_incident(
    session: Session, actor: Actor, person_id: int, incident_id: int, *, lock: bool = False
):
    person = get_scoped(session, actor, person_id, lock=lock)
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id, Incident.person_id == person.id)
    )
    if incident is None:
        raise NotFound(_("No such incident."))
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
    person, incident = get_incident(session, actor, person_id, incident_id, lock=True)
    if incident.state != "lost_contact":
        raise Conflict(
            _(
                "Only an episode in lost contact can be confirmed (state {state}).",
                state=incident.state,
            ),
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
    # The police help find the person (社区矫正法 30): in this transaction.
    exchange.absconded(session, person, lost_since(incident), now)
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
    _person, incident = get_incident(session, actor, person_id, incident_id, lock=True)
    if incident.state == "closed":
        raise Conflict(_("The episode is already closed."), errors={"state": [_("closed")]})
    _close(session, incident, reason=reason, note=note, actor=actor, now=now)
    return incident


def _withdraw_unfounded(
    session: Session,
    incident: Incident,
    person: Person,
    episode: ladder.Episode,
    was: str,
    until: date,
    now: datetime,
) -> None:
    """The person was held by another authority from ``until``: an episode's open proposals
    that the time out of supervision up to that day does not ground are withdrawn (declined by
    the system), with their alerts; the rest stay for a person to decide."""
    still = set()
    if episode.lost_on < until:
        found = ladder.absence(person.category, replace(episode, state=was), until, _rules())
        still = {p.kind for p in found}
    unfounded = [
        p
        for p in session.scalars(
            select(IncidentProposal).where(
                IncidentProposal.incident_id == incident.id, IncidentProposal.status == "proposed"
            )
        )
        if p.kind not in still
    ]
    for proposal in unfounded:
        proposal.status, proposal.decided_at, proposal.decided_by = "declined", now, "system"
        proposal.decision_note = "被依法限制人身自由：脱离监管期间不足以支持该建议"
    if unfounded:
        _resolve_proposal_alerts(session, [p.id for p in unfounded], now, "建议已撤回")
    session.flush()


def _resolve_proposal_alerts(session: Session, ids: list[int], now: datetime, note: str) -> None:
    """The ``sanction_proposed`` alerts of these proposals resolve (decided or withdrawn)."""
    alerts.resolve_where(
        session,
        and_(
            alerts.Alert.kind == "sanction_proposed",
            alerts.Alert.subject_type == "proposal",
            alerts.Alert.subject_id.in_(ids),
        ),
        now=now,
        note=note,
    )


def _close(
    session: Session,
    incident: Incident,
    *,
    reason: str,
    note: str | None,
    actor: Actor,
    now: datetime,
    until: date | None = None,
) -> None:
    """Close an episode; the absence counts until today, or ``until`` (the day the person was
    taken into another authority's custody)."""
    person = session.get(Person, incident.person_id)
    today = business_date(now) if until is None else min(until, business_date(now))
    if incident.state != "overdue":
        _refresh_lost_since(session, incident, now)
    days = out_of_supervision_days(incident, today)
    was = incident.state
    incident.state, incident.closed_at, incident.closed_by = "closed", now, actor.username
    incident.close_reason, incident.close_note, incident.absence_days = reason, note, days
    incident.updated_at = now
    session.flush()
    if reason in ("returned", "found", "detained") and person.status in (
        "lost_contact",
        "absconded",
    ):
        persons.change_status(
            session,
            actor=actor,
            person=person,
            to_status="active",
            reason=f"脱管/失联结案：{_close_label(reason)}",
            now=now,
        )
    episode = _episode(incident)
    if until is not None:
        _withdraw_unfounded(session, incident, person, episode, was, today, now)
    # Lost only once already held: never out of supervision, nothing to propose.
    if episode.lost_on < today or until is None:
        for proposal in ladder.on_close(was, episode.lost_on, today, _rules(), episode.evidence):
            _make_proposal(session, incident.person_id, proposal, now, incident)
    alerts.resolve_where(
        session,
        and_(
            alerts.Alert.subject_type == "incident",
            alerts.Alert.subject_id == incident.id,
            alerts.Alert.person_id == incident.person_id,
        ),
        now=now,
        note=f"事件已结案：{_close_label(reason)}",
    )
    audit_person(
        session,
        actor,
        person,
        "incident.close",
        now=now,
        detail={"incident_id": incident.id, "reason": reason, "absence_days": days},
    )


def propose_sanction(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    kind: str,
    ground: str,
    facts: str,
    event_ids: list[int],
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[IncidentProposal, bool]:
    """A judicial office proposes a sanction (经司法所调查核实, 实施办法 34-49; the district
    decides it like the rules' own proposals): on a ground of rules/sanctions.yaml
    officer_grounds that applies to the person's category, with the facts found and the
    person's recorded events it rests on. One waiting proposal of a kind per person. With an
    ``idempotency_key`` a retry returns the first proposal (``True``: replayed)."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    rules = _rules()
    require_level(actor, person, rules.kinds[kind]["proposed_by"], _("A sanction proposal"))
    basis = f"officer:{actor.username}:{idempotency_key}" if idempotency_key else None
    event_ids = list(dict.fromkeys(event_ids))
    if basis is not None:
        # The key is the officer's, whatever the person: reused for another person it is a
        # different request.
        first = session.scalar(select(IncidentProposal).where(IncidentProposal.basis == basis))
        if first is not None:
            evidence = first.evidence or {}
            same = (first.person_id, first.kind, evidence.get("ground"), evidence.get("event_ids"))
            if same != (person.id, kind, ground, event_ids) or evidence.get("facts") != facts:
                raise Conflict(
                    _("This Idempotency-Key was already used with a different request."),
                    errors={"Idempotency-Key": [_("reused with a different body")]},
                )
            return first, True
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            _("The correction has ended ({status}).", status=status_text(person.status)),
            errors={"person_id": [status_is(person.status)]},
        )
    spec = rules.officer_ground_by_code.get(ground)
    if spec is None or spec["kind"] != kind:
        raise RuleViolation(
            _("not a ground of this kind of proposal (GET /api/v1/reasons?kind=proposal_ground)"),
            field="ground",
        )
    if spec.get("categories") and person.category not in spec["categories"]:
        raise RuleViolation(
            _("this ground does not apply to the person's category"), field="ground"
        )
    found = set(
        session.scalars(
            select(SupervisionEvent.id).where(
                SupervisionEvent.person_id == person.id, SupervisionEvent.id.in_(event_ids)
            )
        )
    )
    missing = [i for i in event_ids if i not in found]
    if missing:
        raise RuleViolation(
            _(
                "not events of this person: {ids}",
                ids=", ".join(str(i) for i in missing),
            ),
            field="event_ids",
        )
    waiting = session.scalar(
        select(IncidentProposal.id).where(
            IncidentProposal.person_id == person.id,
            IncidentProposal.kind == kind,
            IncidentProposal.status == "proposed",
        )
    )
    if waiting is not None:
        raise Conflict(
            _(
                "A {kind} proposal for this person already waits for a decision (#{id}).",
                kind=rules.label(kind),
                id=waiting,
            ),
            errors={"kind": [_("already proposed, waiting for a decision")]},
        )
    proposal = IncidentProposal(
        person_id=person.id,
        kind=kind,
        status="proposed",
        absence_days=0,
        evidence={
            "ground": ground,
            "facts": facts,
            "event_ids": event_ids,
            "article": spec["article"],
        },
        article=spec["article"],
        rules_version=_rules_version(session, now),
        basis=basis,
        created_at=now,
        proposed_by=actor.username,
    )
    session.add(proposal)
    session.flush()
    detail = {"proposal": kind, "article": spec["article"], "ground": ground}
    _alert_deciders(session, person.id, proposal.id, detail | {"proposed_by": actor.username}, now)
    audit_person(
        session,
        actor,
        person,
        "incident.proposal_made",
        now=now,
        detail={"proposal_id": proposal.id, "kind": kind, "ground": ground, "event_ids": event_ids},
    )
    return proposal, False


def decide_proposal(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    incident_id: int | None,
    proposal_id: int,
    decision: str,
    note: str,
    statement: str | None = None,
    statement_not_taken_reason: str | None = None,
    document_number: str | None = None,
    now: datetime | None = None,
) -> IncidentProposal:
    """The level of rules/sanctions.yaml (the district) decides a proposed sanction (accepted:
    the decision is then recorded through its own procedure, e.g. a warning event or a
    revocation proposal to the court). Accepting a warning or a revocation / return to custody
    needs the person's statement (陈述/申辩) or the reason it could not be taken.
    ``incident_id`` None: a proposal of the ladder (no episode)."""
    now = now or now_utc()
    if incident_id is None:
        person = get_scoped(session, actor, person_id, lock=True)
        where = IncidentProposal.incident_id.is_(None)
    else:
        person, incident = get_incident(session, actor, person_id, incident_id, lock=True)
        where = IncidentProposal.incident_id == incident.id
    proposal = session.scalar(
        select(IncidentProposal).where(
            IncidentProposal.id == proposal_id, IncidentProposal.person_id == person.id, where
        )
    )
    if proposal is None:
        raise NotFound(_("No such proposal."))
    rules = _rules()
    require_level(actor, person, rules.kinds[proposal.kind]["decided_by"], _("A sanction proposal"))
    if proposal.proposed_by is not None and proposal.proposed_by == actor.username:
        # Four eyes: who proposed a sanction does not decide it.
        raise Forbidden(_("A proposal is decided by someone other than who proposed it."))
    if proposal.status != "proposed":
        raise Conflict(_("The proposal is already {status}.", status=proposal.status))
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            _(
                "The correction has ended ({status}); the proposal lapsed.",
                status=status_text(person.status),
            ),
            errors={"person_id": [status_is(person.status)]},
        )
    if proposal.incident_id is not None:
        closed = session.scalar(
            select(Incident.close_reason).where(Incident.id == proposal.incident_id)
        )
        if closed == "detained":
            raise Conflict(
                _(
                    "The person was held by another authority during the absence this "
                    "proposal counts (detention); it rests on no absence."
                ),
                errors={"proposal_id": [_("the episode closed as detained")]},
            )
    if (
        decision == "accepted"
        and proposal.kind in rules.statement_required_for
        and not (statement or statement_not_taken_reason)
    ):
        raise RuleViolation(
            _(
                "the person's statement (陈述/申辩, {article}) is required, or "
                "statement_not_taken_reason",
                article=rules.statement_article,
            ),
            field="statement",
        )
    proposal.status, proposal.decided_at = decision, now
    proposal.decided_by, proposal.decision_note = actor.username, note
    proposal.statement, proposal.statement_not_taken_reason = statement, statement_not_taken_reason
    proposal.decision_rules_version = _rules_version(session, now)
    if decision == "accepted":
        proposal.decision_document_number = document_number
    _resolve_proposal_alerts(session, [proposal.id], now, "建议已决定")
    session.flush()
    if decision == "accepted":
        # To the court with a copy to the procuratorate (社区矫正法 46, 49), in this
        # transaction (exchange/triggers.py).
        exchange.proposal_accepted(session, person, proposal, rules.label(proposal.kind), now)
    audit_person(
        session,
        actor,
        person,
        "incident.proposal",
        now=now,
        detail={"proposal_id": proposal.id, "kind": proposal.kind, "decision": decision},
    )
    return proposal


def list_proposals(
    session: Session, *, actor: Actor, person_id: int, status: str | None = None
) -> tuple[Person, list[IncidentProposal]]:
    """Every sanction proposal of the person, an episode's and the ladder's, newest first."""
    person = read_scoped(session, actor, person_id, action="proposal.list")
    stmt = select(IncidentProposal).where(IncidentProposal.person_id == person.id)
    if status is not None:
        stmt = stmt.where(IncidentProposal.status == status)
    order = (IncidentProposal.created_at.desc(), IncidentProposal.id.desc())
    return person, list(session.scalars(stmt.order_by(*order)))


def proposal_views(
    session: Session, actor: Actor, person: Person, proposals: list[IncidentProposal]
) -> list[dict[str, Any]]:
    """Proposals as ``actor`` may see them (notes and the person's statement are typed)."""
    rules = _rules()
    return privacy.present_all(
        session, actor, "proposal", [(person, proposal_view(p, rules)) for p in proposals]
    )


def proposal_view(p: IncidentProposal, rules: incident_rules.IncidentRules) -> dict[str, Any]:
    return {
        "id": p.id,
        "incident_id": p.incident_id,
        "kind": p.kind,
        "kind_label_zh": rules.label(p.kind),
        "status": p.status,
        "article": p.article,
        "rules_version": p.rules_version,
        "absence_days": p.absence_days,
        "evidence": p.evidence,
        "created_at": p.created_at,
        "decided_at": p.decided_at,
        "decided_by": p.decided_by,
        "decision_note": p.decision_note,
        "proposed_by": p.proposed_by or SYSTEM.username,
        "statement": p.statement,
        "statement_not_taken_reason": p.statement_not_taken_reason,
        "decision_rules_version": p.decision_rules_version,
        "decision_document_number": p.decision_document_number,
        "court_ruling": p.court_ruling,
        "court_ruled_on": p.court_ruled_on,
        "court_document_number": p.court_document_number,
    }


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
        else out_of_supervision_days(incident, today)
    )
    view = {
        "id": incident.id,
        "person_id": incident.person_id,
        "state": incident.state,
        "state_label_zh": _state_label(incident.state),
        "trigger_type": incident.trigger_type,
        "trigger_id": incident.trigger_id,
        "overdue_since": incident.overdue_since,
        "out_of_supervision_since": incident.out_of_supervision_since,
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
        "close_reason_label_zh": _close_label(incident.close_reason),
        "close_note": incident.close_note,
        "absence_days": days,
        "proposals": [proposal_view(p, rules) for p in proposals],
        "version": incident.version,
    }
    return privacy.present(session, actor, person, "incident", view)
