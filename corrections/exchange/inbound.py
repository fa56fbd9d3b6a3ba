"""Documents partner agencies send in (``POST /api/v1/exchange/inbound``): a court's judgment
notice starts a case (the intake record, its 10-day reporting clock), a police notice of
detention elsewhere starts the pause of 社区矫正法 32, a court's ruling on a revocation or
return-to-custody proposal we sent is recorded on the proposal for the district to act on
(社区矫正法 48, 49), a procuratorate's 纠正意见 / 检察建议 is filed with its reply clock
(oversight/). Each is a CloudEvents 1.0 envelope of a
type ``rules/exchange.yaml`` ``inbound`` names for the sender's agency kind, validated with
the same checks as the staff's own forms, idempotent on the sender's message id (a replay
returns the first result and changes nothing) and audited under the partner account."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.alerts import service as alerts
from corrections.audit import service as audit
from corrections.core import crypto
from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, NotFound, RuleViolation, TooManyRequests
from corrections.core.i18n import _
from corrections.core.pagination import paginate
from corrections.core.schemas import Date as DateField
from corrections.core.schemas import DateTime, TrimmedString
from corrections.exchange import rules as exchange_rules
from corrections.exchange.models import Agency, InboundMessage, OutboxMessage
from corrections.exchange.service import agency_of
from corrections.exchange.triggers import proposal_document
from corrections.incidents.models import IncidentProposal
from corrections.org import service as org
from corrections.org.models import Unit, UnitKind
from corrections.oversight import service as oversight
from corrections.oversight.schemas import OpinionInSchema
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
        # \Z, not $: "$" also matches before a final newline ("x" and "x\n" one id).
        validate=ma.validate.Regexp(r"^[A-Za-z0-9._:-]{1,100}\Z"),
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

    ref = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9]{1,18}$"))
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


# Our messages a court's ruling answers, and the proposal kind each carried.
RULING_ANSWERS = {"revocation.proposed": "revocation", "custody.proposed": "return_to_custody"}
RULINGS = ("granted", "refused")


class RulingNoticeSchema(ma.Schema):
    """A court's (or the deciding authority's) ruling on a revocation / return-to-custody
    proposal: which of our messages it answers, granted or refused, its day and document."""

    class Meta:
        unknown = ma.RAISE

    in_reply_to = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9a-f-]{36}$"),
        metadata={"description": "The id of our revocation.proposed / custody.proposed message"},
    )
    ruling = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(RULINGS),
        metadata={
            "description": "granted (裁定撤销 / 决定收监执行) or refused (不予撤销 / 不予收监)"
        },
    )
    ruled_on = DateField(required=True)
    document_number = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=64))
    note = TrimmedString(load_default=None, validate=ma.validate.Length(min=1, max=2000))


class OpinionNoticeSchema(OpinionInSchema):
    """A procuratorate's 纠正意见 or 检察建议, sent in by its own system: the fields a procurator
    files (received now: the reply clock starts today), the person by our ``ref`` or ID
    number instead of ``person_id``."""

    class Meta:
        unknown = ma.RAISE
        exclude = ("received_at", "person_id")

    person = ma.fields.Nested(PersonRefSchema, load_default=None)


DATA_SCHEMAS = {
    "judgment.notice": JudgmentNoticeSchema,
    "detention.notice": DetentionNoticeSchema,
    "revocation.ruling": RulingNoticeSchema,
    "oversight.opinion": OpinionNoticeSchema,
}


def _flat(messages: Any, prefix: str):
    """Nested marshmallow messages as (``data.person.ref``, [messages]) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flat(value, f"{prefix}.{key}")
    else:
        yield prefix, messages if isinstance(messages, list) else [messages]


