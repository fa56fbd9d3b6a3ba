"""Documents partner agencies send in (``POST /api/v1/exchange/inbound``): a court's judgment
notice starts a case (the intake record, its 10-day reporting clock), a police notice of
detention elsewhere starts the pause of 社区矫正法 32. Each is a CloudEvents 1.0 envelope of a
type ``rules/exchange.yaml`` ``inbound`` names for the sender's agency kind, validated with
the same checks as the staff's own forms, idempotent on the sender's message id (a replay
returns the first result and changes nothing) and audited under the partner account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core import crypto
from corrections.core.auth import Actor
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, NotFound, RuleViolation
from corrections.core.i18n import _
from corrections.core.schemas import DateTime, TrimmedString
from corrections.exchange import rules as exchange_rules
from corrections.exchange.models import Agency, InboundMessage, OutboxMessage
from corrections.exchange.service import agency_of
from corrections.org.models import Unit, UnitKind
from corrections.persons.models import ID_NUMBER_INDEX, OPEN_STATUSES, Person, normal_id_number
from corrections.persons.schemas import PersonWritableSchema
from corrections.supervision import detention as detentions
from corrections.supervision import intake
from corrections.supervision.schemas import DetentionInSchema


class EnvelopeSchema(ma.Schema):
    """A CloudEvents 1.0 envelope (structured mode); ``data`` is checked by its type."""

    class Meta:
        unknown = ma.EXCLUDE  # CloudEvents extensions are the sender's business

    specversion = ma.fields.String(required=True, validate=ma.validate.OneOf(["1.0"]))
    id = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[A-Za-z0-9._:-]{1,100}$"),
        metadata={"description": "The sender's message id: a replay of it changes nothing"},
    )
    source = TrimmedString(required=True, validate=ma.validate.Length(min=1, max=200))
    type = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    time = DateTime(load_default=None)
    data = ma.fields.Dict(required=True)


class JudgmentNoticeSchema(PersonWritableSchema):
    """A court's judgment or ruling notice: the intake's facts, with the office that executes
    it (``office_code``, required) and the judgment's document number."""

    class Meta:
        unknown = ma.RAISE

    document_number = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=64))


class PersonRefSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    ref = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9]{1,19}$"))
    id_number = ma.fields.String(validate=ma.validate.Length(min=15, max=18))

    @ma.validates_schema
    def _one(self, data: dict[str, Any], **kwargs: Any) -> None:
        # Exactly one: both, and which one names the person would be a guess.
        if bool(data.get("ref")) == bool(data.get("id_number")):
            raise ma.ValidationError(_("give ref or id_number, not both"), field_name="ref")


class DetentionNoticeSchema(DetentionInSchema):
    """A police notice that the person is held (拘留, 强制措施): the person by our ``ref``
    (from a message of ours) or ID number, and the detention's facts."""

    class Meta:
        unknown = ma.RAISE

    person = ma.fields.Nested(PersonRefSchema, required=True)


_DATA_SCHEMAS = {"judgment.notice": JudgmentNoticeSchema, "detention.notice": DetentionNoticeSchema}


