from __future__ import annotations

import marshmallow as ma

from corrections.core.auth import ACCOUNT_ROLES, Role
from corrections.core.schemas import Identifier, PageQuerySchema, TrimmedString, page_of
from corrections.org.models import UnitKind


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
    active = ma.fields.Boolean()


class MeSchema(ma.Schema):
    username = ma.fields.String(required=True)
    display_name = ma.fields.String()
    role = ma.fields.String(required=True)
    role_label_zh = ma.fields.String(required=True)
    unit = ma.fields.Nested(UnitSchema, required=True)


# --- a unit's staff, as choices (org/staff.py) ---------------------------------------------


class StaffQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    role = ma.fields.String(
        validate=ma.validate.OneOf(["officer", "commander", "city", "analyst", "auditor", "admin"]),
        load_default=None,
        metadata={"description": "Only accounts of this role (officer: a flag's responsible)"},
    )


class StaffSchema(ma.Schema):
    id = ma.fields.Integer(
        required=True,
        metadata={"description": "The account's id: what responsible_officer_id takes"},
    )
    username = ma.fields.String(required=True)
    display_name = ma.fields.String()
    role = ma.fields.String(required=True)
    role_label_zh = ma.fields.String(required=True)
    unit_code = ma.fields.String(required=True)
    unit_name_zh = ma.fields.String(required=True)


# --- own password ------------------------------------------------------------------------

_PASSWORD = {"required": True, "load_only": True, "validate": ma.validate.Length(min=1, max=256)}
# The policy (org/passwords.py), for the API's documentation of a new password.
_NEW_PASSWORD = {
    **_PASSWORD,
    "metadata": {
        "description": "At least 10 characters and 4 different ones; not containing the "
        "username; not a common password nor the demo's. No space or other whitespace at "
        "either end: such a password is refused (422), never trimmed, since it is checked "
        "exactly as typed at sign-in"
    },
}


class PasswordChangeSchema(ma.Schema):
    old_password = ma.fields.String(**_PASSWORD)
    new_password = ma.fields.String(**_NEW_PASSWORD)


class PasswordResetSchema(ma.Schema):
    username = TrimmedString(required=True, validate=ma.validate.Length(min=1, max=64))
    code = TrimmedString(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "The one-time code from the administrator, e.g. 7K2M-…"},
    )
    new_password = ma.fields.String(**_NEW_PASSWORD)


# --- administration ----------------------------------------------------------------------

UNIT_KINDS = [k.value for k in UnitKind]
# Staff accounts' roles: a wall display is a device token (org/displays.py), never an account.
ROLES = [r.value for r in Role if r in ACCOUNT_ROLES]


class UnitMoveSchema(ma.Schema):
    from_code = ma.fields.String(required=True)
    to_code = ma.fields.String(required=True)
    moved_at = ma.fields.DateTime(required=True)
    moved_by = ma.fields.String(required=True)
    persons_moved = ma.fields.Integer(required=True)


class AdminUnitSchema(UnitSchema):
    updated_at = ma.fields.DateTime(allow_none=True)
    moves = ma.fields.List(
        ma.fields.Nested(UnitMoveSchema),
        metadata={"description": "The office's moves between districts (one unit only)"},
    )


class UnitCreateSchema(ma.Schema):
    code = Identifier(required=True, max_length=32)
    name_zh = TrimmedString(required=True, max_length=100)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(UNIT_KINDS))
    parent_code = Identifier(max_length=32, load_default=None, allow_none=True)


class UnitPatchSchema(ma.Schema):
    name_zh = TrimmedString(max_length=100)
    parent_code = Identifier(
        max_length=32, metadata={"description": "An office's new district (a move)"}
    )
    active = ma.fields.Boolean(
        metadata={"description": "false: only a unit nothing refers to is made inactive"}
    )


class OrgImportQuerySchema(ma.Schema):
    dry_run = ma.fields.Boolean(load_default=False)
    deactivate_missing = ma.fields.Boolean(load_default=False)