def _data(name: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return DATA_SCHEMAS[name]().load(data)
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


def _judgment(session: Session, actor: Actor, agency: Agency, data: dict, now: datetime, seen):
    """The intake record (待报到), its 10-day reporting clock from the judgment's effect. The
    intake's own office check takes the partner's jurisdiction (persons/service.py
    ``_office_for_intake``): an office elsewhere is a 422 on ``data.office_code``."""
    facts = {k: v for k, v in data.items() if k != "document_number"}
    person = intake.intake(session, actor=actor, data=facts, now=now)
    return person, {
        "intake_deadline": person.intake_deadline.isoformat(),
        "document_number": data["document_number"],
    }


def _detention(session: Session, actor: Actor, agency: Agency, data: dict, now: datetime, seen):
    """A detention by another authority: what falls due from its start is excused (Art. 32)."""
    person = _person(session, agency, data.pop("person"))
    seen.append(person)
    held = detentions.record_for(session, actor=actor, person=person, data=data, now=now)
    return person, {"detention_id": held.id}


def _ruling(session: Session, actor: Actor, agency: Agency, data: dict, now: datetime, seen):
    """A ruling on a proposal we sent this agency: recorded on the proposal (once), and the
    district alerted to act on it: granted, it records the termination (社区矫正法 45) on the
    ruling's document; refused, the case goes on."""
    sent = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.agency_id == agency.id,
            OutboxMessage.event_id == data["in_reply_to"],
            OutboxMessage.type.in_([exchange_rules.TYPE_PREFIX + t for t in RULING_ANSWERS]),
        )
    )
    if sent is None:
        raise RuleViolation(
            _("not a revocation or custody proposal sent to your agency"), field="in_reply_to"
        )
    person = session.scalar(select(Person).where(Person.id == sent.person_id).with_for_update())
    seen.append(person)
    kind = RULING_ANSWERS[sent.type.removeprefix(exchange_rules.TYPE_PREFIX)]
    candidates = session.scalars(
        select(IncidentProposal)
        .where(
            IncidentProposal.person_id == person.id,
            IncidentProposal.kind == kind,
            IncidentProposal.status == "accepted",
        )
        .with_for_update()
    ).all()
    # The message's document hash names its proposal (exchange/triggers.py).
    proposal = next((p for p in candidates if proposal_document(p) == sent.document_hash), None)
    if proposal is None:
        raise RuleViolation(_("the proposal it answers is not found"), field="in_reply_to")
    if proposal.court_ruling is not None:
        raise Conflict(
            _("A ruling on this proposal was recorded already."),
            errors={"in_reply_to": [_("already answered")]},
        )
    ruled_on = data["ruled_on"]
    if ruled_on > business_date(now):
        raise RuleViolation(_("must not be in the future"), field="ruled_on")
    if ruled_on < business_date(proposal.decided_at):
        raise RuleViolation(_("is before the proposal was made"), field="ruled_on")
    proposal.court_ruling, proposal.court_ruled_on = data["ruling"], ruled_on
    proposal.court_document_number, proposal.court_recorded_at = data["document_number"], now
    result = {
        "proposal_id": proposal.id,
        "kind": kind,
        "ruling": data["ruling"],
        "document_number": data["document_number"],
    }
    if data.get("note"):
        result["note"] = data["note"]
    if person.status in OPEN_STATUSES:
        alerts.raise_one(
            session,
            person_id=person.id,
            kind="court_ruling",
            subject_type="proposal",
            subject_id=proposal.id,
            detail={**result, "ruled_on": ruled_on.isoformat(), "agency": agency.code},
            now=now,
            raised_by=actor.username,
        )
    return person, result


def _opinion(session: Session, actor: Actor, agency: Agency, data: dict, now: datetime, seen):
    """A 纠正意见 / 检察建议 filed as a procurator would (oversight/service.py), received now."""
    ref = data.pop("person", None)
    person = _person(session, agency, ref) if ref else None
    if person is not None:
        seen.append(person)
    try:
        opinion = oversight.file_opinion(session, actor=actor, subject=person, now=now, **data)
    except RuleViolation as exc:
        if exc.errors and "person_id" in exc.errors:
            exc.errors["person"] = exc.errors.pop("person_id")
        raise
    return person, {"opinion_id": opinion.id, "reply_due_on": opinion.reply_due_on.isoformat()}


