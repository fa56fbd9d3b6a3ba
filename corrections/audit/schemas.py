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