class OrgImportBodySchema(ma.Schema):
    """The organisation file as JSON (``corrections org template`` shows it as YAML); each
    entry is checked by the service, which names every bad entry by its path."""

    city = ma.fields.Dict(
        required=True,
        metadata={
            "description": "{code, name_zh, districts: [{code, name_zh, offices: [{code, "
            "name_zh}]}]}"
        },
    )


class _UnitLineSchema(ma.Schema):
    """The unit an import line is about (what a change and a missing unit both name)."""

    kind = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    name_zh = ma.fields.String(required=True)


class ChangeSchema(_UnitLineSchema):
    action = ma.fields.String(required=True)
    before = ma.fields.String(allow_none=True)
    after = ma.fields.String(allow_none=True)
    persons = ma.fields.Integer(allow_none=True)


class MissingSchema(_UnitLineSchema):
    active = ma.fields.Boolean(required=True)
    has_history = ma.fields.Boolean(required=True)
    deactivated = ma.fields.Boolean(required=True)


class OrgImportResultSchema(ma.Schema):
    dry_run = ma.fields.Boolean(required=True)
    units = ma.fields.Integer(required=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema), required=True)
    missing = ma.fields.List(ma.fields.Nested(MissingSchema), required=True)


class AdminUserSchema(ma.Schema):
    username = ma.fields.String(required=True)
    display_name = ma.fields.String()
    role = ma.fields.String(required=True)
    role_label_zh = ma.fields.String(required=True)
    unit_code = ma.fields.String(required=True)
    unit_name_zh = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    password_set = ma.fields.Boolean(
        required=True, metadata={"description": "false until the first reset code is redeemed"}
    )
    created_at = ma.fields.DateTime(required=True)
    disabled_at = ma.fields.DateTime(allow_none=True)
    password_changed_at = ma.fields.DateTime(allow_none=True)


AdminUserPageSchema = page_of(AdminUserSchema, "AdminUserPageSchema")


class AdminUserQuerySchema(PageQuerySchema):
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    unit_code = Identifier(max_length=32)
    active = ma.fields.Boolean()


class UserCreateSchema(ma.Schema):
    username = TrimmedString(required=True, validate=ma.validate.Length(min=3, max=64))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    unit_code = Identifier(required=True, max_length=32)
    display_name = TrimmedString(max_length=100, load_default="")


class UserPatchSchema(ma.Schema):
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    unit_code = Identifier(max_length=32)
    display_name = TrimmedString(max_length=100)
    active = ma.fields.Boolean()


class ResetCodeSchema(ma.Schema):
    username = ma.fields.String(required=True)
    code = ma.fields.String(
        required=True, metadata={"description": "Shown once: hand it to the user in person"}
    )
    expires_at = ma.fields.DateTime(required=True)


class CreatedAccountSchema(AdminUserSchema):
    reset_code = ma.fields.Nested(ResetCodeSchema, required=True)


# --- wall displays (org/displays.py) -------------------------------------------------------


class DisplayQuerySchema(ma.Schema):
    district_code = Identifier(max_length=32)


class DisplayCreateSchema(ma.Schema):
    name = TrimmedString(
        required=True,
        max_length=100,
        metadata={"description": "Where it hangs, e.g. 东城区指挥中心大屏"},
    )
    district_code = Identifier(required=True, max_length=32)


class DisplaySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    district_code = ma.fields.String(required=True)
    district_name_zh = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    created_by = ma.fields.String(required=True)
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoked_by = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean(required=True, metadata={"description": "Not revoked"})


class CreatedDisplaySchema(DisplaySchema):
    token = ma.fields.String(
        required=True,
        metadata={
            "description": "The display's secret, shown this once: paste it into the display "
            "page's form, or open enrol_path on the display once"
        },
    )
    enrol_path = ma.fields.String(required=True, metadata={"example": "/display#token=dsp_..."})
