"""Use cases of the supervision log: events, sanctions, obligations, travel permits, electronic
monitoring and the end or transfer of a term. Scope is enforced in every query (another
office's person is a 404) and every read and write is audited."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from corrections.alerts import service as alerts
from corrections.audit import service as audit
from corrections.core import clocks, keys
from corrections.core import rules as registry
from corrections.core.auth import Actor
from corrections.core.clock import add_months, business_date, now_utc, start_of_business_day
from corrections.core.errors import Conflict, DomainError, Forbidden, RuleViolation
from corrections.core.pagination import paginate
from corrections.grading import rules as grading_rules
from corrections.grading import service as grading
from corrections.org.models import Unit, UnitKind
from corrections.persons import privacy
from corrections.persons import service as persons
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.persons.scope import (
    LEVEL_RANK,
    SUPERVISION_COLUMNS,
    audit_person,
    get_record_of,
    get_scoped,
    read_scoped,
    require_level,
    scope_clause,
)
from corrections.supervision import obligations, travel_rules
from corrections.supervision import rules as supervision_rules
from corrections.supervision.models import (
    MonitoringPeriod,
    Obligation,
    PersonTransfer,
    SanctionDecision,
    SupervisionEvent,
    TermEnd,
    TravelPermit,
)
from corrections.supervision.rules import DECISION_EVENTS, SANCTIONS

DEFAULT_CHANNEL = {
    "report": "in_person",
    "phone_check": "phone",
    "location_check": "app",
    "field_visit": "field",
    "talk": "in_person",
}
LEVEL_LABELS = {"office": "司法所审批", "district": "区司法局审批", "city": "市司法局审批"}
PERMIT_STATUS_LABELS = {
    "requested": "待审批",
    "approved": "已批准",
    "rejected": "不予批准",
    "departed": "已离开",
    "returned": "已返回",
    "overdue": "逾期未归",
    "expired": "未出行",
    "cancelled": "已撤销",
}
OBLIGATION_STATUS_LABELS = {
    "open": "待履行",
    "fulfilled": "已履行",
    "missed": "未履行",
    "excused": "已免除",
}
ACTIVE_PERMITS = ("requested", "approved", "departed", "overdue")


def _rules() -> dict[str, Any]:
    return supervision_rules.current()


def _require_supervised(person: Person) -> None:
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            f"The person's correction has ended ({person.status}); nothing more can be recorded.",
            errors={"person_id": [f"status is {person.status}"]},
        )


# --- events ------------------------------------------------------------------------------


def request_hash(person_id: int, body: dict[str, Any], key: bytes | None = None) -> str:
    """The fingerprint of a request body, keyed (HMAC under the index key, the active one
    unless ``key``): the body can hold a new address, which an unkeyed hash stored beside the
    rest of the event would let anyone with the database confirm by guessing."""
    blob = json.dumps(
        {"person_id": person_id, "body": body},
        sort_keys=True,
        default=str,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    if key is None:
        key = keys.current().active("index")[1]
    return hmac.new(key, blob.encode("utf-8"), hashlib.sha256).hexdigest()


def record_event(
    session: Session,
    *,
    actor: Actor,
    person: Person,
    type: str,
    occurred_at: datetime,
    payload: dict[str, Any] | None = None,
    channel: str | None = None,
    note: str | None = None,
    corrects: SupervisionEvent | None = None,
    idempotency_key: str | None = None,
    body_hash: str | None = None,
    now: datetime | None = None,
) -> SupervisionEvent:
    """Append one event and apply its effects (obligations, grade, person facts) in the same
    transaction. The insert runs first, so a duplicate key fails before any effect happens."""
    now = now or now_utc()
    values = {
        "person_id": person.id,
        "type": type,
        "occurred_at": occurred_at,
        "recorded_at": now,
        "recorded_by_id": actor.user_id,
        "recorded_by": actor.username,
        "channel": channel or DEFAULT_CHANNEL.get(type),
        "note": note,
        "payload": payload or {},
        "corrects_id": corrects.id if corrects else None,
        "idempotency_key": idempotency_key,
        "request_hash": body_hash,
    }
    event = SupervisionEvent(**values)
    # Which interval window the event fulfils is decided before the insert: on PostgreSQL
    # that window's UPDATE and its successor's INSERT then ride in the event's own statement.
    plan = None if corrects else obligations.plan_fulfilment(session, person, event, now)
    then, then_params = _riders(person, event, plan, corrects, now)
    # A plain INSERT ... RETURNING with its audit row (one statement on PostgreSQL): the log is
    # append-only, so the unit of work has nothing to track, and this is the hottest write.
    event.id, fulfilled = audit.insert_audited(
        session,
        _INSERT_EVENT,
        values,
        actor=actor,
        action="event.create",
        subject_type="person",
        subject_id=person.id,
        juvenile=person.juvenile,
        id_key="event_id",
        detail={"type": type},
        now=now,
        then=then,
        then_params=then_params,
    )
    if type == "address_change":
        person.address, person.updated_at = event.payload["new_address"], now
    elif type == "job_change":
        person.employment, person.updated_at = event.payload["employment"], now
    if type == "monitor_alarm" and corrects is None:
        alerts.raise_one(
            session,
            person_id=person.id,
            kind="monitor_alarm",
            subject_type="event",
            subject_id=event.id,
            detail={"alarm": event.payload.get("alarm"), "event_id": event.id},
            now=now,
            raised_by=actor.username,
        )
    if corrects is not None:
        obligations.on_correction(session, person, corrects, event, now)
        return event
    if fulfilled is None:  # what the insert's statement did not carry (other databases)
        obligations.on_event(session, person, event, now, plan)
    elif plan is not None:
        obligations.after_fulfilment(session, person, event, plan, fulfilled[0], now)
    # else: an hour entry, already added up in the insert's statement
    grading.on_event(session, actor=actor, person=person, event=event, now=now)
    return event


def _riders(
    person: Person,
    event: SupervisionEvent,
    plan: obligations.Fulfilment | None,
    corrects: SupervisionEvent | None,
    now: datetime,
) -> tuple[Any, dict | None]:
    """What rides in the event's INSERT statement on PostgreSQL: the interval window it
    fulfils, or the month's hours it adds to (nothing for a correction)."""
    if plan is not None:
        return obligations.fulfil_ctes, obligations.fulfil_params(
            person, plan, event.occurred_at, now
        )
    kind = None if corrects else obligations.event_kind(event)
    if kind in obligations.HOUR_KINDS and person.grade is not None:
        return obligations.hours_ctes, obligations.hours_params(person, kind, event, now)
    return None, None


