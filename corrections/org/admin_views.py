"""The administrator's API: the organisation's units and the staff accounts (role ``admin``).

Units and accounts are named by their code and username in paths. Updates take If-Match with
the ETag read (412 when stale, 428 without). A reset code appears in exactly one response, the
one that issued it, and never in a log or the audit trail. Administrator accounts, the
administrator role and the caller's own account are not changed here (403, org/duties.py):
an operator does that at the server with ``corrections users``.
"""

from __future__ import annotations

from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import ROLE_LABELS_ZH, Role, current_actor, requires
from corrections.core.db import db
from corrections.core.i18n import _
from corrections.core.preconditions import IF_MATCH_PARAMETER, etag, expected_version
from corrections.core.schemas import page_envelope
from corrections.org import accounts, credentials, orgfile, service, structure
from corrections.org.models import Unit, UnitKind, User
from corrections.org.schemas import (
    AdminUnitSchema,
    AdminUserPageSchema,
    AdminUserQuerySchema,
    AdminUserSchema,
    CreatedAccountSchema,
    OrgImportBodySchema,
    OrgImportQuerySchema,
    OrgImportResultSchema,
    ResetCodeSchema,
    UnitCreateSchema,
    UnitPatchSchema,
    UserCreateSchema,
    UserPatchSchema,
)
from corrections.org.views import unit_view

blp = Blueprint(
    "admin",
    __name__,
    url_prefix="/api/v1/admin",
    description="Administration (系统管理): units and staff accounts",
)

IF_MATCH = IF_MATCH_PARAMETER
ETAG_HEADER = {"ETag": {"description": "Version of the record", "schema": {"type": "string"}}}


def _expected_version() -> int:
    return expected_version(
        missing=_("Send If-Match with the ETag you read."),
        unknown=_("If-Match names no version of this record; read it again."),
    )


def admin_unit_view(unit: Unit, *, moves: list | None = None) -> dict:
    view = {**unit_view(unit), "updated_at": unit.updated_at}
    if moves is not None:
        view["moves"] = moves
    return view


def user_view(user: User) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_label_zh": ROLE_LABELS_ZH[Role(user.role)],
        "unit_code": user.unit.code,
        "unit_name_zh": user.unit.name_zh,
        "active": user.active,
        "password_set": user.password_hash != service.NO_PASSWORD,
        "created_at": user.created_at,
        "disabled_at": user.disabled_at,
        "password_changed_at": user.password_changed_at,
    }


# --- units -------------------------------------------------------------------------------


