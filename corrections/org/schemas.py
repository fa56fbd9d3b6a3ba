from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import TrimmedString


class LoginSchema(ma.Schema):
    username = TrimmedString(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_at = ma.fields.DateTime(required=True)
    username = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    unit_code = ma.fields.String(required=True)


class UnitSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name_zh = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    kind_label_zh = ma.fields.String(required=True)
    parent_code = ma.fields.String(allow_none=True)


class MeSchema(ma.Schema):
    username = ma.fields.String(required=True)
    display_name = ma.fields.String()
    role = ma.fields.String(required=True)
    role_label_zh = ma.fields.String(required=True)
    unit = ma.fields.Nested(UnitSchema, required=True)
