"""The supervision log: record an event (with its effects on obligations and the grade),
replay a retried request, list and show events."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.alerts import service as alerts
from corrections.audit import service as audit
from corrections.core import keys, ruleset_store
from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, DomainError, RuleViolation
from corrections.core.i18n import _
from corrections.core.pagination import paginate
from corrections.exchange import triggers as exchange
from corrections.grading import rules as grading_rules
from corrections.grading import service as grading
from corrections.persons import privacy
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.persons.scope import (
    SUPERVISION_COLUMNS,
    audit_person,
    get_scoped,
    holds_key_share,
    lock_person,
    read_scoped,
)
from corrections.supervision import obligations
from corrections.supervision.common import (
    category_text,
    current_rules,
    default_channel,
    event_text,
    require_supervised,
    status_is,
    status_text,
)
from corrections.supervision.decisions import check_decision
from corrections.supervision.models import (
    SanctionDecision,
    SupervisionEvent,
    SupervisionEventKey,
)
from corrections.supervision.rules import DECISION_EVENTS

# --- events ------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    """A loaded value as the hash sees it: an instant in UTC, so a retry that writes the same
    instant in another offset (+08:00 for Z) is the same body, not a reuse of its key."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    return str(value)


def request_hash(person_id: int, body: dict[str, Any], key: bytes | None = None) -> str:
    """The fingerprint of a request body, keyed (HMAC under the index key, the active one
    unless ``key``): the body can hold a new address, which an unkeyed hash stored beside the
    rest of the event would let anyone with the database confirm by guessing."""
    blob = json.dumps(
        {"person_id": person_id, "body": body},
        sort_keys=True,
        default=_canonical,
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
        "channel": channel or default_channel(type),
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
    if _writes_on_person(data):
        lock_person(session, person)
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
            raise Conflict(_("The event conflicts with one recorded at the same time.")) from None
        raise
    return person, event, False


# Events that change the person's own facts (their record, not only their log).
_PERSON_FACTS = frozenset({"address_change", "job_change"})


def share_locked(body: Any) -> bool:
    """Whether the event a request body (its JSON, not yet validated) records is recorded
    under the person's share lock alone (:func:`_hold_open_case`), which the token check then
    takes with its own statement (one round trip less). Validation keeps the type and whether
    a correction is named, so the validated body is recorded under the same lock."""
    return (
        isinstance(body, dict) and isinstance(body.get("type"), str) and not _writes_on_person(body)
    )


def _writes_on_person(data: dict[str, Any]) -> bool:
    """Whether recording this event reads the person's state and writes on it: a decision
    (checked against the person's other decisions), a correction, a change of the person's
    facts, or an event that moves the grade. Those are recorded under the person's row lock;
    a report, a visit or an hour entry is not (the hottest write: what it changes, the unique
    indexes and the obligation rows' own locks guard)."""
    kind = data["type"]
    return (
        kind in DECISION_EVENTS
        or kind in _PERSON_FACTS
        or data.get("corrects_id") is not None
        or any(kind in rule.data["events"] for rule in grading_rules.current().stricter_rules)
    )


def _record_checked(
    session: Session,
    actor: Actor,
    person: Person,
    data: dict[str, Any],
    idempotency_key: str | None,
    body_hash: str | None,
    now: datetime,
) -> SupervisionEvent:
    if not _writes_on_person(data):  # those took the person's lock
        _hold_open_case(session, person)
    require_supervised(person)
    tolerance = current_rules().future_tolerance
    if data["occurred_at"] > now + tolerance:
        raise RuleViolation(_("must not be in the future"), field="occurred_at")
    if business_date(data["occurred_at"]) < person.judgment_effective_date:
        raise RuleViolation(_("is before the judgment took effect"), field="occurred_at")
    rule = current_rules().event_types[data["type"]]
    if not rule.allows(person.category):
        raise RuleViolation(
            _(
                "a {kind} cannot be recorded for a person on {category} ({article})",
                kind=event_text(data["type"]),
                category=category_text(person.category),
                article=rule.article,
            ),
            field="type",
        )
    corrects = None
    if data.get("corrects_id") is not None:
        corrects = session.scalar(
            select(SupervisionEvent).where(
                SupervisionEvent.id == data["corrects_id"],
                SupervisionEvent.person_id == person.id,
            )
        )
        if corrects is None:
            raise RuleViolation(_("no such event of this person"), field="corrects_id")
        if corrects.type != data["type"]:
            raise RuleViolation(
                _("a correction keeps the type ({kind})", kind=event_text(corrects.type)),
                field="type",
            )
        if session.scalar(
            select(SupervisionEvent.id).where(SupervisionEvent.corrects_id == corrects.id)
        ):
            raise Conflict(
                _("That event was already corrected; correct the correction."),
                errors={"corrects_id": [_("already corrected")]},
            )
    level = article = None
    if data["type"] in DECISION_EVENTS:
        level, article = check_decision(session, actor, person, data, corrects, now)
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
        decision = SanctionDecision(
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
            rules_version=ruleset_store.versions(session, now, "supervision", "sanctions"),
            # A copy of the proposal to the procuratorate (实施办法 36): the exchange writes
            # it (rules/exchange.yaml sanction.police_penalty.proposed).
            notify_procuratorate=event.type == "police_penalty_proposal",
        )
        session.add(decision)
        session.flush()
        # The messages the law asks for, in this transaction (exchange/triggers.py).
        exchange.sanction_decided(
            session, person, decision, current_rules().event_types[event.type].label_zh, now
        )
    return event


def _hold_open_case(session: Session, person: Person) -> None:
    """On PostgreSQL, before anything is written: share-lock the person's row (``FOR KEY
    SHARE``, the lock the event's foreign key takes anyway, taken first) and re-read the status
    under it.

    An end of case holds the row ``FOR UPDATE`` (persons/scope.py ``close_log``), which this
    waits for; the re-read then sees the ended status and the event is refused before any row
    is touched. Taken at the start, not at the insert: an event that held an obligation row
    while queued behind the end, beside another event of the person already holding the share
    lock and wanting that obligation row, made a deadlock. Several events of one person share
    the lock and do not wait for each other. On SQLite every write transaction is alone from
    its first statement (``BEGIN IMMEDIATE``).

    If the token check took that lock (the route asks it to, see :func:`share_locked`), the
    status it loaded was read under it, and nothing more is sent.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    if holds_key_share(session, person.id):
        status = person.status
    else:
        status = session.execute(_KEY_SHARE_STATUS, {"person_id": person.id}).scalar_one()
    if status not in OPEN_STATUSES:
        raise Conflict(
            _(
                "The person's correction ended while this was being recorded ({status}); "
                "nothing more can be recorded.",
                status=status_text(status),
            ),
            errors={"person_id": [status_is(status)]},
        )


_P = Person.__table__
# Built once: the share lock of an event recorded without the token check's (see above).
_KEY_SHARE_STATUS = (
    select(_P.c.status)
    .where(_P.c.id == bindparam("person_id"))
    .with_for_update(read=True, key_share=True)
)


def _replay(
    session: Session,
    actor: Actor,
    key: str,
    body_hash: str | None,
    rehash: Callable[[bytes], str] | None = None,
) -> SupervisionEvent | None:
    # The key's claim names the event and its month: one partition is read, not every one.
    claim = SupervisionEventKey
    existing = session.scalar(
        select(SupervisionEvent)
        .join(
            claim,
            (claim.event_id == SupervisionEvent.id)
            & (claim.recorded_at == SupervisionEvent.recorded_at),
        )
        .where(claim.recorded_by_id == actor.user_id, claim.idempotency_key == key)
    )
    if existing is None:
        return None
    # Hashed before an index key rotation: the same body hashes alike under an older key.
    older = keys.current().all("index").values() if rehash else ()
    if existing.request_hash != body_hash and existing.request_hash not in {
        rehash(k) for k in older
    }:
        raise Conflict(
            _("This Idempotency-Key was already used with a different request."),
            errors={"Idempotency-Key": [_("reused with a different body")]},
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
    rules = current_rules()
    out = []
    for e in events:
        s = sanctions.get(e.id)
        out.append(
            {
                "id": e.id,
                "person_id": e.person_id,
                "type": e.type,
                "type_label_zh": rules.event_types[e.type].label_zh,
                "occurred_at": e.occurred_at,
                "recorded_at": e.recorded_at,
                "recorded_by": e.recorded_by,
                "channel": e.channel,
                "channel_label_zh": rules.channels.get(e.channel) if e.channel else None,
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
