from __future__ import annotations

from flask import request
from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import ROLE_LABELS_ZH, Role, current_actor, public, requires
from corrections.core.db import db
from corrections.org import service
from corrections.org.models import UNIT_KIND_LABELS_ZH, Unit, User
from corrections.org.schemas import LoginSchema, MeSchema, TokenSchema, UnitSchema

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


@units_blp.route("")
class Units(MethodView):
    @requires("units:read")
    @units_blp.response(200, UnitSchema(many=True))
    def get(self):
        """All units with codes and Chinese names (organisation data, not personal data)."""
        return [unit_view(u) for u in service.list_units(db.session)]