_INSERT_EVENT = insert(SupervisionEvent.__table__).returning(SupervisionEvent.__table__.c.id)


def decision_rule(kind: str) -> dict[str, Any]:
    """Who decides ``kind`` and on which article: a sanction's level is in
    ``rules/sanctions.yaml`` (``kinds``), every other decision's in ``rules/supervision.yaml``
    (``decision_levels``)."""
    if kind in ("admonition", "warning"):
        rule = registry.get("sanctions")["kinds"][kind]
        return {"level": rule["decided_by"], "article": rule["article"]}
    return _rules()["decision_levels"][kind]


def require_decision_level(actor: Actor, person: Person, kind: str, what: str) -> str:
    """The actor's level for a decision of ``kind``, or Forbidden naming the rule."""
    rule = decision_rule(kind)
    if rule["level"] == "district_head":
        have = require_level(actor, person, "district", f"{what} ({rule['article']})")
        if actor.username not in (current_app.config.get("DISTRICT_HEADS") or ()):
            raise Forbidden(
                f"{what} is approved by the head of the county-level justice bureau "
                f"({rule['article']}); this account is not one (DISTRICT_HEADS)."
            )
        return have
    return require_level(actor, person, rule["level"], f"{what} ({rule['article']})")


def _check_decision(
    session: Session,
    actor: Actor,
    person: Person,
    data: dict[str, Any],
    corrects: SupervisionEvent | None,
    now: datetime,
) -> tuple[str, str]:
    """A decision recorded as an event (a sanction, a commendation, a police-penalty proposal
    or the police's decision): the level it needs, its conditions and its evidence. Returns
    (the actor's level, the article)."""
    kind = data["type"]
    rule = decision_rule(kind)
    needed = rule["level"]
    if corrects is not None:
        # A correction needs the level of the decision it corrects.
        corrected = session.scalar(
            select(SanctionDecision.decider_level).where(SanctionDecision.event_id == corrects.id)
        )
        if corrected is not None and LEVEL_RANK[corrected] > LEVEL_RANK.get(needed, 1):
            needed = corrected
        level = require_level(actor, person, needed, f"Correcting a {kind} ({rule['article']})")
    else:
        level = require_decision_level(actor, person, kind, f"The {kind}")
    if kind in SANCTIONS and corrects is None:
        refused = _rules()["sanctions"][kind].get("refused_for", ())
        if person.category in refused:
            raise RuleViolation(
                f"a {kind} cannot be given to a person on {person.category}", field="type"
            )
    if kind == "commendation" and corrects is None:
        _check_commendation(session, person, rule, now)
    if kind == "police_penalty" and corrects is None:
        proposal = session.scalar(
            select(SupervisionEvent.id).where(
                SupervisionEvent.id == data["payload"]["proposal_event_id"],
                SupervisionEvent.person_id == person.id,
                SupervisionEvent.type == "police_penalty_proposal",
            )
        )
        if proposal is None:
            raise RuleViolation(
                "the police decide on the agency's proposal (提请治安管理处罚, "
                f"{rule['article']}): name a police_penalty_proposal of this person",
                field="payload.proposal_event_id",
            )
    ids = sorted(set(data["payload"].get("evidence_event_ids") or ()))
    if ids:
        _check_evidence(session, person, ids)
    return level, rule["article"]


