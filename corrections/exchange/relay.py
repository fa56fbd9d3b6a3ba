"""The exchange relay (``corrections exchange relay``): the push side of the outbox. A long
running process, leader-elected through the scheduler's lease table (lease
``exchange-relay``), that publishes the pending messages to an AMQP 0-9-1 broker (RabbitMQ)
and marks them published once the broker has confirmed them.

* Routing key ``<agency code>.<type without cn.corrections.>`` on the durable topic exchange
  ``EXCHANGE_BROKER_EXCHANGE``; per agency a durable queue ``corrections.<agency code>`` bound
  with ``<agency code>.#``, declared before its first message, so nothing is dropped before a
  consumer exists. Persistent messages, ``mandatory``, publisher confirms; ``message_id`` is
  the CloudEvents id, the body the envelope as the feed serves it.
* At least once: a message is marked published only after the broker confirmed it; a relay
  that dies between the two publishes it again when it (or the standby) starts. Receivers
  de-duplicate by ``message_id``.
* In order per person and agency: a message is not published while an earlier one of the
  same person to the same agency waits for a retry or is dead.
* A failed publication is retried after ``first_retry_seconds * 2**(attempts-1)`` (at most
  ``max_retry_seconds``, rules/exchange.yaml ``delivery``); after ``max_attempts`` the message
  is dead (logged; ``corrections exchange resend --dead`` queues it again). A broker that
  cannot be reached counts against no message: the relay waits and reconnects.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from corrections.core.clock import now_utc
from corrections.exchange import outbox
from corrections.exchange import rules as exchange_rules
from corrections.exchange.models import Agency, OutboxMessage

log = logging.getLogger(__name__)

LEASE = "exchange-relay"
CONTENT_TYPE = "application/cloudevents+json"
QUEUE_PREFIX = "corrections."
# A relay that cannot reach the broker tries again after its poll interval, doubling up to
# this many seconds.
MAX_RECONNECT_SECONDS = 60
ERROR_MAX = 200


class BrokerUnavailable(Exception):
    """No connection to the broker: no message was sent, none has an attempt counted."""


class PublishFailed(Exception):
    """One message was not confirmed. ``reason`` is short and names no person (never the
    body); ``connection_lost``: the connection is gone, the round stops there."""

    def __init__(self, reason: str, *, connection_lost: bool = False):
        super().__init__(reason)
        self.reason = reason[:ERROR_MAX]
        self.connection_lost = connection_lost


@dataclass(frozen=True)
class Outgoing:
    """One message as it goes to the broker."""

    id: int
    event_id: str
    type: str
    agency_code: str
    routing_key: str
    body: bytes
    created_at: datetime


class Publisher(Protocol):
    """Publishes to the broker. A publisher may also pipeline a wave of messages,
    ``publish_many(messages) -> {outbox id: None | PublishFailed}`` (:class:`AmqpPublisher`
    does); :func:`publish_wave` uses it where it exists."""

    def publish(self, message: Outgoing) -> None:
        """Return once the broker confirmed the message; else raise :class:`PublishFailed`
        (or :class:`BrokerUnavailable` when no connection could be made)."""

    def close(self) -> None: ...


def routing_key(agency_code: str, type_: str) -> str:
    return f"{agency_code}.{type_.removeprefix(exchange_rules.TYPE_PREFIX)}"


def redacted(url: str) -> str:
    """A broker URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def _reason(exc: BaseException) -> str:
    """What went wrong, for ``last_error`` and the log: the exception's class and, for a
    connection or channel the broker closed, its reply code and text (never a body)."""
    name = type(exc).__name__
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{name}: {args[0]} {args[1]}"[:ERROR_MAX]
    return name


