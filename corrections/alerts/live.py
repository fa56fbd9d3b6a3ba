"""The live alert stream's one listener per process, fanning changes out to its open streams.

On PostgreSQL a dedicated connection LISTENs on channel ``alert_changes``: a trigger (migration
0015) notifies at the commit of every transaction that logged changes. On SQLite one thread
reads the newest change id every ``ALERT_STREAM_POLL_SECONDS`` (without a lock). Either way
the process fetches each new change once (:func:`service.changes_since`) and hands it to every
open stream whose reader may see it (:func:`service.in_scope`). A stream waits for its changes
without polling anything: under gevent (the serving command in the README) without a thread of
its own. It touches the database when it opens (the per-user cap, its replay), to deliver what
it was handed (masked per reader, audited per batch, :func:`service.deliver`) and to re-check
its token every ``ALERT_STREAM_TOKEN_CHECK_SECONDS``.

The listener starts with the process's first stream and stops a little after its last one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import threading
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from corrections.alerts import service
from corrections.alerts.service import StreamChange
from corrections.config import DEFAULTS
from corrections.core.auth import Actor
from corrections.core.db import db
from corrections.core.errors import TooManyRequests
from corrections.core.i18n import _

log = logging.getLogger(__name__)

CHANNEL = "alert_changes"
# A change id may be handed out before an earlier one commits: ids seen missing are fetched
# again for this long, so a slow transaction's change is still delivered.
GAP_SECONDS = 30.0
# Open streams are renewed this often, and no longer counted against their user's cap when
# not renewed for STALE_AFTER (their process died).
RENEW_SECONDS = 20.0
STALE_AFTER = timedelta(seconds=90)
# The PostgreSQL listener wakes at least this often (renewals, gap expiry, idle check, a
# server stopping).
TICK_SECONDS = 2.0
# The listener stops this long after the process's last stream closed.
IDLE_SECONDS = 10.0
# Changes waiting for one stream; a stream further behind (a client that does not read) is
# ended, and its client reconnects and replays from the database.
QUEUE_LIMIT = 5000
RETRY_AFTER_SECONDS = 30


class StopSignal:
    """Set when the server shuts down: every open stream of the process ends at once (clients
    reconnect with Last-Event-ID) instead of holding a connection and a database session."""

    def __init__(self, hub: Hub):
        self._hub, self._event = hub, threading.Event()

    def set(self) -> None:
        self._event.set()
        self._hub.wake_all()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()


class Subscription:
    """One open stream's place at the process's listener: the changes handed to it wait here."""

    def __init__(self, hub: Hub, actor: Actor, newest: int):
        self.hub, self.actor = hub, actor
        self.newest = newest  # the newest change when it subscribed: "from now" starts there
        self.scope_key = (actor.role, actor.unit_id)  # readers with one key see the same alerts
        self.pending: list[StreamChange] = []
        self.ended: str | None = None  # why the listener ended it
        self.stream_id: int | None = None  # its row in alert_streams
        self.cond = threading.Condition(hub.lock)

    def take(self, timeout: float) -> list[StreamChange]:
        """The changes handed over so far, waiting up to ``timeout`` seconds for some."""
        with self.hub.lock:
            if not (self.pending or self.ended or self.hub.stopping.is_set()):
                self.cond.wait(max(0.0, timeout))
            out, self.pending = self.pending, []
            return out


class Hub:
    """A process's listener and the streams it serves."""

    def __init__(self, app: Flask):
        self.app = app
        self.pid = os.getpid()
        self.holder = f"{socket.gethostname()[:120]}:{self.pid}:{secrets.token_hex(4)}"
        self.lock = threading.Lock()
        self.subscriptions: set[Subscription] = set()
        self.stopping = StopSignal(self)
        self.thread: threading.Thread | None = None
        self.idle_since = time.monotonic()
        # The newest change fetched, and ids below it not seen yet (with when they were
        # missed); changed under the lock only. ``epoch`` counts restarts from the newest.
        self.last = 0
        self.gaps: dict[int, float] = {}
        self.epoch = 0
        self.renewed = time.monotonic()
        self.terminating = False  # the server was told to stop (SIGTERM)

    @property
    def postgres(self) -> bool:
        return db.engine.dialect.name == "postgresql"

    # --- streams ---------------------------------------------------------------------------

    def subscribe(self, actor: Actor, *, session: Session, limit: int) -> Subscription:
        """A place for a new stream (:class:`TooManyRequests` when the process serves ``limit``
        already); starts the listener if it is not running, from the newest change now."""
        with self.lock:
            if len(self.subscriptions) >= limit:
                raise TooManyRequests(
                    _(
                        "This server process serves {limit} live alert streams already; "
                        "try again later.",
                        limit=limit,
                    ),
                    retry_after=RETRY_AFTER_SECONDS,
                    errors={
                        "streams": [
                            _("at most {limit} open streams per server process", limit=limit)
                        ]
                    },
                )
            # Read under the lock, before the stream replays: whatever commits after this is
            # the listener's. Below what the listener fetched, the change log restarted (a
            # restore; tests empty it).
            newest = service.max_change_id(session)
            if self.thread is None or newest < self.last:
                self._restart_from(newest)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="alert-stream-listener", daemon=True
                )
                self.thread.start()
            sub = Subscription(self, actor, newest)
            self.subscriptions.add(sub)
            return sub

    def _restart_from(self, newest: int) -> None:
        self.last, self.gaps, self.epoch = newest, {}, self.epoch + 1

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            self.subscriptions.discard(sub)
            if not self.subscriptions:
                self.idle_since = time.monotonic()

    def wake_all(self) -> None:
        with self.lock:
            for sub in self.subscriptions:
                sub.cond.notify_all()

    def _dispatch(self, changes: list[StreamChange]) -> None:
        """Hand ``changes`` to every stream whose reader may see them (under the lock)."""
        if changes:
            matching: dict[Any, list[StreamChange]] = {}
            for sub in self.subscriptions:
                if sub.ended:
                    continue
                mine = matching.get(sub.scope_key)
                if mine is None:
                    mine = [c for c in changes if service.in_scope(sub.actor, c)]
                    matching[sub.scope_key] = mine
                if not mine:
                    continue
                if len(sub.pending) + len(mine) > QUEUE_LIMIT:
                    sub.ended, sub.pending = "behind", []
                else:
                    sub.pending.extend(mine)
                sub.cond.notify_all()

    # --- the listener ----------------------------------------------------------------------

    def _keep_running(self) -> bool:
        with self.lock:
            if self.subscriptions or time.monotonic() - self.idle_since < IDLE_SECONDS:
                return True
            self.thread = None  # the next stream starts a new listener
            return False

    def _run(self) -> None:
        with self.app.app_context():
            failures = 0
            while self._keep_running():
                began = time.monotonic()
                try:
                    if self.postgres:
                        self._listen()
                    else:
                        self._poll()
                except Exception:
                    db.session.rollback()
                    # Back off while it keeps failing; a listener that ran a while starts over.
                    failures = 1 if time.monotonic() - began > 60 else failures + 1
                    log.exception("the alert stream listener failed (%d in a row)", failures)
                    time.sleep(min(30.0, 0.5 * 2**failures))
                finally:
                    db.session.remove()

    def _listen(self) -> None:
        """PostgreSQL: wait for notifications on a connection of the listener's own."""
        raw = db.engine.raw_connection()
        conn = raw.driver_connection
        raw.detach()  # held for as long as the listener runs: not the pool's any more
        try:
            conn.rollback()
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
            self._fetch()  # what committed before LISTEN took effect
            while self._keep_running():
                notified = False
                for _notice in conn.notifies(timeout=TICK_SECONDS, stop_after=1):
                    notified = True
                if notified:
                    self._fetch()
                self._housekeeping()
        finally:
            conn.close()

    def _poll(self) -> None:
        """SQLite: read the newest change id (no transaction, so no write lock) and fetch when
        it moved."""
        while self._keep_running():
            time.sleep(float(setting(self.app, "POLL_SECONDS")))
            raw = db.engine.raw_connection()
            try:
                newest = raw.cursor().execute("SELECT max(id) FROM alert_changes").fetchone()[0]
            finally:
                raw.close()
            if (newest or 0) != self.last:
                self._fetch()
            self._housekeeping()

    def _fetch(self) -> None:
        """Fetch every change not fetched yet, once for all streams, and hand them out."""
        session = db.session
        try:
            newest = service.max_change_id(session)
            with self.lock:
                if newest < self.last:  # the change log restarted: follow it from its newest
                    self._restart_from(newest)
            while True:
                with self.lock:
                    after, also, epoch = self.last, tuple(self.gaps), self.epoch
                changes = service.changes_since(session, after=after, also=also)
                session.rollback()  # hold no snapshot between fetches
                with self.lock:
                    if epoch != self.epoch:
                        continue  # restarted meanwhile: what was fetched is stale
                    clock = time.monotonic()
                    for change in changes:
                        self.gaps.pop(change.id, None)
                        if change.id > self.last:
                            if change.id - self.last <= service.STREAM_BATCH * 20:
                                self.gaps.update(
                                    {i: clock for i in range(self.last + 1, change.id)}
                                )
                            self.last = change.id
                    self._dispatch(changes)
                if len(changes) < service.STREAM_BATCH:
                    break
        finally:
            session.rollback()

    def _housekeeping(self) -> None:
        if self.terminating and not self.stopping.is_set():
            self.stopping.set()
        clock = time.monotonic()
        with self.lock:
            self.gaps = {i: t for i, t in self.gaps.items() if clock - t < GAP_SECONDS}
            ids = [s.stream_id for s in self.subscriptions if s.stream_id is not None]
        if clock - self.renewed < RENEW_SECONDS:
            return
        self.renewed = clock
        session = db.session
        try:
            service.renew_streams(session, holder=self.holder, ids=ids)
            session.commit()
        except Exception:
            session.rollback()
            raise


