"""HTTP layer of the command centre: alerts, their live stream, statistics, scheduler health."""

from __future__ import annotations

import threading
import time

import orjson
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView

from corrections.alerts import service
from corrections.alerts.schemas import (
    AckSchema,
    AlertPageSchema,
    AlertQuerySchema,
    AlertSchema,
    CloseSchema,
    StreamQuerySchema,
)
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.db import db
from corrections.core.errors import RuleViolation
from corrections.core.schemas import page_envelope

blp = Blueprint(
    "alerts",
    __name__,
    url_prefix="/api/v1",
    description="Command centre: alerts, live stream, statistics, scheduler health",
)


@blp.route("/alerts")
class Alerts(MethodView):
    @requires("alerts:read")
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.response(200, AlertPageSchema)
    def get(self, args):
        """Alerts in your scope, most severe first, then the longest waiting. Commanders see
        their district, officers their office, the city what was escalated to it."""
        page, size = args.pop("page"), args.pop("page_size")
        actor = current_actor()
        rows, total = service.list_alerts(
            db.session, actor=actor, page=page, page_size=size, **args
        )
        views = [service.alert_view(db.session, actor, *row) for row in rows]
        return page_envelope(views, page, size, total)


def _alert_action(name: str, schema, doc: str):
    @blp.route(f"/alerts/<id:alert_id>/{name}", endpoint=f"alert_{name}")
    class AlertAction(MethodView):
        @requires("alerts:act")
        @blp.arguments(schema)
        @blp.response(200, AlertSchema)
        @blp.alt_response(404, response="NOT_FOUND")
        @blp.alt_response(409, response="CONFLICT")
        def post(self, data, alert_id):
            actor = current_actor()
            row = service.act(
                db.session,
                actor=actor,
                alert_id=alert_id,
                action=name,
                note=data.get("note"),
            )
            return service.alert_view(db.session, actor, *row)

    AlertAction.post.__doc__ = doc
    return AlertAction


_alert_action("acknowledge", AckSchema, "Acknowledge an open alert (签收), with an optional note.")
_alert_action("resolve", CloseSchema, "Resolve an alert: the cause was dealt with (note required).")
_alert_action("dismiss", CloseSchema, "Dismiss an alert as unfounded (note required).")


def _last_event_id(query_value: int | None) -> int | None:
    header = request.headers.get("Last-Event-ID")
    if header is None:
        return query_value
    if not header.isdigit() or len(header) > 18:
        raise RuleViolation("must be a change id (digits)", field="Last-Event-ID")
    return int(header)


# A change id may be handed out before an earlier one commits: ids seen missing are asked for
# again for this long, so a slow transaction's change is still delivered.
GAP_SECONDS = 30.0
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
# A stream checks its token again this often and ends when the token was revoked or expired,
# the account disabled, or its role or unit changed (no delivery on a dead sign-in).
TOKEN_CHECK_SECONDS = 30.0


def streams_stopping(app) -> threading.Event:
    """Set when the server shuts down: open streams end at their next poll (clients
    reconnect with Last-Event-ID) instead of holding a worker and a database session."""
    return app.extensions.setdefault("corrections.streams_stopping", threading.Event())


@blp.route("/alerts/stream")
class AlertStream(MethodView):
    @requires("alerts:read")
    @blp.arguments(StreamQuerySchema, location="query")
    @blp.response(
        200,
        content_type="text/event-stream",
        description="Server-Sent Events: `id` is the change id, `event` is `alert`, `data` "
        "the alert as JSON with `change` (raised, acknowledged, resolved, dismissed, "
        "escalated). Reconnect with `Last-Event-ID` to miss nothing.",
    )
    def get(self, args):
        """Live stream of new and changed alerts in your scope (Server-Sent Events).

        Without ``Last-Event-ID`` it starts from now; with it, it first replays every change
        after that id. Ends after ``timeout`` seconds; browsers' EventSource reconnects by
        itself, sending the last id."""
        actor = current_actor()
        after = _last_event_id(args["last_event_id"])
        if after is None:
            after = service.max_change_id(db.session)
        timeout = args["timeout"]
        app = current_app._get_current_object()
        poll = app.config.get("ALERT_STREAM_POLL_SECONDS", POLL_SECONDS)
        token_check = app.config.get("ALERT_STREAM_TOKEN_CHECK_SECONDS", TOKEN_CHECK_SECONDS)
        stopping = streams_stopping(app)
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        load_actor = app.extensions["corrections.actor_loader"]

        def still_signed_in() -> bool:
            now_actor = load_actor(token, None)
            db.session.rollback()  # end the read's transaction: the stream holds none
            return now_actor is not None and (now_actor.role, now_actor.unit_id) == (
                actor.role,
                actor.unit_id,
            )

        def events():
            last = after
            gaps: dict[int, float] = {}
            started = last_sent = checked = time.monotonic()
            yield f"retry: 1000\n: stream of alert changes after {last}\n\n"
            while True:
                if time.monotonic() - checked >= token_check:
                    if not still_signed_in():
                        yield "event: end\ndata: signed out\n\n"
                        return
                    checked = time.monotonic()
                session = db.session
                # Audited and committed before it is sent; the commit also ends the snapshot,
                # so the next poll sees new rows.
                batch = service.stream_batch(session, actor=actor, after=last, also=tuple(gaps))
                clock = time.monotonic()
                for change_id, view in batch:
                    gaps.pop(change_id, None)
                    if change_id > last:
                        gaps.update({i: clock for i in range(last + 1, change_id)})
                        last = change_id
                    data = orjson.dumps(view, default=str).decode()
                    yield f"id: {change_id}\nevent: alert\ndata: {data}\n\n"
                    last_sent = clock
                gaps = {i: t for i, t in gaps.items() if clock - t < GAP_SECONDS}
                if clock - started >= timeout or stopping.is_set():
                    return
                if clock - last_sent >= HEARTBEAT_SECONDS:
                    yield ": keep-alive\n\n"
                    last_sent = clock
                time.sleep(poll)

        response = Response(stream_with_context(events()), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"
        return response
