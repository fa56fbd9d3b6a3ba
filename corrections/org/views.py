from __future__ import annotations

from flask import request
from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import ROLE_LABELS_ZH, Role, current_actor, public, requires
from corrections.core.db import db
from corrections.org import credentials, service, staff
from corrections.org.models import UNIT_KIND_LABELS_ZH, Unit, User
from corrections.org.schemas import (
    LoginSchema,
    MeSchema,
    PasswordChangeSchema,
    PasswordResetSchema,
    StaffQuerySchema,
    StaffSchema,
    TokenSchema,
    UnitSchema,
)

auth_blp = Blueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Sign-in: bearer tokens"
)
units_blp = Blueprint(
    "units",
    __name__,
    url_prefix="/api/v1/units",
    description="Organisation: city, districts, judicial offices",
)


def unit_view(unit: Unit) -> dict:
    return {
        "code": unit.code,
        "name_zh": unit.name_zh,
        "kind": unit.kind,
        "kind_label_zh": UNIT_KIND_LABELS_ZH[unit.kind],
        "parent_code": unit.parent.code if unit.parent else None,
        "active": unit.active,
    }


@auth_blp.route("/token")
class Token(MethodView):
    @public
    @auth_blp.arguments(LoginSchema)
    @auth_blp.response(201, TokenSchema)
    @auth_blp.alt_response(401, response="UNAUTHORIZED")
    @auth_blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, data):
        """Sign in with username and password; returns a bearer token."""
        issued = service.login(
            db.session,
            username=data["username"],
            password=data["password"],
            client_addr=request.remote_addr or "unknown",
        )
        return {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_at": issued.expires_at,
            "username": issued.user.username,
            "role": issued.user.role,
            "unit_code": issued.user.unit.code,
        }, 201

    @requires("session")
    @auth_blp.response(204)
    def delete(self):
        """Sign out: revoke the token this request carries."""
        service.revoke_token(db.session, actor=current_actor())
        return "", 204


@auth_blp.route("/me")
class Me(MethodView):
    @requires("session")
    @auth_blp.response(200, MeSchema)
    def get(self):
        """Who the token belongs to: role and unit."""
        user = db.session.get(User, current_actor().user_id)
        return {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "role_label_zh": ROLE_LABELS_ZH[Role(user.role)],
            "unit": unit_view(user.unit),
        }


@auth_blp.route("/password")
class OwnPassword(MethodView):
    @requires("session")
    @auth_blp.arguments(PasswordChangeSchema)
    @auth_blp.response(204)
    @auth_blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @auth_blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, data):
        """Change your own password: the current one is required, the password policy
        applies, and every other token of your account is revoked (this one stays valid).
        Wrong current passwords count against the sign-in limits."""
        credentials.change_password(
            db.session,
            actor=current_actor(),
            old_password=data["old_password"],
            new_password=data["new_password"],
            client_addr=request.remote_addr or "unknown",
        )
        return "", 204


@auth_blp.route("/password/reset")
class PasswordReset(MethodView):
    @public
    @auth_blp.arguments(PasswordResetSchema)
    @auth_blp.response(204)
    @auth_blp.alt_response(401, response="UNAUTHORIZED")
    @auth_blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @auth_blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, data):
        """Set a new password with the one-time code an administrator gave you. The code is
        spent and every token of the account revoked: sign in with the new password. Counted
        by the sign-in limits; a wrong, used or expired code is 401."""
        credentials.redeem_reset_code(
            db.session,
            username=data["username"],
            code=data["code"],
            new_password=data["new_password"],
            client_addr=request.remote_addr or "unknown",
        )
        return "", 204


@units_blp.route("")
class Units(MethodView):
    @requires("units:read")
    @units_blp.response(200, UnitSchema(many=True))
    def get(self):
        """All units with codes and Chinese names (organisation data, not personal data)."""
        return [unit_view(u) for u in service.list_units(db.session)]


@units_blp.route("/<string(maxlength=32):code>/staff")
class Staff(MethodView):
    @requires("staff:read")
    @units_blp.arguments(StaffQuerySchema, location="query")
    @units_blp.response(200, StaffSchema(many=True))
    @units_blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, code):
        """The active staff accounts of a judicial office (or of a district: its commanders
        and its offices' officers), by unit, role and username: the list a form chooses from
        (a flag's responsible officer: ``?role=officer``, its ``id``). For the unit's own
        staff, its district's commanders, the city and the administrators; no credentials."""
        rows = staff.list_staff(db.session, actor=current_actor(), code=code, role=args["role"])
        return [
            {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "role_label_zh": ROLE_LABELS_ZH[Role(user.role)],
                "unit_code": unit.code,
                "unit_name_zh": unit.name_zh,
            }
            for user, unit in rows
        ]