def _check_commendation(
    session: Session, person: Person, rule: dict[str, Any], now: datetime
) -> None:
    """表扬 only after the rules' months under supervision without any sanction."""
    months = rule.get("sanction_free_months", 0)
    if not months:
        return
    since = add_months(business_date(now), -months)
    if person.term_start > since:
        raise RuleViolation(
            f"a commendation needs {months} months under supervision without sanction "
            f"(supervised since {person.term_start})",
            field="type",
        )
    last = session.scalar(
        select(SupervisionEvent.occurred_at)
        .where(
            SupervisionEvent.person_id == person.id,
            SupervisionEvent.type.in_(SANCTIONS),
            SupervisionEvent.occurred_at >= start_of_business_day(since),
        )
        .limit(1)
    )
    if last is not None:
        raise RuleViolation(
            f"a commendation needs {months} months without sanction; one was given on "
            f"{business_date(last)}",
            field="type",
        )


def _check_evidence(session: Session, person: Person, ids: list[int]) -> None:
    found = set(
        session.scalars(
            select(SupervisionEvent.id).where(
                SupervisionEvent.id.in_(ids), SupervisionEvent.person_id == person.id
            )
        )
    )
    if found != set(ids):
        raise RuleViolation(
            "evidence must be events of this person: unknown "
            + ", ".join(str(i) for i in sorted(set(ids) - found)),
            field="payload.evidence_event_ids",
        )


def record_from_request(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    idempotency_key: str | None,
    now: datetime | None = None,
) -> tuple[Person, SupervisionEvent, bool]:
    """Record an event from the API; returns (person, event, replayed).

    A retried request with the same ``Idempotency-Key`` and body gets the first event back;
    another body with that key is 409. The unique key in the database finds a retry, not a
    read ahead of the insert: the common case costs no extra query, and concurrent retries
    still store one event.
    """
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, columns=SUPERVISION_COLUMNS)
    body_hash = request_hash(person.id, data) if idempotency_key else None
    try:
        event = _record_checked(session, actor, person, data, idempotency_key, body_hash, now)
    except (DomainError, IntegrityError) as exc:
        # The event insert is this use case's first write, so rolling back loses nothing.
        session.rollback()
        if idempotency_key:
            replay = _replay(
                session,
                actor,
                idempotency_key,
                body_hash,
                lambda k: request_hash(person_id, data, k),
            )
            if replay is not None:
                person = get_scoped(session, actor, person_id)
                # The replay shows the stored event: a read of the record like any other.
                audit_person(
                    session, actor, person, "event.replay", now=now, detail={"event_id": replay.id}
                )
                return person, replay, True
        if isinstance(exc, IntegrityError):
            raise Conflict("The event conflicts with one recorded at the same time.") from None
        raise
    return person, event, False