@blp.route("/units")
class AdminUnits(MethodView):
    @requires("units:admin")
    @blp.response(200, AdminUnitSchema(many=True))
    def get(self):
        """Every unit, inactive ones too, by code."""
        return [admin_unit_view(u) for u in structure.all_units(db.session)]

    @requires("units:admin")
    @blp.arguments(UnitCreateSchema)
    @blp.response(201, AdminUnitSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Add a district (under the city) or a judicial office (under a district). Codes:
        a district's is its 6-digit division code, an office's its district's code and 2–3
        digits; names are Chinese (…司法局, …司法所)."""
        unit = structure.add_unit(
            db.session,
            code=data["code"],
            name_zh=data["name_zh"],
            kind=UnitKind(data["kind"]),
            parent_code=data["parent_code"],
            actor=current_actor(),
        )
        return admin_unit_view(unit, moves=[]), 201, etag(unit.version)


@blp.route("/units/<string(maxlength=32):code>")
class AdminUnit(MethodView):
    @requires("units:admin")
    @blp.response(200, AdminUnitSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, code):
        """One unit, with its moves between districts."""
        unit = structure.get_unit(db.session, code)
        moves = structure.moves_of(db.session, unit)
        return admin_unit_view(unit, moves=moves), 200, etag(unit.version)

    @requires("units:admin")
    @blp.arguments(UnitPatchSchema)
    @blp.response(200, AdminUnitSchema, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def patch(self, changes, code):
        """Rename a unit, move an office to another district (``parent_code``: its persons,
        accounts and records stay with it; the move is recorded), or make a unit inactive
        (only one nothing refers to: 409 otherwise) or active again."""
        unit = structure.update_unit(
            db.session,
            code=code,
            expected_version=_expected_version(),
            changes=changes,
            actor=current_actor(),
        )
        moves = structure.moves_of(db.session, unit)
        return admin_unit_view(unit, moves=moves), 200, etag(unit.version)


@blp.route("/org/import")
class AdminOrgImport(MethodView):
    @requires("units:admin")
    @blp.arguments(OrgImportQuerySchema, location="query")
    @blp.arguments(OrgImportBodySchema)
    @blp.response(200, OrgImportResultSchema)
    def post(self, query, body):
        """Import a whole organisation file (the JSON form of ``corrections org import``):
        new units are added, renamed ones renamed, moved offices moved; units missing from
        the file are reported (with ``deactivate_missing``, those nothing refers to are made
        inactive); nothing is deleted. ``dry_run`` reports and changes nothing. A file with
        errors is 422 naming each entry (``city.districts[1].offices[0].code``)."""
        result = orgfile.import_document(
            db.session,
            body,
            actor=current_actor(),
            dry_run=query["dry_run"],
            deactivate_missing=query["deactivate_missing"],
        )
        return {
            "dry_run": result.dry_run,
            "units": result.units,
            "counts": result.counts(),
            "changes": result.changes,
            "missing": result.missing,
        }


# --- accounts ----------------------------------------------------------------------------


@blp.route("/users")
class AdminUsers(MethodView):
    @requires("users:admin")
    @blp.arguments(AdminUserQuerySchema, location="query")
    @blp.response(200, AdminUserPageSchema)
    def get(self, args):
        """Staff accounts by username (filters: role, unit_code, active)."""
        users, total = accounts.list_users(db.session, **args)
        return page_envelope([user_view(u) for u in users], args["page"], args["page_size"], total)

    @requires("users:admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, CreatedAccountSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Create an account without a password, and its first one-time reset code (in this
        response only): hand the code to its user, who sets the password with
        ``POST /api/v1/auth/password/reset``. The role must fit the unit: an officer in a
        judicial office, a commander in a district, the other roles in the city.

        An ``admin`` account is created at the server only (``corrections users create
        NAME --role admin``): here that is 403, audited as ``user.change_refused``. City
        accounts may be created here; every creation is audited."""
        issued = accounts.create_account(
            db.session,
            username=data["username"],
            role=Role(data["role"]),
            unit_code=data["unit_code"],
            display_name=data["display_name"],
            actor=current_actor(),
        )
        body = {**user_view(issued.user), "reset_code": _code_view(issued)}
        return body, 201, etag(issued.user.version)


@blp.route("/users/<string(maxlength=64):username>")
class AdminUser(MethodView):
    @requires("users:admin")
    @blp.response(200, AdminUserSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, username):
        """One account."""
        user = service.get_user(db.session, username)
        return user_view(user), 200, etag(user.version)

    @requires("users:admin")
    @blp.arguments(UserPatchSchema)
    @blp.response(200, AdminUserSchema, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def patch(self, changes, username):
        """Change an account's role, unit (give both when both change: the role must fit the
        unit), display name, or disable (``active: false``) / enable it. A change of role or
        unit and disabling revoke the account's tokens.

        Separation of duties (403, audited as ``user.change_refused``, nothing changed): an
        administrator account is not changed here at all (no disabling, enabling, new role,
        unit or name), nobody is given the ``admin`` role, and your own account is not
        changed here (your password: ``POST /api/v1/auth/password``). An operator does those
        at the server with ``corrections users disable|enable|set-role|set-unit``, recorded
        as ``cli:<os user>@<host>``; there the last active administrator cannot be disabled or
        lose the role. City accounts are changed here like the other staff accounts, but the
        last active one is neither disabled nor given another role (409, here and at the
        server). A change of role or unit also withdraws the account's unused reset codes."""
        user = accounts.update_user(
            db.session,
            username=username,
            changes=changes,
            actor=current_actor(),
            expected_version=_expected_version(),
        )
        return user_view(user), 200, etag(user.version)


@blp.route("/users/<string(maxlength=64):username>/reset-code")
class AdminUserResetCode(MethodView):
    @requires("users:admin")
    @blp.response(201, ResetCodeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, username):
        """Issue a one-time password reset code (valid ``PASSWORD_RESET_CODE_TTL_SECONDS``,
        24 h by default; any earlier code is withdrawn). It is shown in this response only:
        hand it to the user in person. The password and the user's sessions stay until the
        code is redeemed.

        Not for an administrator account nor your own (403, audited as
        ``user.change_refused``): an administrator's code is issued at the server
        (``corrections users reset-password NAME``); your own password you change with
        ``POST /api/v1/auth/password``. Codes for city accounts are issued here, audited as
        ``user.reset_code`` with the account's role."""
        issued = credentials.issue_reset_code(db.session, username=username, actor=current_actor())
        return _code_view(issued), 201


def _code_view(issued: credentials.IssuedCode) -> dict:
    return {"username": issued.user.username, "code": issued.code, "expires_at": issued.expires_at}