class AmqpPublisher:
    """Publishes over one pika ``SelectConnection`` with publisher confirms, pipelined: a
    batch is written to the socket at once and the broker's acks (by delivery tag, possibly
    ``multiple``) are collected as they come, instead of one round trip per message. The IO
    loop runs only while a call waits. Connects on the first batch and again after a lost
    connection. ``queue_prefix``: the agencies' queues are ``<queue_prefix><agency code>``
    (tests use their own)."""

    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        queue_prefix: str = QUEUE_PREFIX,
        timeout: float = 10.0,
    ):
        self.url, self.exchange, self.queue_prefix, self.timeout = (
            url,
            exchange,
            queue_prefix,
            timeout,
        )
        self.connection: Any = None
        self.channel: Any = None
        self._declared: set[str] = set()
        self._lost: str | None = None  # why the connection or channel closed
        self._tag = 0  # the channel's last delivery tag
        self._waiting: dict[int, str] = {}  # delivery tag -> event id, not yet confirmed
        self._outcome: dict[str, str | None] = {}  # event id -> None (acked) or why not
        self._returned: set[str] = set()  # event ids the broker returned (unroutable)

    # -- the IO loop, run while waiting --

    def _wait(self, done, what: str) -> None:
        """Run the connection's IO loop until ``done()``; a closed connection or the timeout
        raises :class:`PublishFailed` (connection lost)."""
        loop = self.connection.ioloop
        deadline = time.monotonic() + self.timeout
        tick = loop.call_later(self.timeout, lambda: None)  # bounds each poll
        try:
            while not done():
                if self._lost is not None:
                    raise PublishFailed(self._lost, connection_lost=True)
                if time.monotonic() >= deadline:
                    raise PublishFailed(f"TimeoutError: no answer to {what}", connection_lost=True)
                loop.poll()
                loop.process_timeouts()
        finally:
            loop.remove_timeout(tick)

    def _call(self, start, what: str) -> Any:
        """Start an asynchronous AMQP method (``start(callback)``) and wait for its answer."""
        answer: list[Any] = []
        start(answer.append)
        self._wait(lambda: bool(answer), what)
        return answer[0]

    def _closed(self, _source: Any, reason: BaseException) -> None:
        self._lost = _reason(reason)

    def _open(self) -> Any:
        import pika

        if self.channel is not None and self._lost is None and self.channel.is_open:
            return self.channel
        self.close()
        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.socket_timeout = self.timeout
        params.stack_timeout = self.timeout
        params.blocked_connection_timeout = self.timeout * 3
        self._lost, opened = None, []
        try:
            self.connection = pika.SelectConnection(
                params,
                on_open_callback=opened.append,
                on_open_error_callback=self._closed,
                on_close_callback=self._closed,
            )
            # Its own loop, polled only while a call waits (as pika's BlockingConnection does).
            self.connection.ioloop.activate_poller()
            self._wait(lambda: bool(opened), "the connection")
            channel = self._call(
                lambda cb: self.connection.channel(on_open_callback=cb), "the channel"
            )
            channel.add_on_close_callback(self._closed)
            channel.add_on_return_callback(self._on_return)
            self._call(
                lambda cb: channel.confirm_delivery(self._on_confirm, callback=cb),
                "confirm.select",
            )
            self._call(
                lambda cb: channel.exchange_declare(
                    self.exchange, exchange_type="topic", durable=True, callback=cb
                ),
                "exchange.declare",
            )
        except (PublishFailed, pika.exceptions.AMQPError, OSError) as exc:
            reason = exc.reason if isinstance(exc, PublishFailed) else _reason(exc)
            self.close()
            raise BrokerUnavailable(reason) from exc
        self.channel, self._declared, self._tag = channel, set(), 0
        self._waiting, self._outcome, self._returned = {}, {}, set()
        return channel

    # -- confirms --

    def _on_return(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        # A Basic.Return comes before the Basic.Ack of the same message.
        self._returned.add(properties.message_id)

    def _on_confirm(self, frame: Any) -> None:
        import pika

        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tags = (
            [t for t in self._waiting if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        for tag in tags:
            event_id = self._waiting.pop(tag, None)
            if event_id is None:
                continue
            if not acked:
                self._outcome[event_id] = "NackError: not confirmed by the broker"
            elif event_id in self._returned:
                self._returned.discard(event_id)
                self._outcome[event_id] = "UnroutableError: returned by the broker"
            else:
                self._outcome[event_id] = None

    def queue_of(self, agency_code: str) -> str:
        return f"{self.queue_prefix}{agency_code}"

    def _declare(self, channel: Any, agency_code: str) -> None:
        """The agency's durable queue, bound to everything addressed to it."""
        if agency_code in self._declared:
            return
        queue = self.queue_of(agency_code)
        self._call(
            lambda cb: channel.queue_declare(queue, durable=True, callback=cb), "queue.declare"
        )
        self._call(
            lambda cb: channel.queue_bind(
                queue, self.exchange, routing_key=f"{agency_code}.#", callback=cb
            ),
            "queue.bind",
        )
        self._declared.add(agency_code)

    def publish_many(self, messages: list[Outgoing]) -> dict[int, PublishFailed | None]:
        """Publish the messages at once and wait for the broker's confirms; returns, by
        outbox id, None for each confirmed and why for each not: nacked, returned
        (unroutable: its queue is declared again next time), or the connection lost before
        its confirm (``connection_lost``). The broker unreachable: :class:`BrokerUnavailable`,
        nothing sent."""
        import pika

        channel = self._open()
        self._outcome = {}
        try:
            for message in messages:
                self._declare(channel, message.agency_code)
                channel.basic_publish(
                    self.exchange,
                    message.routing_key,
                    message.body,
                    properties=pika.BasicProperties(
                        content_type=CONTENT_TYPE,
                        delivery_mode=pika.DeliveryMode.Persistent,
                        message_id=message.event_id,
                        timestamp=int(message.created_at.timestamp()),
                        type=message.type,
                        app_id="corrections",
                    ),
                    mandatory=True,
                )
                self._tag += 1
                self._waiting[self._tag] = message.event_id
            self._wait(lambda: not self._waiting, "the confirms")
        except (PublishFailed, pika.exceptions.AMQPError, OSError) as exc:
            reason = exc.reason if isinstance(exc, PublishFailed) else _reason(exc)
            outcome = dict(self._outcome)
            self.close()
            lost = PublishFailed(reason, connection_lost=True)
            return {m.id: None if outcome.get(m.event_id, "") is None else lost for m in messages}
        result: dict[int, PublishFailed | None] = {}
        for message in messages:
            why = self._outcome.get(message.event_id)
            if why is not None and why.startswith("UnroutableError"):
                self._declared.discard(message.agency_code)
            result[message.id] = None if why is None else PublishFailed(why)
        return result

    def publish(self, message: Outgoing) -> None:
        failed = self.publish_many([message])[message.id]
        if failed is not None:
            raise failed

    def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        self._declared, self._waiting = set(), {}
        if connection is None:
            return
        loop = connection.ioloop
        try:
            if not (connection.is_closed or connection.is_closing):
                connection.close()
            # Let the close handshake finish (briefly: the broker may be gone).
            deadline = time.monotonic() + 2
            while not connection.is_closed and time.monotonic() < deadline:
                loop.poll()
                loop.process_timeouts()
        except Exception:  # already going away: nothing to release
            log.debug("closing the broker connection failed", exc_info=True)
        finally:
            loop.deactivate_poller()
            loop.close()


def publish_wave(publisher: Publisher, messages: list[Outgoing]) -> dict[int, PublishFailed | None]:
    """Publish ``messages`` (at most one per person and agency) and return, by outbox id,
    None for each the broker confirmed and why for each it did not; a message missing was
    not tried. All at once where the publisher pipelines (``publish_many``), else one by one,
    stopping at a lost connection."""
    many = getattr(publisher, "publish_many", None)
    if many is not None:
        return many(messages)
    outcome: dict[int, PublishFailed | None] = {}
    for message in messages:
        try:
            publisher.publish(message)
        except PublishFailed as exc:
            outcome[message.id] = exc
            if exc.connection_lost:
                break
        else:
            outcome[message.id] = None
    return outcome


# --- one round ---------------------------------------------------------------------------


@dataclass
class Round:
    """What one round did: messages taken, published, failed (retried later), dead,
    held back behind an earlier failure of the same person; and, when the broker could not
    be reached, why."""

    taken: int = 0
    published: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    broker_down: str | None = None

    def counts(self) -> dict[str, int]:
        return {
            "taken": self.taken,
            "published": self.published,
            "failed": self.failed,
            "dead": self.dead,
            "held": self.held,
        }


# More (person, agency) pairs than this waiting behind a failure: the exclusion is left to
# the database (NOT EXISTS) instead of a list of pairs in the statement.
MAX_LISTED_BLOCKS = 200


def _waiting(message, now: datetime):
    """A message that holds back the later ones of its person and agency: dead, or waiting
    for its retry."""
    return or_(
        message.state == "dead", and_(message.state == "pending", message.next_attempt_at > now)
    )


def due(session: Session, *, now: datetime, limit: int) -> list[tuple[OutboxMessage, str]]:
    """The pending messages to publish now, oldest first, with their agency's code: routed,
    due (never tried, or their retry time has come), and with no earlier message of the same
    person to the same agency waiting for a retry or dead. An earlier one that is due itself
    comes before it in the same batch (same order, smaller id).

    The messages that block others (dead, or waiting for a retry) are few, so they are read
    first (one short query) and the batch is a plain scan of the pending ones by id that
    leaves out what they block: a NOT EXISTS per candidate cost 150 ms a batch with a
    10,000-message backlog (bench/exchange.py)."""
    blocks = session.execute(
        select(OutboxMessage.person_id, OutboxMessage.agency_id, func.min(OutboxMessage.id))
        .where(_waiting(OutboxMessage, now), OutboxMessage.person_id.is_not(None))
        .group_by(OutboxMessage.person_id, OutboxMessage.agency_id)
        .limit(MAX_LISTED_BLOCKS + 1)
    ).all()
    stmt = (
        select(OutboxMessage, Agency.code)
        .join(Agency, Agency.id == OutboxMessage.agency_id)
        .where(
            OutboxMessage.state == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if len(blocks) > MAX_LISTED_BLOCKS:
        earlier = aliased(OutboxMessage)
        stmt = stmt.where(
            ~exists().where(
                earlier.person_id == OutboxMessage.person_id,
                earlier.agency_id == OutboxMessage.agency_id,
                earlier.id < OutboxMessage.id,
                _waiting(earlier, now),
            )
        )
    elif blocks:
        stmt = stmt.where(
            ~or_(
                *(
                    and_(
                        OutboxMessage.person_id == person_id,
                        OutboxMessage.agency_id == agency_id,
                        OutboxMessage.id > first,
                    )
                    for person_id, agency_id, first in blocks
                )
            )
        )
    return [(m, code) for m, code in session.execute(stmt).all()]


def outgoing(row: OutboxMessage, agency_code: str, sealed: dict | None = None) -> Outgoing:
    """The message as it goes out: as the feed serves it (a record sealed since the message
    was written goes without its data, outbox.served)."""
    if sealed and row.person_id in sealed:
        body = json.dumps(outbox.served(row, sealed), ensure_ascii=False, separators=(",", ":"))
    else:
        body = row.envelope
    return Outgoing(
        id=row.id,
        event_id=row.event_id,
        type=row.type,
        agency_code=agency_code,
        routing_key=routing_key(agency_code, row.type),
        body=body.encode("utf-8"),
        created_at=row.created_at,
    )


def retry_delay(attempts: int, rules: exchange_rules.ExchangeRules) -> timedelta:
    """The wait after the ``attempts``-th failure: doubling from the first, capped."""
    seconds = rules.first_retry_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, rules.max_retry_seconds))


def _failed(
    session: Session,
    row: OutboxMessage,
    agency_code: str,
    reason: str,
    *,
    now: datetime,
    rules: exchange_rules.ExchangeRules,
) -> bool:
    """Count a failed attempt; True if the message is dead now."""
    attempts = (row.attempts or 0) + 1
    dead = attempts >= rules.max_attempts
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.state == "pending")
        .values(
            attempts=attempts,
            last_error=reason[:ERROR_MAX],
            next_attempt_at=None if dead else now + retry_delay(attempts, rules),
            state="dead" if dead else "pending",
        )
        .execution_options(synchronize_session=False)
    )
    if dead:
        log.warning(
            "exchange message %s (%s to %s) is dead after %d attempts: %s; "
            "`corrections exchange resend %s` queues it again",
            row.id,
            row.type,
            agency_code,
            attempts,
            reason,
            row.id,
        )
    else:
        log.info(
            "exchange message %s (%s to %s) not published (attempt %d): %s",
            row.id,
            row.type,
            agency_code,
            attempts,
            reason,
        )
    return dead


def relay_once(
    session: Session,
    publisher: Publisher,
    *,
    batch: int = 100,
    now: datetime | None = None,
) -> Round:
    """Publish one batch of due messages, in id order, and commit what happened: published
    once the broker confirmed (``published_at``; the state stays ``acknowledged`` where the
    receiver already acknowledged it from its feed), failed (attempts, error, next attempt, or
    dead). After a failure the same person's later messages to that agency wait. A lost
    connection ends the round (each message sent but not confirmed counts an attempt); an
    unreachable broker counts against no message. Any other
    error propagates with nothing marked: those messages go again (at least once)."""
    now = now or now_utc()
    rules = exchange_rules.current()
    rows = due(session, now=now, limit=batch)
    sealed = outbox.seals(session, (row.person_id for row, _code in rows))
    result = Round(taken=len(rows))
    published: list[int] = []
    held: set[tuple[int, int | None]] = set()
    waiting = list(rows)
    # In waves: a person's next message to an agency goes once the previous one is
    # confirmed, so a failure can hold back what follows it; other persons' go together.
    while waiting:
        wave: list[tuple[OutboxMessage, str]] = []
        later: list[tuple[OutboxMessage, str]] = []
        taken: set[tuple[int, int | None]] = set()
        for row, code in waiting:
            key = (row.person_id, row.agency_id)
            if row.person_id is not None and key in held:
                result.held += 1
            elif row.person_id is not None and key in taken:
                later.append((row, code))
            else:
                taken.add(key)
                wave.append((row, code))
        try:
            outcome = publish_wave(publisher, [outgoing(row, code, sealed) for row, code in wave])
        except BrokerUnavailable as exc:
            result.broker_down = str(exc) or type(exc).__name__
            break
        lost = False
        for row, code in wave:
            if row.id not in outcome:
                continue  # not tried: the connection went first
            failure = outcome[row.id]
            if failure is None:
                published.append(row.id)
                continue
            result.failed += 1
            if _failed(session, row, code, failure.reason, now=now_utc(), rules=rules):
                result.dead += 1
            held.add((row.person_id, row.agency_id))
            lost = lost or failure.connection_lost
        if lost:
            break
        waiting = later
    if published:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(published))
            .values(
                published_at=now_utc(),
                state=case(
                    (OutboxMessage.state == "acknowledged", OutboxMessage.state),
                    else_="published",
                ),
            )
            .execution_options(synchronize_session=False)
        )
    result.published = len(published)
    session.commit()
    return result