def _record_checked(
    session: Session,
    actor: Actor,
    person: Person,
    data: dict[str, Any],
    idempotency_key: str | None,
    body_hash: str | None,
    now: datetime,
) -> SupervisionEvent:
    _require_supervised(person)
    tolerance = timedelta(minutes=_rules()["future_tolerance_minutes"])
    if data["occurred_at"] > now + tolerance:
        raise RuleViolation("must not be in the future", field="occurred_at")
    if business_date(data["occurred_at"]) < person.judgment_effective_date:
        raise RuleViolation("is before the judgment took effect", field="occurred_at")
    corrects = None
    if data.get("corrects_id") is not None:
        corrects = session.scalar(
            select(SupervisionEvent).where(
                SupervisionEvent.id == data["corrects_id"],
                SupervisionEvent.person_id == person.id,
            )
        )
        if corrects is None:
            raise RuleViolation("no such event of this person", field="corrects_id")
        if corrects.type != data["type"]:
            raise RuleViolation(f"a correction keeps the type ({corrects.type})", field="type")
        if session.scalar(
            select(SupervisionEvent.id).where(SupervisionEvent.corrects_id == corrects.id)
        ):
            raise Conflict(
                "That event was already corrected; correct the correction.",
                errors={"corrects_id": ["already corrected"]},
            )
    level = article = None
    if data["type"] in DECISION_EVENTS:
        level, article = _check_decision(session, actor, person, data, corrects, now)
    event = record_event(
        session,
        actor=actor,
        person=person,
        type=data["type"],
        occurred_at=data["occurred_at"],
        payload=data["payload"],
        channel=data["channel"],
        note=data["note"],
        corrects=corrects,
        idempotency_key=idempotency_key,
        body_hash=body_hash,
        now=now,
    )
    if level is not None:
        session.add(
            SanctionDecision(
                event_id=event.id,
                person_id=person.id,
                kind=event.type,
                decided_by_id=actor.user_id,
                decided_by=actor.username,
                decider_level=level,
                decider_unit_id=actor.unit_id,
                legal_ground=event.payload.get("legal_ground") or event.payload.get("reason"),
                evidence_event_ids=sorted(set(event.payload.get("evidence_event_ids") or ())),
                document_number=event.payload.get("document_number"),
                decided_at=now,
                article=article,
                rules_version=_rules()["version"],
                # A copy of the proposal to the procuratorate (实施办法 36): the exchange
                # outbox (a later issue) picks these up.
                notify_procuratorate=event.type == "police_penalty_proposal",
            )
        )
        session.flush()
    return event


def _replay(
    session: Session,
    actor: Actor,
    key: str,
    body_hash: str | None,
    rehash: Callable[[bytes], str] | None = None,
) -> SupervisionEvent | None:
    existing = session.scalar(
        select(SupervisionEvent).where(
            SupervisionEvent.recorded_by_id == actor.user_id,
            SupervisionEvent.idempotency_key == key,
        )
    )
    if existing is None:
        return None
    # Hashed before an index key rotation: the same body hashes alike under an older key.
    older = keys.current().all("index").values() if rehash else ()
    if existing.request_hash != body_hash and existing.request_hash not in {
        rehash(k) for k in older
    }:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            errors={"Idempotency-Key": ["reused with a different body"]},
        )
    return existing


