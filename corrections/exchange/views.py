"""HTTP layer of the exchange: a partner's feed and receipts, the message catalogue, and the
operators' view of delivery and agencies."""

from __future__ import annotations

from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.db import db
from corrections.core.errors import NotFound
from corrections.core.i18n import _
from corrections.core.schemas import page_envelope
from corrections.exchange import catalogue, inbound, service
from corrections.exchange import rules as exchange_rules
from corrections.exchange.inbound import EnvelopeSchema as InboundEnvelopeSchema
from corrections.exchange.schemas import (
    AgencyInSchema,
    AgencySchema,
    CatalogueEntrySchema,
    FeedQuerySchema,
    FeedSchema,
    InboundPageSchema,
    InboundQuerySchema,
    InboundResultSchema,
    MessagePageSchema,
    MessageQuerySchema,
    ReceiptInSchema,
    ReceiptSchema,
    ResendResultSchema,
    ResendSchema,
)

blp = Blueprint(
    "exchange",
    __name__,
    url_prefix="/api/v1/exchange",
    description="Inter-agency exchange (信息共享、抄送通报): feed, receipts, catalogue",
)


@blp.route("/feed")
class Feed(MethodView):
    @requires("exchange:feed")
    @blp.arguments(FeedQuerySchema, location="query")
    @blp.response(200, FeedSchema)
    def get(self, args):
        """Your agency's messages after the cursor ``after``, oldest first: CloudEvents 1.0
        envelopes with only the fields the rules give your agency. Process them in order,
        de-duplicate by ``id``, acknowledge each (``POST /receipts``) and ask again from
        ``next_after``. Every read is audited."""
        items, next_after = service.feed(
            db.session, actor=current_actor(), after=args["after"], limit=args["limit"]
        )
        return {"items": items, "next_after": next_after, "count": len(items)}


@blp.route("/receipts")
class Receipts(MethodView):
    @requires("exchange:feed")
    @blp.arguments(ReceiptInSchema)
    @blp.response(201, ReceiptSchema)
    @blp.alt_response(
        200, schema=ReceiptSchema, description="Already acknowledged so", success=True
    )
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Acknowledge (回执) one of your agency's messages: ``received``, ``accepted`` or
        ``rejected`` (with a note). Once per message; the same again answers 200."""
        row, replayed = service.receipt(
            db.session,
            actor=current_actor(),
            event_id=data["id"],
            status=data["status"],
            note=data.get("note"),
        )
        view = {
            "id": data["id"],
            "status": row.status,
            "note": row.note,
            "received_at": row.received_at,
            "received_by": row.received_by,
        }
        return (view, 200) if replayed else (view, 201)


@blp.route("/inbound")
class Inbound(MethodView):
    @requires("exchange:feed")
    @blp.arguments(InboundEnvelopeSchema)
    @blp.response(201, InboundResultSchema)
    @blp.alt_response(
        200, schema=InboundResultSchema, description="A replay: the first result", success=True
    )
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Send in a document (CloudEvents 1.0, structured): a court's judgment notice
        (``cn.gov.court.judgment.notice``: the intake's facts and the executing office; the
        record waits for the person's report, 10 days) or a police notice of detention
        (``cn.gov.police.detention.notice``: the person by ``ref`` or ID number). Checked like
        the staff's own forms (errors name ``data.<field>``); the same ``id`` again returns
        the first result and changes nothing; audited."""
        record, replayed = inbound.receive(db.session, actor=current_actor(), envelope=data)
        view = _inbound_view(record)
        return (view, 200) if replayed else (view, 201)

    @requires("exchange:feed")
    @blp.arguments(InboundQuerySchema, location="query")
    @blp.response(200, InboundPageSchema)
    def get(self, args):
        """The documents your agency sent in that were taken (newest first, ``type`` to
        narrow): each with its id, type, when, our reference of the person and what it did.
        A refused one is not kept (its answer said why)."""
        page, size = args.pop("page"), args.pop("page_size")
        rows, total = inbound.sent_by(
            db.session, actor=current_actor(), type_=args.get("type"), page=page, page_size=size
        )
        return page_envelope([_inbound_view(r) for r in rows], page, size, total)


