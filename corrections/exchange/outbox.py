"""The transactional outbox: a decision the law or the rules say must be copied or notified
writes its messages in its own transaction (:func:`emit`), one per receiving agency, each a
CloudEvents 1.0 envelope whose data holds only the fields ``rules/exchange.yaml`` gives that
receiver (for a juvenile, its ``juvenile`` list). Nothing is sent here: the agency's feed
serves the message from the commit on, and the relay pushes it to a broker where one is
configured. A receiver with no agency yet gets its message kept ``unrouted`` until one is
added (:func:`route_waiting`), never dropped."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from corrections.core.clock import now_utc
from corrections.exchange import rules as exchange_rules
from corrections.exchange.models import Agency, OutboxMessage
from corrections.org.models import Unit, UnitKind
from corrections.persons.models import Person

SPEC_VERSION = "1.0"


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _source(session: Session) -> str:
    """This bureau as the messages' source: ``urn:corrections:<city unit code>``."""
    cache = current_app.extensions.setdefault("corrections.exchange_source", {})
    if "source" not in cache:
        code = session.scalar(select(Unit.code).where(Unit.kind == UnitKind.CITY).limit(1))
        cache["source"] = current_app.config.get("EXCHANGE_SOURCE") or f"urn:corrections:{code}"
    return cache["source"]


def person_fields(session: Session, person: Person) -> dict[str, Any]:
    """Every person field a message may carry (the rules choose which a receiver gets)."""
    district = session.get(Unit, person.district_id)
    return {
        "person.ref": str(person.id),
        "person.name": person.name,
        "person.id_number": person.id_number,
        "person.gender": person.gender,
        "person.category": person.category,
        "person.juvenile": bool(person.juvenile),
        "person.term_start": person.term_start,
        "person.term_end": person.term_end,
        "unit.district_code": district.code if district else None,
        "unit.district_name_zh": district.name_zh if district else None,
    }


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"person.name": x}`` -> ``{"person": {"name": x}}``."""
    out: dict[str, dict[str, Any]] = {}
    for path, value in flat.items():
        group, _sep, name = path.partition(".")
        out.setdefault(group, {})[name] = _value(value)
    return out


def document_hash(*parts: Any) -> str | None:
    """``sha256:<hex>`` of a decision's document (its number and text), None without one."""
    text = "\n".join(str(p) for p in parts if p not in (None, ""))
    if not text:
        return None
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _agency_for(session: Session, kind: str, district_id: int | None) -> int | None:
    """The active agency of ``kind`` serving the district, else the city's; None: none yet."""
    rows = session.execute(
        select(Agency.id, Unit.kind)
        .join(Unit, Unit.id == Agency.unit_id)
        .where(
            Agency.kind == kind,
            Agency.active.is_(True),
            or_(Agency.unit_id == district_id, Unit.kind == UnitKind.CITY),
        )
        .order_by(Agency.id)
    ).all()
    local = [a for a, unit_kind in rows if unit_kind != UnitKind.CITY]
    city = [a for a, unit_kind in rows if unit_kind == UnitKind.CITY]
    return (local or city or [None])[0]


# The decision's fields a document hash covers (triggers.py): a receiver gets the hash only
# if it gets each of them that the decision has.
DOCUMENT_FIELDS = ("decision.legal_ground", "decision.document_number")


