from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import DateTime, Identifier, PageQuerySchema, TrimmedString, page_of


class AuditQuerySchema(PageQuerySchema):
    actor = TrimmedString(
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "Username of the actor"},
    )
    action = TrimmedString(validate=ma.validate.Length(min=1, max=64))
    subject_type = TrimmedString(validate=ma.validate.Length(min=1, max=32))
    subject_id = Identifier(validate=ma.validate.Length(min=1, max=64))
    juvenile = ma.fields.Boolean()
    since = DateTime(metadata={"description": "Inclusive lower bound"})
    until = DateTime(metadata={"description": "Exclusive upper bound"})


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    seq = ma.fields.Integer(allow_none=True)
    occurred_at = ma.fields.DateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    actor_username = ma.fields.String()
    actor_role = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    subject_type = ma.fields.String(allow_none=True)
    subject_id = ma.fields.String(allow_none=True)
    subject_ids = ma.fields.String(
        allow_none=True,
        metadata={"description": 'Several persons shown by one response: ",12,15,40,"'},
    )
    juvenile = ma.fields.Boolean()
    request_id = ma.fields.String(allow_none=True, metadata={"description": "The server's id"})
    client_request_id = ma.fields.String(
        allow_none=True, metadata={"description": "What the client sent as X-Request-ID"}
    )
    client_addr = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict(allow_none=True)
    prev_hash = ma.fields.String(allow_none=True)
    hash = ma.fields.String(allow_none=True)
    key_id = ma.fields.String(allow_none=True, metadata={"description": "Audit key of the HMAC"})
    sealed_at = ma.fields.DateTime(allow_none=True)


AuditPageSchema = page_of(AuditEntrySchema, "AuditPageSchema")


class VerificationFindingSchema(ma.Schema):
    kind = ma.fields.String(
        required=True,
        metadata={
            "description": "rewritten, missing, inserted, truncated, checkpoint, head, stalled"
        },
    )
    kind_label_zh = ma.fields.String(required=True)
    text = ma.fields.String(required=True, metadata={"description": "In the language asked for"})
    seq = ma.fields.Integer(allow_none=True)
    entry_id = ma.fields.Integer(allow_none=True)


class VerificationSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True, metadata={"description": "No finding"})
    complete = ma.fields.Boolean(
        required=True,
        metadata={"description": "The whole chain was read (false: the newest rows only)"},
    )
    first_seq = ma.fields.Integer(required=True)
    checked = ma.fields.Integer(required=True, metadata={"description": "Sealed rows read"})
    checkpoints = ma.fields.Integer(required=True)
    unsealed = ma.fields.Integer(required=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    findings = ma.fields.List(ma.fields.Nested(VerificationFindingSchema), required=True)
    verified_at = ma.fields.AwareDateTime(required=True)