def list_events(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[Person, list[SupervisionEvent], int]:
    person = read_scoped(session, actor, person_id, action="event.list")
    stmt = select(SupervisionEvent).where(SupervisionEvent.person_id == person.id)
    if type is not None:
        stmt = stmt.where(SupervisionEvent.type == type)
    if since is not None:
        stmt = stmt.where(SupervisionEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(SupervisionEvent.occurred_at < until)
    rows, total = paginate(
        session,
        stmt,
        SupervisionEvent.occurred_at.desc(),
        SupervisionEvent.id.desc(),
        page=page,
        page_size=page_size,
    )
    return person, rows, total


def event_views(
    session: Session,
    actor: Actor,
    person: Person,
    events: list[SupervisionEvent],
    *,
    new: bool = False,
) -> list[dict[str, Any]]:
    """Events as the caller may see them, with labels, sanction records and corrections.

    ``new``: events recorded by this very request, which nothing can have corrected yet.
    """
    ids = [e.id for e in events]
    sanction_ids = [e.id for e in events if e.type in DECISION_EVENTS]
    sanctions = {}
    if sanction_ids:
        query = select(SanctionDecision).where(SanctionDecision.event_id.in_(sanction_ids))
        sanctions = {s.event_id: s for s in session.scalars(query)}
    corrected_by = {}
    if ids and not new:
        query = select(SupervisionEvent.corrects_id, SupervisionEvent.id).where(
            SupervisionEvent.corrects_id.in_(ids)
        )
        corrected_by = dict(session.execute(query).all())
    rules = _rules()
    out = []
    for e in events:
        s = sanctions.get(e.id)
        out.append(
            {
                "id": e.id,
                "person_id": e.person_id,
                "type": e.type,
                "type_label_zh": rules["event_types"][e.type]["label_zh"],
                "occurred_at": e.occurred_at,
                "recorded_at": e.recorded_at,
                "recorded_by": e.recorded_by,
                "channel": e.channel,
                "channel_label_zh": rules["channels"].get(e.channel) if e.channel else None,
                "note": e.note,
                "payload": dict(e.payload or {}),
                "corrects_id": e.corrects_id,
                "corrected_by_id": corrected_by.get(e.id),
                "sanction": None
                if s is None
                else {
                    "decided_by": s.decided_by,
                    "decider_level": s.decider_level,
                    "legal_ground": s.legal_ground,
                    "evidence_event_ids": s.evidence_event_ids,
                    "document_number": s.document_number,
                    "decided_at": s.decided_at,
                    "article": s.article,
                    "rules_version": s.rules_version,
                    "notify_procuratorate": s.notify_procuratorate,
                },
            }
        )
    return privacy.present_all(session, actor, "event", [(person, v) for v in out])


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
    office: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[tuple[Obligation, str, privacy.PersonRef]], int]:
    """Obligations of the persons in scope: an office's work list (oldest due first). The
    persons listed are audited, in one row, by the response that shows them."""
    stmt = (
        select(
            Obligation,
            Unit.code,
            Person.juvenile,
            Person.office_id,
            Person.district_id,
        )
        .join(Person, Person.id == Obligation.person_id)
        .join(Unit, Unit.id == Person.office_id)
        .where(scope_clause(actor))
    )
    if status is not None:
        stmt = stmt.where(Obligation.status == status)
    if kind is not None:
        stmt = stmt.where(Obligation.kind == kind)
    if due_before is not None:
        stmt = stmt.where(Obligation.due_on <= due_before)
    if office is not None:
        stmt = stmt.where(Unit.code == office)
    rows, total = paginate(
        session, stmt, Obligation.due_on, Obligation.id, page=page, page_size=page_size
    )
    return [
        (o, code, privacy.PersonRef(o.person_id, juvenile, office_id, district_id))
        for o, code, juvenile, office_id, district_id in rows
    ], total


def obligation_view(
    session: Session,
    actor: Actor,
    ob: Obligation,
    *,
    person: privacy.Subject | None = None,
    office_code: str | None = None,
) -> dict[str, Any]:
    """An obligation as ``actor`` may see it (an excuse's reason is typed text)."""
    rules = _rules()["obligations"]
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
    view["kind_label_zh"] = rules[ob.kind]["label_zh"]
    view["status_label_zh"] = OBLIGATION_STATUS_LABELS[ob.status]
    if office_code is not None:
        view["office_code"] = office_code
    person = person or session.get(Person, ob.person_id)
    return privacy.present(session, actor, person, "obligation", view)


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
    date ...). Decided by the person's office or above; an interval obligation's next window is
    then planned from the day it was due, as after a fulfilment."""
    now = now or now_utc()
    person, ob = get_record_of(session, actor, person_id, Obligation, obligation_id, "obligation")
    require_level(actor, person, "office", "Excusing an obligation")
    if ob.status not in ("open", "missed"):
        raise Conflict(f"The obligation is {ob.status}; only an open or missed one can be excused.")
    was = ob.status
    ob.status, ob.closed_reason, ob.updated_at = "excused", reason, now
    session.flush()
    if was == "open" and ob.kind in obligations.INTERVAL_KINDS:
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


# --- travel permits ----------------------------------------------------------------------


def _overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)


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
    person = get_scoped(session, actor, person_id)
    if person.status != "active":
        raise Conflict(
            "Only a person under active supervision can travel.",
            errors={"person_id": [f"status is {person.status}"]},
        )
    start, end = data["start_date"], data["end_date"]
    if start < today:
        raise RuleViolation("must not be in the past", field="start_date")
    if end < start:
        raise RuleViolation("must not be before start_date", field="end_date")
    others = session.scalars(
        select(TravelPermit).where(
            TravelPermit.person_id == person.id,
            TravelPermit.status.in_((*ACTIVE_PERMITS, "returned")),
        )
    ).all()
    for other in others:
        if other.status != "returned" and _overlap_days(
            start, end, other.start_date, other.end_date
        ):
            raise Conflict(
                f"Overlaps travel permit {other.id}.",
                errors={"start_date": [f"overlaps permit {other.id}"]},
            )
    decision = travel_rules.decide(
        start,
        end,
        other_trips=[travel_rules.Trip(o.start_date, o.end_date) for o in others],
        rules=travel_rules.TravelRules.from_yaml(_rules()),
        grade=_grade_travel(person),
        today=today,
    )
    if decision.refused:
        first = decision.refusals[0]
        raise RuleViolation(
            f"{first.text} ({first.article})",
            errors={"end_date": [f"{r.text} ({r.article})" for r in decision.refusals]},
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
    req = rules.grade(person.grade).requirements
    return travel_rules.GradeTravel(
        grade=person.grade,
        approver=req.travel_approver,
        max_days=req.travel_max_days,
        conditions=req.travel_conditions,
        rules_version=rules.version,
    )


def _permit(
    session: Session, actor: Actor, person_id: int, record_id: int
) -> tuple[Person, TravelPermit]:
    return get_record_of(session, actor, person_id, TravelPermit, record_id, "travel permit")


def _save_permit(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("Someone else changed this permit at the same time.") from exc


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
    require_level(actor, person, permit.approval_level, "This travel permit")
    if permit.status != "requested":
        raise Conflict(f"The permit is {permit.status}, not awaiting a decision.")
    if approve and permit.end_date < business_date(now):
        raise Conflict("The permit's period is over; it can no longer be approved.")
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
    if occurred_at > now + timedelta(minutes=_rules()["future_tolerance_minutes"]):
        raise RuleViolation("must not be in the future", field="occurred_at")
    if departure:
        if permit.status != "approved":
            raise Conflict(f"The permit is {permit.status}; departure needs an approved one.")
        permit.status, permit.departed_at = "departed", occurred_at
    else:
        if permit.status not in ("departed", "overdue"):
            raise Conflict(f"The permit is {permit.status}; there is no departure to return from.")
        if permit.departed_at and occurred_at < permit.departed_at:
            raise RuleViolation("must not be before the departure", field="occurred_at")
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


def permit_view(session: Session, actor: Actor, permit: TravelPermit) -> dict[str, Any]:
    """A travel permit as ``actor`` may see it (destination, reason and notes are typed)."""
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
    view["approval_level_label_zh"] = LEVEL_LABELS[permit.approval_level]
    labels = grading_rules.current().travel_conditions
    view["conditions"] = [
        {"kind": c, "kind_label_zh": labels.get(c, {}).get("label_zh", c)}
        for c in permit.conditions or ()
    ]
    view["decision_reasons"] = list(permit.decision_reasons or ())
    view["status_label_zh"] = PERMIT_STATUS_LABELS[permit.status]
    person = session.get(Person, permit.person_id)
    return privacy.present(session, actor, person, "travel_permit", view)


# --- electronic monitoring ---------------------------------------------------------------


def _period_end(period: MonitoringPeriod) -> date:
    return business_date(period.removed_at) if period.removed_at else period.end_date


def _check_period(
    session: Session, person: Person, start: date, end: date, exclude: int | None = None
) -> None:
    limit = clocks.current()["monitoring_period"]
    if end < start:
        raise RuleViolation("must not be before start_date", field="end_date")
    if end > clocks.due("monitoring_period", start, clocks.current()):
        raise RuleViolation(
            f"a monitoring period lasts at most {limit.amount} months ({limit.article})",
            field="end_date",
        )
    for other in session.scalars(
        select(MonitoringPeriod).where(MonitoringPeriod.person_id == person.id)
    ):
        if other.id != exclude and _overlap_days(start, end, other.start_date, _period_end(other)):
            raise Conflict(
                f"Overlaps monitoring period {other.id}.",
                errors={"start_date": [f"overlaps period {other.id}"]},
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
    person = get_scoped(session, actor, person_id)
    _require_supervised(person)
    require_decision_level(actor, person, "monitoring", "Electronic monitoring")
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
        session, actor, person_id, MonitoringPeriod, record_id, "monitoring period"
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
    _require_supervised(person)
    require_decision_level(actor, person, "monitoring", "Extending electronic monitoring")
    if period.removed_at is not None:
        raise Conflict("The period was removed; open a new one instead.")
    if session.scalar(select(MonitoringPeriod.id).where(MonitoringPeriod.extends_id == period.id)):
        raise Conflict("The period was already extended; extend the latest one.")
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
    require_level(actor, person, "district", "Removing electronic monitoring")
    if period.removed_at is not None:
        raise Conflict("The period was already removed.")
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
    ground = _rules()["monitoring"]["grounds"][period.ground]
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
        due = today + timedelta(days=_rules()["transfer"]["report_within_days"])
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