def emit(
    session: Session,
    name: str,
    *,
    person: Person | None,
    facts: dict[str, Any],
    now: datetime | None = None,
    document: str | None = None,
    agency_id: int | None = None,
    district_id: int | None = None,
) -> list[OutboxMessage]:
    """Write the messages of type ``name`` for this decision (one per receiver the rules
    name), in the caller's transaction. ``facts``: the decision's fields by their rules name
    (``decision.kind`` ...); the person's are added here. ``agency_id``: to that agency only
    (an answer to the agency that asked); ``district_id``: the district of a message about no
    person."""
    now = now or now_utc()
    rules = exchange_rules.current()
    message = rules.messages[name]
    if person is not None and not isinstance(person, Person):
        # A hot path's partial record (the supervision facts only): the whole one here.
        person = session.get(Person, person.id)
    available = {**(person_fields(session, person) if person is not None else {}), **facts}
    juvenile = bool(person is not None and person.juvenile)
    if person is not None:
        district_id = person.district_id
    hashed = {f for f in DOCUMENT_FIELDS if available.get(f) not in (None, "")}
    written = []
    for receiver in message.receivers:
        allowed = receiver.juvenile_fields if juvenile else receiver.fields
        data = _nest({f: available[f] for f in allowed if f in available})
        # To one agency (``agency_id``: an answer to the agency that asked), else the one of
        # the receiver's kind that serves the district.
        to = agency_id or _agency_for(session, receiver.kind, district_id)
        event_id = str(uuid.uuid4())
        envelope = {
            "specversion": SPEC_VERSION,
            "id": event_id,
            "source": _source(session),
            "type": message.cloudevents_type,
            "time": _value(now),
            "datacontenttype": "application/json",
            "dataschema": f"/api/v1/exchange/schemas/{name}",
            "rulesversion": rules.version,
            "article": receiver.article,
            "data": data,
        }
        if person is not None:
            envelope["subject"] = f"person/{person.id}"
            # Ordered per person (the CloudEvents partitioning extension).
            envelope["partitionkey"] = f"person-{person.id}"
        if document is not None and hashed.issubset(allowed):
            # Only to a receiver that gets the hashed text itself: to another, the hash of a
            # short text (a ground, a document number) would let it test guesses at it.
            envelope["documenthash"] = document
        row = OutboxMessage(
            event_id=event_id,
            agency_id=to,
            receiver_kind=receiver.kind,
            district_id=district_id,
            type=message.cloudevents_type,
            subject=envelope.get("subject"),
            person_id=person.id if person is not None else None,
            juvenile=juvenile,
            envelope=json.dumps(envelope, ensure_ascii=False, separators=(",", ":")),
            document_hash=document,
            article=receiver.article,
            rules_version=rules.version,
            created_at=now,
            state="pending" if to is not None else "unrouted",
            attempts=0,
        )
        session.add(row)
        written.append(row)
    session.flush()
    return written


def route_waiting(session: Session, agency: Agency) -> int:
    """Give a new agency the messages kept for its kind and jurisdiction (unrouted)."""
    unit = session.get(Unit, agency.unit_id)
    where = [OutboxMessage.state == "unrouted", OutboxMessage.receiver_kind == agency.kind]
    if unit.kind != UnitKind.CITY:
        where.append(OutboxMessage.district_id == unit.id)
    result = session.execute(
        update(OutboxMessage)
        .where(*where)
        .values(agency_id=agency.id, state="pending")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def envelope_of(row: OutboxMessage) -> dict[str, Any]:
    return json.loads(row.envelope)


def seals(session: Session, person_ids) -> dict[int, datetime]:
    """When each of these persons' records was sealed (犯罪记录封存), for those sealed."""
    from corrections.persons.models import PersonSeal

    ids = {i for i in person_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(PersonSeal.person_id, PersonSeal.sealed_at).where(PersonSeal.person_id.in_(ids))
    ).all()
    return dict(rows)


def served(row: OutboxMessage, sealed: dict[int, datetime]) -> dict[str, Any]:
    """The envelope as it is served now (the feed, the relay): a message written before its
    person's record was sealed keeps its place (id, type, time) without data or hash, so
    neither a re-read of the feed nor a late push brings the sealed record back. What the seal
    itself wrote (the discharge notice of 社区矫正法 44, the rules' juvenile minimum) goes."""
    envelope = envelope_of(row)
    sealed_at = sealed.get(row.person_id)
    if sealed_at is not None and row.created_at < sealed_at:
        envelope["data"] = {}
        envelope.pop("documenthash", None)
        envelope["sealed"] = True
    return envelope