_HANDLERS = {
    "judgment.notice": _judgment,
    "detention.notice": _detention,
    "revocation.ruling": _ruling,
    "oversight.opinion": _opinion,
}


# The sign-in counters' scope of an agency's daily refusal slots (org.take_slot).
REFUSAL_SLOTS = "exchange-refusals"

# A detention notice or an opinion that names an existing case and is refused is answered with
# the fields at fault and no more: the domain's own messages quote the case (its judgment date,
# another detention's id and dates), which its sender is not entitled to read.
_TERSE = ("detention.notice", "oversight.opinion")


def _refused(session, actor, envelope, seen, exc, now):
    """Audit a refused document as ``exchange.inbound_refused`` on the case it named (the
    row survives the rollback) and return the answer to give: the domain's, its fields named
    as the envelope has them; for a detention notice or an opinion about a case it found, one
    422 naming only the fields at fault (a 409 against a 422 would tell a date of the case as
    well as its text)."""
    person = seen[0] if seen else None
    audit.record(
        session,
        actor=actor,
        action="exchange.inbound_refused",
        subject_type="person" if person is not None else None,
        subject_id=person.id if person is not None else None,
        juvenile=bool(person is not None and person.juvenile),
        detail={"type": envelope["type"], "event_id": envelope["id"], "status": exc.status},
        now=now,
    )
    if isinstance(exc, NotFound):
        return exc
    if exc.errors:
        exc.errors = {k if k.startswith("data.") else f"data.{k}": v for k, v in exc.errors.items()}
    kind = exchange_rules.current().inbound[envelope["type"]]["name"]
    if person is not None and kind in _TERSE:
        return RuleViolation(
            _("The document does not fit the case it names; check it and send it again."),
            errors={k: [_("does not fit the case")] for k in (exc.errors or {"data": []})},
        )
    return exc


def sent_by(
    session: Session, *, actor: Actor, type_: str | None, page: int, page_size: int
) -> tuple[list[InboundMessage], int]:
    """The documents the actor's agency sent in that were taken, newest first."""
    agency = agency_of(session, actor)
    stmt = select(InboundMessage).where(InboundMessage.agency_id == agency.id)
    if type_:
        stmt = stmt.where(InboundMessage.type == type_)
    return paginate(session, stmt, InboundMessage.id.desc(), page=page, page_size=page_size)


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
    # A refusal says something about the case it names (is this ID number under correction,
    # does this date fit), so refusals must not become a search: each document takes one of
    # the agency's daily slots first, committed at once so parallel documents cannot all
    # pass one check; a document taken hands its slot back, a refused one keeps it.
    slot = (f"agency:{agency.code}", REFUSAL_SLOTS)
    limit = current_app.config["EXCHANGE_REFUSALS_PER_DAY"]
    if not org.take_slot(session, *slot, limit, timedelta(days=1), now):
        session.rollback()
        raise TooManyRequests(
            _("Too many refused documents from your agency in 24 hours; contact the city bureau."),
            retry_after=3600,
        )
    session.commit()
    seen: list[Person] = []
    try:
        person, result = _HANDLERS[kind["name"]](session, actor, agency, data, now, seen)
    except (RuleViolation, Conflict, NotFound) as exc:
        answer = _refused(session, actor, envelope, seen, exc, now)
        if answer is exc:
            raise
        raise answer from None
    org.give_back_slot(session, *slot)
    record = InboundMessage(
        agency_id=agency.id,
        event_id=envelope["id"],
        type=envelope["type"],
        source=envelope["source"],
        sent_at=envelope.get("time"),
        received_at=now,
        received_by=actor.username,
        person_id=person.id if person is not None else None,
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
    # About a person, or (an opinion about a district or an office) the inbound record itself.
    audit.record(
        session,
        actor=actor,
        action="exchange.inbound",
        subject_type="person" if person is not None else "inbound_message",
        subject_id=person.id if person is not None else record.id,
        juvenile=bool(person is not None and person.juvenile),
        detail={"type": envelope["type"], "event_id": envelope["id"], **result},
        now=now,
    )
    return record, False
