"""What a wall display (大屏) reads: its district's live alerts, their stream and the district's
statistics, under ``/api/v1/display`` (org/displays.py has the displays themselves).

The display's browser keeps its token in a cookie: HttpOnly (no script, nor an injected one,
can read it), SameSite=Strict (no other site's page sends it), Secure on HTTPS, and Path
``/api/v1/display``, so the browser sends it to these routes and nowhere else. These routes
take it only on GET (core/auth.py, ``requires(..., cookie=True)``), for a display's token only;
every other route ignores it. The display role cannot change anything, so a forged request
could at most read a board the forger cannot see; the cookie still never works as a session
for anything else. The page (``/display``) itself is public and holds no data.
"""

from __future__ import annotations

from datetime import timedelta

from flask import after_this_request, request
from flask.views import MethodView

from corrections.alerts import service as alerts
from corrections.alerts.models import LIVE_STATUSES
from corrections.alerts.schemas import StreamQuerySchema
from corrections.alerts.views import stream_response
from corrections.core.api import Blueprint
from corrections.core.auth import (
    DISPLAY_COOKIE,
    ROLE_LABELS_ZH,
    Actor,
    Credential,
    Role,
    current_actor,
    load_credential,
    public,
    requires,
)
from corrections.core.clock import now_utc
from corrections.core.db import db
from corrections.core.schemas import page_envelope, page_of
from corrections.org import displays
from corrections.org.models import DisplayToken
from corrections.web import stats
from corrections.web.schemas import (
    DisplayEnrolSchema,
    DisplayMeSchema,
    DisplaySessionSchema,
    OverviewSchema,
    WallAlertQuerySchema,
    WallAlertSchema,
)

blp = Blueprint(
    "display",
    __name__,
    url_prefix="/api/v1/display",
    description="Wall display (大屏): its district's live alerts and statistics, read-only",
)

COOKIE_PATH = "/api/v1/display"
# Browsers keep a cookie at most 400 days; each start of the page renews it (GET /session).
COOKIE_MAX_AGE = timedelta(days=400)


def _set_cookie(secret: str) -> None:
    @after_this_request
    def _cookie(response):
        response.set_cookie(
            DISPLAY_COOKIE,
            secret,
            max_age=COOKIE_MAX_AGE,
            path=COOKIE_PATH,
            secure=request.is_secure,
            httponly=True,
            samesite="Strict",
        )
        return response


def _forget_cookie() -> None:
    @after_this_request
    def _forget(response):
        response.delete_cookie(
            DISPLAY_COOKIE,
            path=COOKIE_PATH,
            secure=request.is_secure,
            httponly=True,
            samesite="Strict",
        )
        return response


def _me(actor: Actor) -> dict:
    display = db.session.get(DisplayToken, actor.display_id)
    return {
        "id": display.id,
        "name": display.name,
        "role": Role.DISPLAY.value,
        "role_label_zh": ROLE_LABELS_ZH[Role.DISPLAY],
        "district_code": display.unit.code,
        "district_name_zh": display.unit.name_zh,
    }


@blp.route("/session")
class DisplaySession(MethodView):
    @public
    @blp.response(200, DisplaySessionSchema)
    def get(self):
        """Whether this browser is a display (its cookie names one not revoked), and which:
        what the page asks first. Always 200, so a wall's console shows no error for a
        browser not enrolled yet; a cookie that opens nothing is removed."""
        value = request.cookies.get(DISPLAY_COOKIE, "")
        actor = load_credential(Credential(value, cookie=True)) if value else None
        if actor is None:
            if value:
                _forget_cookie()
            return {"enrolled": False, "display": None}
        displays.touch(db.session, actor)
        _set_cookie(value)  # renewed: a wall that starts once a year keeps it
        return {"enrolled": True, "display": _me(actor)}

    @public
    @blp.arguments(DisplayEnrolSchema)
    @blp.response(200, DisplayMeSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, data):
        """Make this browser the display the token belongs to (once): the answer sets the
        display's cookie (HttpOnly, SameSite=Strict, Path=/api/v1/display) and says which
        display and district it is. Audited as ``display.enrol``."""
        actor, _display = displays.enrol(db.session, data["token"])
        _set_cookie(data["token"].strip())
        return _me(actor)

    @public
    @blp.response(204)
    def delete(self):
        """Forget the display on this browser (the cookie is removed; the token stays valid
        until it is revoked)."""
        _forget_cookie()
        return "", 204


@blp.route("/me")
class DisplayMe(MethodView):
    @requires("display:read", cookie=True)
    @blp.response(200, DisplayMeSchema)
    def get(self):
        """Which display this is and its district."""
        actor = current_actor()
        displays.touch(db.session, actor)
        return _me(actor)


@blp.route("/alerts")
class DisplayAlerts(MethodView):
    @requires("display:read", cookie=True)
    @blp.arguments(WallAlertQuerySchema, location="query")
    @blp.response(200, page_of(WallAlertSchema, "WallAlertPageSchema"))
    def get(self, args):
        """The district's open and acknowledged alerts, most severe first, then the newest,
        as a wall shows them (names masked, no identity, no notes)."""
        actor = current_actor()
        displays.touch(db.session, actor)
        page, size = args["page"], args["page_size"]
        rows, total, exact = alerts.list_alerts(
            db.session,
            actor=actor,
            status=list(LIVE_STATUSES),
            order="newest",
            page=page,
            page_size=size,
        )
        views = [alerts.alert_view(db.session, actor, *row) for row in rows]
        return page_envelope(views, page, size, total, exact=exact)


@blp.route("/alerts/stream")
class DisplayAlertStream(MethodView):
    @requires("display:read", cookie=True)
    @blp.arguments(StreamQuerySchema, location="query")
    @blp.response(
        200,
        content_type="text/event-stream",
        description="As /api/v1/alerts/stream, each alert as the wall shows it; `event: end` "
        "when the display is revoked (within ALERT_STREAM_TOKEN_CHECK_SECONDS).",
    )
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def get(self, args):
        """Live stream of the district's alert changes (Server-Sent Events), as
        ``/api/v1/alerts/stream``; a display holds at most ``ALERT_STREAM_MAX_PER_USER``."""
        displays.touch(db.session, current_actor())
        return stream_response(args)


@blp.route("/overview")
class DisplayOverview(MethodView):
    @requires("display:read", cookie=True)
    @blp.response(200, OverviewSchema)
    def get(self):
        """The district's statistics (counts only, no personal data), as the command
        centre's ``/api/v1/stats/overview`` gives them to its commander."""
        actor = current_actor()
        displays.touch(db.session, actor)
        return stats.overview(db.session, actor=actor, now=now_utc())
