"""HTTP layer of the command centre: alerts, their live stream, statistics, scheduler health."""

from __future__ import annotations

import logging
import random
import time

import orjson
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView

from corrections.alerts import live, service
from corrections.alerts.schemas import (
    AckSchema,
    AlertPageSchema,
    AlertQuerySchema,
    AlertSchema,
    CloseSchema,
    StreamQuerySchema,
)
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, current_credential, load_credential, requires
from corrections.core.db import db
from corrections.core.errors import RuleViolation
from corrections.core.i18n import _
from corrections.core.schemas import page_envelope

log = logging.getLogger(__name__)

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
        their district, officers their office, the city what was escalated to it; the city
        and administrators also see the system's own alerts (a backup or its drill failed:
        ``person_id`` null)."""
        page, size = args.pop("page"), args.pop("page_size")
        actor = current_actor()
        rows, total, exact = service.list_alerts(
            db.session, actor=actor, page=page, page_size=size, **args
        )
        views = [service.alert_view(db.session, actor, *row) for row in rows]
        return page_envelope(views, page, size, total, exact=exact)


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
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (header.isascii() and header.isdigit()) or len(header) > 18:
        raise RuleViolation(_("must be a change id (digits)"), field="Last-Event-ID")
    return int(header)


HEARTBEAT_SECONDS = 15.0


def streams_stopping(app) -> live.StopSignal:
    """Set when the server shuts down: the process's open streams end at once (clients
    reconnect with Last-Event-ID) instead of holding a connection and a database session."""
    return live.hub_for(app).stopping


@blp.route("/alerts/stream")
class AlertStream(MethodView):
    @requires("alerts:read")
    @blp.arguments(StreamQuerySchema, location="query")
    @blp.response(
        200,
        content_type="text/event-stream",
        description="Server-Sent Events: `id` is the change id, `event` is `alert`, `data` "
        "the alert as JSON with `change` (raised, acknowledged, resolved, dismissed, "
        "escalated); `event: end` when the sign-in ended. Reconnect with `Last-Event-ID` to "
        "miss nothing. A Last-Event-ID past the newest change (the change log restarted, as "
        "after a database restore) gets `event: restart` first, with the newest change as its "
        "`id`, then your live alerts (each with its latest change), then what changes next.",
    )
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def get(self, args):
        """Live stream of new and changed alerts in your scope (Server-Sent Events).

        Without ``Last-Event-ID`` it starts from now; with it, it first replays every change
        after that id (an id past the newest change: ``event: restart``, then the live alerts
        in your scope). Ends after ``timeout`` seconds; browsers' EventSource reconnects by
        itself, sending the last id. A user may hold ``ALERT_STREAM_MAX_PER_USER`` streams at
        once, a server process ``ALERT_STREAM_MAX_PER_PROCESS``: beyond, 429 with Retry-After."""
        return stream_response(args)


def stream_response(args) -> Response:
    """The live stream of the current actor's alerts (this route's, and a wall display's:
    web/display.py), its sign-in re-checked every ``ALERT_STREAM_TOKEN_CHECK_SECONDS``."""
    actor = current_actor()
    after = _last_event_id(args["last_event_id"])
    app = current_app._get_current_object()
    hub = live.hub_for(app)
    sub = hub.subscribe(actor, session=db.session, limit=live.setting(app, "MAX_PER_PROCESS"))
    try:
        sub.stream_id = service.open_stream(
            db.session,
            actor=actor,
            holder=hub.holder,
            max_per_user=live.setting(app, "MAX_PER_USER"),
            stale_after=live.STALE_AFTER,
            # A stream whose client left is noticed at its next keep-alive.
            retry_after=int(HEARTBEAT_SECONDS),
        )
    except BaseException:
        hub.unsubscribe(sub)
        raise
    # An id past the newest change: the change log restarted (a restored database), as
    # the process's listener concludes when the newest id goes down. The client's ids mean
    # nothing here: it gets the reader's live alerts, then every change after the newest.
    restarted_from = after if after is not None and after > sub.newest else None
    start = sub.newest if after is None or restarted_from is not None else after
    stream = _Stream(app, hub, sub, actor, start, args["timeout"], restarted_from)
    response = Response(stream_with_context(stream.events()), mimetype="text/event-stream")
    response.call_on_close(stream.close_outside_request)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _spread(seconds: float) -> float:
    """Somewhere between half of ``seconds`` and all of it: streams opened together (after a
    restart, all clients reconnect at once) do not all check their tokens at the same time."""
    return seconds * random.uniform(0.5, 1.0)  # noqa: S311 - spreading load, not a secret


class _Stream:
    """One open stream: replays from ``after``, then sends what the process's listener hands
    it. It runs after its request has finished (the request committed its slot).
    ``restarted_from``: the client's Last-Event-ID was past the newest change (``after``); the
    stream says so first and replays the reader's live alerts up to ``after``."""

    def __init__(
        self,
        app,
        hub: live.Hub,
        sub: live.Subscription,
        actor,
        after: int,
        timeout,
        restarted_from: int | None = None,
    ):
        self.app, self.hub, self.sub, self.actor = app, hub, sub, actor
        self.after, self.timeout, self.restarted_from = after, timeout, restarted_from
        # The bearer token, or a wall display's cookie, it was opened with: checked again.
        self.credential = current_credential()
        self.closed = False

    def still_signed_in(self) -> bool:
        now_actor = load_credential(self.credential)
        db.session.rollback()  # end the read's transaction: the stream holds none
        return now_actor is not None and (now_actor.role, now_actor.unit_id) == (
            self.actor.role,
            self.actor.unit_id,
        )

    def events(self):
        token_check = live.setting(self.app, "TOKEN_CHECK_SECONDS")
        stopping, sub = self.hub.stopping, self.sub
        last = self.after
        # Ids the replay sent: the listener may hand the same changes over once more.
        replayed: set[int] = set()
        replaying = True
        # After a restart: the live alerts' latest changes come first, from 0 to ``last``.
        live_after = 0 if self.restarted_from is not None else None
        started = last_sent = checked = replayed_until = time.monotonic()
        check_in = _spread(token_check)
        try:
            restart = "" if self.restarted_from is None else self._restart_event(last)
            yield f"retry: 1000\n: stream of alert changes after {last}\n{restart}\n"
            while True:
                if time.monotonic() - checked >= check_in:
                    if not self.still_signed_in():
                        yield "event: end\ndata: signed out\n\n"
                        return
                    checked, check_in = time.monotonic(), _spread(token_check)
                if live_after is not None:
                    batch = service.stream_batch(
                        db.session, actor=self.actor, after=live_after, live_up_to=last
                    )
                    live_after = batch[-1][0] if len(batch) >= service.STREAM_BATCH else None
                elif replaying:
                    batch = service.stream_batch(db.session, actor=self.actor, after=last)
                    replaying = len(batch) >= service.STREAM_BATCH
                    replayed.update(change_id for change_id, _view in batch)
                    replayed_until = time.monotonic()
                else:
                    clock = time.monotonic()
                    if replayed and clock - replayed_until > live.GAP_SECONDS:
                        replayed.clear()  # the listener has handed over all it overlapped
                    wait = min(
                        HEARTBEAT_SECONDS - (clock - last_sent),
                        check_in - (clock - checked),
                        self.timeout - (clock - started),
                    )
                    # Later than where it started (as a reconnect's replay would have it), and
                    # not sent already by the replay.
                    fresh = [
                        c for c in sub.take(wait) if c.id > self.after and c.id not in replayed
                    ]
                    batch = fresh and service.deliver(db.session, actor=self.actor, changes=fresh)
                for change_id, view in batch:
                    last = max(last, change_id)
                    data = orjson.dumps(view, default=str).decode()
                    yield f"id: {change_id}\nevent: alert\ndata: {data}\n\n"
                    last_sent = time.monotonic()
                clock = time.monotonic()
                if sub.ended:  # too far behind: the client reconnects and replays
                    return
                if clock - started >= self.timeout or stopping.is_set():
                    return
                if clock - last_sent >= HEARTBEAT_SECONDS:
                    yield ": keep-alive\n\n"
                    last_sent = clock
        finally:
            self.close()

    def _restart_event(self, newest: int) -> str:
        """The lines that make the first message a ``restart`` event: its ``id`` is the newest
        change, where the client's count starts again (EventSource takes it as its last id)."""
        data = orjson.dumps(
            {
                "reason": "change_log_restarted",
                "last_event_id": self.restarted_from,
                "newest_change_id": newest,
            }
        ).decode()
        return (
            f": Last-Event-ID {self.restarted_from} is past the newest change ({newest}): the "
            "change log restarted (a restored database?); your live alerts follow, then every "
            f"change after {newest}\nid: {newest}\nevent: restart\ndata: {data}\n"
        )

    def close(self) -> None:
        """Give the stream's places back: at the listener, and its row (the per-user count)."""
        if self.closed:
            return
        self.closed = True
        self.hub.unsubscribe(self.sub)
        if self.sub.stream_id is None:
            return
        try:
            service.close_stream(db.session, self.sub.stream_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("could not close an alert stream's row (it expires by itself)")

    def close_outside_request(self) -> None:
        """The server closed the response before the stream ran (or after it ended)."""
        if not self.closed:
            with self.app.app_context():
                self.close()
