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
    """Publishes over one pika ``BlockingConnection`` with publisher confirms; connects on
    the first message and again after a lost connection. ``queue_prefix``: the agencies'
    queues are ``<queue_prefix><agency code>`` (tests use their own)."""

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

    def _open(self) -> Any:
        import pika

        if self.channel is not None and self.channel.is_open and self.connection.is_open:
            return self.channel
        self.close()
        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.socket_timeout = self.timeout
        params.stack_timeout = self.timeout
        params.blocked_connection_timeout = self.timeout * 3
        try:
            self.connection = pika.BlockingConnection(params)
            channel = self.connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        except (pika.exceptions.AMQPError, OSError) as exc:
            self.close()
            raise BrokerUnavailable(_reason(exc)) from exc
        self.channel = channel
        self._declared = set()
        return channel

    def queue_of(self, agency_code: str) -> str:
        return f"{self.queue_prefix}{agency_code}"

    def _declare(self, channel: Any, agency_code: str) -> None:
        """The agency's durable queue, bound to everything addressed to it."""
        if agency_code in self._declared:
            return
        queue = self.queue_of(agency_code)
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, self.exchange, routing_key=f"{agency_code}.#")
        self._declared.add(agency_code)

    def publish(self, message: Outgoing) -> None:
        import pika

        channel = self._open()
        properties = pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.event_id,
            timestamp=int(message.created_at.timestamp()),
            type=message.type,
            app_id="corrections",
        )
        try:
            self._declare(channel, message.agency_code)
            channel.basic_publish(
                self.exchange,
                message.routing_key,
                message.body,
                properties=properties,
                mandatory=True,
            )
        except pika.exceptions.UnroutableError as exc:
            # Its queue was deleted meanwhile: declared again at the next attempt.
            self._declared.discard(message.agency_code)
            raise PublishFailed("UnroutableError: returned by the broker") from exc
        except pika.exceptions.NackError as exc:
            raise PublishFailed("NackError: not confirmed by the broker") from exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self.close()
            raise PublishFailed(_reason(exc), connection_lost=True) from exc

    def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        self._declared = set()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # already going away: nothing to release
                log.debug("closing the broker connection failed", exc_info=True)


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


def outgoing(row: OutboxMessage, agency_code: str) -> Outgoing:
    return Outgoing(
        id=row.id,
        event_id=row.event_id,
        type=row.type,
        agency_code=agency_code,
        routing_key=routing_key(agency_code, row.type),
        body=row.envelope.encode("utf-8"),
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
    connection ends the round; an unreachable broker counts against no message. Any other
    error propagates with nothing marked: those messages go again (at least once)."""
    now = now or now_utc()
    rules = exchange_rules.current()
    rows = due(session, now=now, limit=batch)
    result = Round(taken=len(rows))
    published: list[int] = []
    held: set[tuple[int, int | None]] = set()
    for row, code in rows:
        key = (row.person_id, row.agency_id)
        if row.person_id is not None and key in held:
            result.held += 1
            continue
        try:
            publisher.publish(outgoing(row, code))
        except BrokerUnavailable as exc:
            result.broker_down = str(exc) or type(exc).__name__
            break
        except PublishFailed as exc:
            result.failed += 1
            if _failed(session, row, code, exc.reason, now=now_utc(), rules=rules):
                result.dead += 1
            held.add(key)
            if exc.connection_lost:
                break
            continue
        published.append(row.id)
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
    # pika announces every connection step at INFO; the relay logs what matters itself.
    logging.getLogger("pika").setLevel(logging.WARNING)
    if publisher is None:
        publisher = AmqpPublisher(config["EXCHANGE_BROKER_URL"], config["EXCHANGE_BROKER_EXCHANGE"])
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