def setting(app: Flask, name: str) -> Any:
    """``ALERT_STREAM_<name>`` of the app's configuration (its default if a test removed it)."""
    key = f"ALERT_STREAM_{name}"
    return app.config.get(key, DEFAULTS[key])


_HUBS_LOCK = threading.Lock()
_KEY = "corrections.alert_hub"


def hub_for(app: Flask) -> Hub:
    """This process's listener for ``app`` (a forked worker gets its own)."""
    hub = app.extensions.get(_KEY)
    if hub is None or hub.pid != os.getpid():
        with _HUBS_LOCK:
            hub = app.extensions.get(_KEY)
            if hub is None or hub.pid != os.getpid():
                hub = app.extensions[_KEY] = Hub(app)
                _end_streams_on_sigterm(hub)
    return hub


def _end_streams_on_sigterm(hub: Hub) -> None:
    """Under a server that stops gracefully on SIGTERM (gunicorn waits for open requests, 30 s
    by default), end the open streams at once so the worker can go; their clients reconnect
    to another worker with Last-Event-ID. Chained before the server's own handler; nothing
    where none is installed (tests, the demo server) or off the main thread."""
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def handler(signum, frame):
        # A signal handler must not wait (for the hub's lock, or under gevent at all): the
        # listener sees the flag at its next tick and ends the streams.
        hub.terminating = True
        previous(signum, frame)

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, handler)