def _flat(messages: Any, prefix: str):
    """Nested marshmallow messages as (``data.person.ref``, [messages]) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flat(value, f"{prefix}.{key}")
    else:
        yield prefix, messages if isinstance(messages, list) else [messages]


def _data(name: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return _DATA_SCHEMAS[name]().load(data)
    except ma.ValidationError as exc:
        errors = dict(_flat(exc.normalized_messages(), "data"))
        raise RuleViolation(
            _("The document's data do not fit its type: {fields}", fields=", ".join(errors)),
            errors=errors,
        ) from None


def _serves(session: Session, agency: Agency, district_id: int) -> bool:
    unit = session.get(Unit, agency.unit_id)
    return unit.kind == UnitKind.CITY or unit.id == district_id


def _person(session: Session, agency: Agency, ref: dict[str, Any]) -> Person:
    """The open record the sender names, within its agency's jurisdiction (else not found:
    nothing is said about records elsewhere)."""
    stmt = select(Person).where(Person.status.in_(OPEN_STATUSES))
    if ref.get("ref"):
        # Our reference is known only from our own messages to this agency: a number it was
        # never sent is not a way to try persons one by one.
        told = select(OutboxMessage.id).where(
            OutboxMessage.agency_id == agency.id, OutboxMessage.person_id == int(ref["ref"])
        )
        stmt = stmt.where(Person.id == int(ref["ref"]), told.exists())
    else:
        indexes = crypto.blind_indexes(normal_id_number(ref["id_number"]), ID_NUMBER_INDEX)
        stmt = stmt.where(Person.id_number_bidx.in_(indexes))
    person = session.scalar(stmt.with_for_update())
    if person is None or not _serves(session, agency, person.district_id):
        raise NotFound(_("No open case of this person in your jurisdiction."))
    return person


def _judgment(session: Session, actor: Actor, agency: Agency, data: dict, now: datetime):
    """The intake record (待报到), its 10-day reporting clock from the judgment's effect. The
    intake's own office check takes the partner's jurisdiction (persons/service.py
    ``_office_for_intake``): an office elsewhere is a 422 on ``data.office_code``."""
    facts = {k: v for k, v in data.items() if k != "document_number"}
    person = intake.intake(session, actor=actor, data=facts, now=now)
    return person, {"intake_deadline": person.intake_deadline.isoformat()}


def _detention(session: Session, actor: Actor, agency: Agency, data: dict, now: datetime):
    """A detention by another authority: what falls due from its start is excused (Art. 32)."""
    person = _person(session, agency, data.pop("person"))
    held = detentions.record_for(session, actor=actor, person=person, data=data, now=now)
    return person, {"detention_id": held.id}


_HANDLERS = {"judgment.notice": _judgment, "detention.notice": _detention}


def receive(
    session: Session, *, actor: Actor, envelope: dict[str, Any], now: datetime | None = None
) -> tuple[InboundMessage, bool]:
    """Take in one document; (its record, True when it is a replay of one taken before)."""
    now = now or now_utc()
    agency = agency_of(session, actor)
    rules = exchange_rules.current()
    kind = rules.inbound.get(envelope["type"])
    if kind is None or agency.kind not in kind["senders"]:
        raise RuleViolation(
            _("not a document type your agency sends (GET /api/v1/exchange/schemas)"),
            field="type",
        )
    first = session.scalar(
        select(InboundMessage).where(
            InboundMessage.agency_id == agency.id, InboundMessage.event_id == envelope["id"]
        )
    )
    if first is not None:
        if first.type != envelope["type"]:
            raise Conflict(
                _("This message id was already used for another document."),
                errors={"id": [_("already used")]},
            )
        return first, True
    data = _data(kind["name"], envelope["data"])
    try:
        person, result = _HANDLERS[kind["name"]](session, actor, agency, data, now)
    except (RuleViolation, Conflict) as exc:
        # The domain's checks name the fields of the data: as the envelope has them.
        if exc.errors:
            exc.errors = {
                k if k.startswith("data.") else f"data.{k}": v for k, v in exc.errors.items()
            }
        raise
    record = InboundMessage(
        agency_id=agency.id,
        event_id=envelope["id"],
        type=envelope["type"],
        source=envelope["source"],
        sent_at=envelope.get("time"),
        received_at=now,
        received_by=actor.username,
        person_id=person.id,
        result=result,
    )
    session.add(record)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same id sent twice at once: the other one won
        raise Conflict(
            _("This message id is being taken in already."), errors={"id": [_("already used")]}
        ) from None
    audit.record(
        session,
        actor=actor,
        action="exchange.inbound",
        subject_type="person",
        subject_id=person.id,
        juvenile=bool(person.juvenile),
        detail={"type": envelope["type"], "event_id": envelope["id"], **result},
        now=now,
    )
    return record, False