def _inbound_view(record) -> dict:
    return {
        "id": record.event_id,
        "type": record.type,
        "received_at": record.received_at,
        "person_ref": str(record.person_id) if record.person_id else None,
        "result": record.result,
    }


@blp.route("/schemas")
class Schemas(MethodView):
    @requires("exchange:schemas")
    @blp.response(200, CatalogueEntrySchema(many=True))
    def get(self):
        """The message catalogue: every type with its receivers, their articles, the fields
        each gets (and a juvenile's), and its JSON Schema's URL."""
        return catalogue.catalogue()


@blp.route("/schemas/<name>")
class Schema(MethodView):
    @requires("exchange:schemas")
    @blp.response(200)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, name):
        """The JSON Schema (draft 2020-12) of one message type's envelope and data."""
        found = catalogue.schema(name)
        if found is None:
            raise NotFound(_("No such message type."))
        return found


@blp.route("/messages")
class Messages(MethodView):
    @requires("exchange:operate")
    @blp.arguments(MessageQuerySchema, location="query")
    @blp.response(200, MessagePageSchema)
    def get(self, args):
        """Delivery of every message, newest first (no data: its type, receiver, state,
        attempts, last error, receipt): ``state=dead`` are the dead letters, ``unrouted``
        wait for an agency of their kind."""
        page, size = args.pop("page"), args.pop("page_size")
        rows, total = service.list_messages(
            db.session,
            state=args.get("state"),
            agency=args.get("agency"),
            type_=args.get("type"),
            page=page,
            page_size=size,
        )
        items = [
            {
                **{c: getattr(m, c) for c in _MESSAGE_COLUMNS},
                "agency_code": a.code if a else None,
                "agency_name_zh": a.name_zh if a else None,
            }
            for m, a in rows
        ]
        return page_envelope(items, page, size, total)


_MESSAGE_COLUMNS = (
    "id",
    "event_id",
    "type",
    "subject",
    "receiver_kind",
    "state",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "published_at",
    "acknowledged_at",
    "article",
)


@blp.route("/messages/resend")
class Resend(MethodView):
    @requires("exchange:operate")
    @blp.arguments(ResendSchema)
    @blp.response(200, ResendResultSchema)
    def post(self, data):
        """Put messages back in the relay's queue: ``message_ids``, or ``dead: true`` for
        every dead letter. Receivers de-duplicate by id."""
        count = service.resend(
            db.session,
            actor=current_actor(),
            message_ids=data.get("message_ids"),
            dead=data["dead"],
        )
        return {"requeued": count}


def agency_view(agency, unit, accounts: int, routed: int | None = None) -> dict:
    labels = exchange_rules.current().agency_labels
    view = {
        "id": agency.id,
        "code": agency.code,
        "kind": agency.kind,
        "kind_label_zh": labels.get(agency.kind),
        "name_zh": agency.name_zh,
        "unit_code": unit.code,
        "unit_name_zh": unit.name_zh,
        "active": agency.active,
        "partner_accounts": accounts,
    }
    if routed is not None:
        view["routed"] = routed
    return view


@blp.route("/agencies")
class Agencies(MethodView):
    @requires("exchange:operate")
    @blp.response(200, AgencySchema(many=True))
    def get(self):
        """The partner agencies, with the unit each serves and its active partner accounts."""
        return [agency_view(a, u, n) for a, u, n in service.list_agencies(db.session)]

    @requires("exchange:operate")
    @blp.arguments(AgencyInSchema)
    @blp.response(201, AgencySchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Add an agency serving the city or a district; messages kept for its kind there
        become its own (``routed``). Its accounts: ``corrections exchange partners create``."""
        agency, routed = service.create_agency(db.session, actor=current_actor(), **data)
        from corrections.org.models import Unit

        return agency_view(agency, db.session.get(Unit, agency.unit_id), 0, routed)