# --- the process -------------------------------------------------------------------------


def serve(
    app: Any,
    holder: str,
    *,
    publisher: Publisher | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Relay until SIGTERM or SIGINT (or ``stop`` is set): while this process holds the
    ``exchange-relay`` lease (``SCHEDULER_LEASE_SECONDS``, renewed every third of it),
    publish batches of ``EXCHANGE_RELAY_BATCH``, at once again while there are more, else
    after ``EXCHANGE_RELAY_POLL_SECONDS``; standing by otherwise. A stop finishes the round
    under way, closes the connection and releases the lease, so a restarted relay or the
    standby takes over at once; a second SIGTERM stops at once (the round's messages go
    again: at least once)."""
    from corrections.core.db import db
    from corrections.scheduler import service as scheduler

    config = app.config
    stop = stop or threading.Event()
    # pika announces every connection step at INFO and each failed one at ERROR (four lines a
    # try while the broker refuses us); the relay logs an outage itself, once.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    if publisher is None:
        publisher = AmqpPublisher(
            config["EXCHANGE_BROKER_URL"],
            config["EXCHANGE_BROKER_EXCHANGE"],
            queue_prefix=config["EXCHANGE_BROKER_QUEUE_PREFIX"],
        )
    ttl = timedelta(seconds=config["SCHEDULER_LEASE_SECONDS"])
    renew_every = max(1.0, ttl.total_seconds() / 3)
    poll = float(config["EXCHANGE_RELAY_POLL_SECONDS"])
    batch = int(config["EXCHANGE_RELAY_BATCH"])

    def on_signal(signum, frame) -> None:
        if stop.is_set():
            raise SystemExit(0)
        log.info("exchange relay %s: stopping after this round", holder)
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    leader, renewed_at, reconnect, down = False, float("-inf"), poll, None
    log.info("exchange relay %s started", holder)
    try:
        while not stop.is_set():
            wait = poll
            with app.app_context():
                try:
                    if not leader or time.monotonic() - renewed_at >= renew_every:
                        leader = scheduler.acquire_lease(
                            db.session, holder=holder, ttl=ttl, now=now_utc(), name=LEASE
                        )
                        renewed_at = time.monotonic()
                    if not leader:
                        publisher.close()
                        wait = renew_every
                    else:
                        result = relay_once(db.session, publisher, batch=batch)
                        if result.broker_down is not None:
                            if down is None:
                                log.warning(
                                    "exchange relay %s: the broker cannot be reached (%s); "
                                    "trying again, no message counts an attempt",
                                    holder,
                                    result.broker_down,
                                )
                            down, wait = result.broker_down, reconnect
                            reconnect = min(reconnect * 2, MAX_RECONNECT_SECONDS)
                        else:
                            if down is not None:
                                log.info("exchange relay %s: the broker answers again", holder)
                            down, reconnect = None, poll
                            if result.published or result.failed:
                                log.info("exchange relay round: %s", result.counts())
                            if result.taken >= batch and not result.failed:
                                wait = 0  # more are waiting
                except Exception:  # the database or a bug: logged, the next round tries again
                    db.session.rollback()
                    log.exception("exchange relay round failed")
                    leader = False
                finally:
                    db.session.remove()
            if wait:
                stop.wait(wait)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        publisher.close()
        with app.app_context():
            try:
                scheduler.release_lease(db.session, holder=holder, name=LEASE)
            except Exception:
                log.exception("exchange relay %s: the lease was not released", holder)
            finally:
                db.session.remove()
        log.info("exchange relay %s stopped", holder)
