"""Managing wall displays (大屏): a commander their district's, the city and administrators
any (org/displays.py). A display's secret appears in exactly one response, the one that
created it, and never in a log or the audit trail."""

from __future__ import annotations

from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.db import db
from corrections.org import displays
from corrections.org.models import DisplayToken
from corrections.org.schemas import (
    CreatedDisplaySchema,
    DisplayCreateSchema,
    DisplayQuerySchema,
    DisplaySchema,
)

blp = Blueprint(
    "display_tokens",
    __name__,
    url_prefix="/api/v1/display-tokens",
    description="Wall displays (大屏): device tokens, read-only, one district each",
)


def display_view(display: DisplayToken) -> dict:
    return {
        "id": display.id,
        "name": display.name,
        "district_code": display.unit.code,
        "district_name_zh": display.unit.name_zh,
        "created_at": display.created_at,
        "created_by": display.created_by,
        "last_used_at": display.last_used_at,
        "revoked_at": display.revoked_at,
        "revoked_by": display.revoked_by,
        "active": display.revoked_at is None,
    }


@blp.route("")
class Displays(MethodView):
    @requires("displays:manage")
    @blp.arguments(DisplayQuerySchema, location="query")
    @blp.response(200, DisplaySchema(many=True))
    def get(self, args):
        """The displays you manage (a commander: their district's), newest first, with their
        last use; revoked ones too."""
        found = displays.list_displays(
            db.session, actor=current_actor(), district_code=args.get("district_code")
        )
        return [display_view(d) for d in found]

    @requires("displays:manage")
    @blp.arguments(DisplayCreateSchema)
    @blp.response(201, CreatedDisplaySchema)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, data):
        """Create a display for a district: its secret is in this answer only (open
        ``enrol_path`` on the display once, or paste the secret into its form)."""
        issued = displays.create(
            db.session,
            actor=current_actor(),
            district_code=data["district_code"],
            name=data["name"],
        )
        return {
            **display_view(issued.display),
            "token": issued.secret,
            "enrol_path": f"/display#token={issued.secret}",
        }


@blp.route("/<id:display_id>/revoke")
class RevokeDisplay(MethodView):
    @requires("displays:manage")
    @blp.response(200, DisplaySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, display_id):
        """Revoke a display: its next request is refused, its open live stream ends within
        ``ALERT_STREAM_TOKEN_CHECK_SECONDS`` (30 s). Revoking it again changes nothing."""
        display = displays.revoke(db.session, actor=current_actor(), display_id=display_id)
        return display_view(display)
