from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import Id, Integer, PageQuerySchema, TrimmedString, page_of
from corrections.exchange.models import MESSAGE_STATES
from corrections.exchange.rules import AGENCY_KINDS
from corrections.exchange.service import FEED_MAX, RECEIPT_STATUSES


class FeedQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    after = Integer(
        load_default=0,
        validate=ma.validate.Range(min=0, max=2**62),
        metadata={"description": "The last `sequence` you processed (0: from the start)"},
    )
    limit = Integer(load_default=100, validate=ma.validate.Range(min=1, max=FEED_MAX))


class FeedSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={
            "description": "CloudEvents 1.0 envelopes, oldest first, each with `sequence` "
            "(the cursor) and `receipt` (waiting or acknowledged)"
        },
    )
    next_after = ma.fields.Integer(
        required=True, metadata={"description": "Send as `after` for the next page"}
    )
    count = ma.fields.Integer(required=True)


class ReceiptInSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    id = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[0-9a-f-]{36}$"),
        metadata={"description": "The message's CloudEvents `id`"},
    )
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(RECEIPT_STATUSES))
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class ReceiptSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The message's id"})
    status = ma.fields.String(required=True)
    note = ma.fields.String(allow_none=True)
    received_at = ma.fields.DateTime(required=True)
    received_by = ma.fields.String(required=True)


class CatalogueReceiverSchema(ma.Schema):
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    article = ma.fields.String()
    basis = ma.fields.String()
    fields = ma.fields.List(ma.fields.String())
    juvenile_fields = ma.fields.List(ma.fields.String())


class CatalogueSenderSchema(ma.Schema):
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()


class CatalogueEntrySchema(ma.Schema):
    name = ma.fields.String()
    type = ma.fields.String()
    direction = ma.fields.String(
        metadata={"description": "outbound: we send it; inbound: partners send it to us"}
    )
    label_zh = ma.fields.String()
    schema = ma.fields.String(metadata={"description": "The type's JSON Schema (its URL)"})
    receivers = ma.fields.List(ma.fields.Nested(CatalogueReceiverSchema))
    senders = ma.fields.List(ma.fields.Nested(CatalogueSenderSchema))
    article = ma.fields.String(metadata={"description": "An inbound type's article"})
    basis = ma.fields.String()


class MessageQuerySchema(PageQuerySchema):
    state = ma.fields.String(validate=ma.validate.OneOf(MESSAGE_STATES))
    agency = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    type = ma.fields.String(validate=ma.validate.Length(min=1, max=80))


class MessageSchema(ma.Schema):
    """A message as operators see it: delivery facts, never its data."""

    id = ma.fields.Integer()
    event_id = ma.fields.String()
    type = ma.fields.String()
    subject = ma.fields.String(allow_none=True)
    receiver_kind = ma.fields.String()
    agency_code = ma.fields.String(allow_none=True)
    agency_name_zh = ma.fields.String(allow_none=True)
    state = ma.fields.String()
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    published_at = ma.fields.DateTime(allow_none=True)
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    article = ma.fields.String(allow_none=True)


MessagePageSchema = page_of(MessageSchema, "ExchangeMessagePageSchema")


class ResendSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    message_ids = ma.fields.List(
        Id(validate=ma.validate.Range(min=1, max=2**62)),
        validate=ma.validate.Length(min=1, max=1000),
        load_default=None,
    )
    dead = ma.fields.Boolean(load_default=False, metadata={"description": "Every dead letter"})


class ResendResultSchema(ma.Schema):
    requeued = ma.fields.Integer(required=True)


class AgencyInSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    code = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=32))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(AGENCY_KINDS))
    name_zh = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=100))
    unit_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


class AgencySchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    name_zh = ma.fields.String()
    unit_code = ma.fields.String()
    unit_name_zh = ma.fields.String()
    active = ma.fields.Boolean()
    partner_accounts = ma.fields.Integer()
    routed = ma.fields.Integer(metadata={"description": "Kept messages it received on creation"})


class InboundResultSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "Your message's id"})
    type = ma.fields.String(required=True)
    received_at = ma.fields.DateTime(required=True)
    person_ref = ma.fields.String(
        allow_none=True, metadata={"description": "Our reference of the person (send it back)"}
    )
    result = ma.fields.Dict(metadata={"description": "What it did: ids and dates, no data"})


class InboundQuerySchema(PageQuerySchema):
    type = ma.fields.String(validate=ma.validate.Length(min=1, max=80))


InboundPageSchema = page_of(InboundResultSchema, "ExchangeInboundPageSchema")
