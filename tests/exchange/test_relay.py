"""The exchange relay (issue 15, push): pending messages go to a real RabbitMQ
(``CORRECTIONS_TEST_AMQP_URL``, default the local one) once each, with their routing key,
properties and the envelope as body; in order per person; retried with back-off and dead
after the rules' attempts; again after a relay died between the broker's confirm and the
database's mark (the receiver de-duplicates by id); and none lost when the connection breaks
in the middle of a batch (a proxy between relay and broker is cut, not the shared server).

Without a broker these tests are skipped, except in CI (``CI`` set), where that fails."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from corrections.core.db import db
from corrections.exchange import outbox, relay, service
from corrections.exchange import rules as exchange_rules
from corrections.exchange.models import OutboxMessage
from corrections.exchange.relay import (
    LEASE,
    AmqpPublisher,
    PublishFailed,
    relay_once,
    retry_delay,
    serve,
)
from corrections.persons.models import Person
from tests.supervision.conftest import event, sanction

pika = pytest.importorskip("pika")

AMQP_URL = os.environ.get("CORRECTIONS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
WARNING = "cn.corrections.sanction.warning.decided"


def require_broker(url: str = AMQP_URL) -> None:
    """Skip without a reachable broker; in CI (``CI`` set) fail instead: the relay must be
    tested there."""
    try:
        params = pika.URLParameters(url)
        params.connection_attempts, params.socket_timeout = 1, 3
        pika.BlockingConnection(params).close()
    except Exception as exc:  # any failure to connect
        message = f"no AMQP broker at {url} ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the relay's tests against one")
        pytest.skip(message)


class Broker:
    """This test's own exchange and queues (a uuid prefix) on the shared broker, and a
    consumer's channel to read them."""

    def __init__(self, url: str):
        self.url = url
        self.prefix = f"test-{uuid.uuid4().hex[:12]}"
        self.exchange = f"{self.prefix}.exchange"
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()

    def publisher(self, url: str | None = None) -> AmqpPublisher:
        return AmqpPublisher(url or self.url, self.exchange, queue_prefix=f"{self.prefix}.")

    def queue(self, agency_code: str) -> str:
        return f"{self.prefix}.{agency_code}"

    def drain(self, agency_code: str) -> list[tuple]:
        """Every message in the agency's queue: (method, properties, body)."""
        out = []
        self.channel.queue_declare(self.queue(agency_code), durable=True)  # as the relay does
        while True:
            method, properties, body = self.channel.basic_get(
                self.queue(agency_code), auto_ack=True
            )
            if method is None:
                return out
            out.append((method, properties, body))

    def close(self, agency_codes) -> None:
        for code in agency_codes:
            self.channel.queue_delete(self.queue(code))
        self.channel.exchange_delete(self.exchange)
        self.connection.close()


@pytest.fixture
def broker():
    require_broker()
    made = Broker(AMQP_URL)
    yield made
    made.close(["dc-jcy", "xc-jcy"])


@pytest.fixture
def agencies(app, city):
    with app.app_context():
        for code, unit in (("dc-jcy", "329901"), ("xc-jcy", "329902")):
            service.create_agency(
                db.session,
                code=code,
                kind="procuratorate",
                name_zh=f"{code} 检察院",
                unit_code=unit,
            )
        db.session.commit()
        db.session.remove()


def emit(app, person_id: int, n: int = 1) -> list[str]:
    """``n`` warnings' messages about the person, straight through the outbox; their ids."""
    ids = []
    with app.app_context():
        person = db.session.get(Person, person_id)
        for _i in range(n):
            (row,) = outbox.emit(
                db.session,
                "sanction.warning.decided",
                person=person,
                facts={"decision.kind": "warning", "decision.label_zh": "警告"},
            )
            ids.append(row.event_id)
        db.session.commit()
        db.session.remove()
    return ids


def run(app, publisher, batch: int = 100):
    with app.app_context():
        try:
            return relay_once(db.session, publisher, batch=batch)
        finally:
            db.session.remove()


def states(app) -> dict[str, tuple]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        out = {
            r.event_id: (r.state, r.attempts, r.next_attempt_at, r.last_error, r.published_at)
            for r in rows
        }
        db.session.remove()
    return out


class Failing:
    """A publisher failing the messages whose ids are in ``fail`` (or every one), passing
    the others on to ``inner``."""

    def __init__(self, inner=None, fail=None, reason="NackError: not confirmed by the broker"):
        self.inner, self.fail, self.reason = inner, fail, reason

    def publish(self, message):
        if self.fail is None or message.event_id in self.fail:
            raise PublishFailed(self.reason)
        self.inner.publish(message)

    def close(self):
        if self.inner is not None:
            self.inner.close()


def test_a_warning_is_published_once_with_its_key_properties_and_envelope(
    app, clock, login, active, agencies, broker
):
    person = active()
    officer, commander = login("officer-dongcheng-1"), login("commander-dongcheng")
    report = event(officer, person["id"], "report").get_json()["id"]
    resp = event(commander, person["id"], "warning", payload=sanction("warning", [report]))
    assert resp.status_code == 201, resp.get_json()
    publisher = broker.publisher()
    try:
        first = run(app, publisher)
        again = run(app, publisher)
    finally:
        publisher.close()
    assert (first.published, again.taken) == (1, 0)
    (delivered,) = broker.drain("dc-jcy")
    assert broker.drain("xc-jcy") == []
    method, props, body = delivered
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage))
        envelope = row.envelope
        assert (row.state, row.published_at) == ("published", clock.now())
        db.session.remove()
    assert method.routing_key == "dc-jcy.sanction.warning.decided"
    assert method.exchange == broker.exchange
    assert body.decode("utf-8") == envelope
    message = json.loads(body)
    assert props.message_id == message["id"] == row.event_id
    assert props.content_type == "application/cloudevents+json"
    assert props.delivery_mode == 2
    assert props.type == WARNING == message["type"]
    assert props.timestamp == int(row.created_at.timestamp())
    assert message["subject"] == f"person/{person['id']}"


@pytest.mark.parametrize("listed", [200, 0], ids=["blocks-listed", "blocks-in-sql"])
def test_a_persons_later_message_waits_behind_a_failed_one_others_go(
    app, clock, active, agencies, broker, monkeypatch, listed
):
    # Both ways the batch leaves out what a failure holds back: the few blocking pairs
    # listed in the statement, or (too many of them) NOT EXISTS in the database.
    monkeypatch.setattr(relay, "MAX_LISTED_BLOCKS", listed)
    a, b = active(), active(name="李强")
    a1, a2 = emit(app, a["id"], 2)
    (b1,) = emit(app, b["id"])
    real = broker.publisher()
    try:
        first = run(app, Failing(real, fail={a1}))
        assert (first.published, first.failed, first.held) == (1, 1, 1)
        after = states(app)
        assert after[a1][:2] == ("pending", 1) and after[a1][2] == clock.now() + timedelta(
            seconds=5
        )
        assert after[a2][:2] == ("pending", 0) and after[b1][0] == "published"
        # Before a1's retry is due nothing of person A goes, even through a healthy broker.
        assert run(app, real).taken == 0
        clock.advance(seconds=5)
        second = run(app, real)
        assert second.published == 2
    finally:
        real.close()
    ids = [props.message_id for _m, props, _b in broker.drain("dc-jcy")]
    assert ids == [b1, a1, a2]
    assert {s[0] for s in states(app).values()} == {"published"}


def test_failures_back_off_until_the_message_is_dead_then_resend_delivers_it(
    app, clock, active, agencies, broker, caplog
):
    person = active()
    (m,) = emit(app, person["id"])
    with app.app_context():
        rules = exchange_rules.current()
    failing = Failing()
    waits = []
    caplog.set_level(logging.INFO, logger="corrections.exchange.relay")
    for attempt in range(1, rules.max_attempts + 1):
        assert run(app, failing).failed == 1
        state, attempts, next_at, error, _published = states(app)[m]
        assert attempts == attempt and error == "NackError: not confirmed by the broker"
        if attempt < rules.max_attempts:
            assert state == "pending"
            waits.append(next_at - clock.now())
            assert run(app, failing).taken == 0  # not before its time
            clock.set(next_at)
        else:
            assert (state, next_at) == ("dead", None)
    expected = [
        timedelta(seconds=min(rules.first_retry_seconds * 2**i, rules.max_retry_seconds))
        for i in range(rules.max_attempts - 1)
    ]
    assert waits == expected == [retry_delay(i + 1, rules) for i in range(len(expected))]
    assert "is dead after 8 attempts" in caplog.text
    assert person["id_number"] not in caplog.text
    # Dead: no further attempt, and a later message of the person waits behind it.
    (later,) = emit(app, person["id"])
    clock.advance(hours=2)
    assert run(app, failing).taken == 0
    with app.app_context():
        from corrections.core.auth import SYSTEM

        assert service.resend(db.session, actor=SYSTEM, dead=True) == 1
        db.session.commit()
        db.session.remove()
    publisher = broker.publisher()
    try:
        assert run(app, publisher).published == 2
    finally:
        publisher.close()
    assert [p.message_id for _m, p, _b in broker.drain("dc-jcy")] == [m, later]


class Crashing:
    """Publishes for real, then "dies" after the broker confirmed ``after`` messages, before
    the relay marks them: the process killed between publish and commit."""

    def __init__(self, inner, after: int):
        self.inner, self.after, self.sent = inner, after, 0

    def publish(self, message):
        self.inner.publish(message)
        self.sent += 1
        if self.sent >= self.after:
            raise KeyboardInterrupt("killed")

    def close(self):
        self.inner.close()


def test_a_relay_killed_between_publish_and_mark_publishes_again_and_dedup_shows_once(
    app, active, agencies, broker
):
    person = active()
    ids = emit(app, person["id"], 3)
    real = broker.publisher()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(app, Crashing(real, after=2))
        assert {s[0] for s in states(app).values()} == {"pending"}  # nothing was marked
        restarted = run(app, real)
        assert restarted.published == 3
    finally:
        real.close()
    delivered = [p.message_id for _m, p, _b in broker.drain("dc-jcy")]
    assert delivered == [ids[0], ids[1], *ids]  # at least once, in order
    seen, unique = set(), []
    for message_id in delivered:  # the receiver's de-duplication by message_id
        if message_id not in seen:
            seen.add(message_id)
            unique.append(message_id)
    assert unique == ids
    assert {s[0] for s in states(app).values()} == {"published"}


class Proxy:
    """A TCP forwarder between the relay and the broker; :meth:`cut` breaks every
    connection through it (what the relay sees of a broker restart), new ones still pass."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        with self.lock:
            cut, self.sockets = self.sockets, []
        for s in cut:
            # A pump may have shut it down already: close it whatever shutdown says (a socket
            # left to the collector is a ResourceWarning, an error under this suite).
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self):
        self.cut()
        self.server.close()


def _retry_until_published(app, clock, publisher, rounds: int = 6) -> None:
    """Relay rounds, each after the retry back-off, until nothing is pending."""
    for _ in range(rounds):
        if not any(s[0] == "pending" for s in states(app).values()):
            return
        clock.advance(seconds=5)
        run(app, publisher)


def _delivered_in_order(app, broker, per_person: list[list[str]]) -> None:
    """Every message published and in the queue at least once, and each person's in order
    once de-duplicated (a redelivery may repeat an earlier one)."""
    assert {s[0] for s in states(app).values()} == {"published"}
    delivered = [p.message_id for _m, p, _b in broker.drain("dc-jcy")]
    assert set(delivered) == {i for ids in per_person for i in ids}
    for ids in per_person:
        assert list(dict.fromkeys(d for d in delivered if d in ids)) == ids


class CutAfter:
    """Cuts the proxy once ``n`` messages were confirmed."""

    def __init__(self, inner, proxy, n: int):
        self.inner, self.proxy, self.n, self.sent = inner, proxy, n, 0

    def publish(self, message):
        self.inner.publish(message)
        self.sent += 1
        if self.sent == self.n:
            self.proxy.cut()
            time.sleep(0.05)  # the relay's socket sees the reset before its next publish

    def close(self):
        self.inner.close()


def test_no_message_is_lost_when_the_connection_breaks_mid_batch(
    app, clock, active, agencies, broker
):
    a, b = active(), active(name="李强")
    ids = emit(app, a["id"], 3) + emit(app, b["id"], 3)
    parts = pika.URLParameters(AMQP_URL)
    proxy = Proxy(parts.host, parts.port)
    url = AMQP_URL.replace(f"{parts.host}:{parts.port}", f"127.0.0.1:{proxy.port}")
    assert url != AMQP_URL
    publisher = broker.publisher(url)
    try:
        first = run(app, CutAfter(publisher, proxy, 2))
        assert (first.published, first.failed) == (2, 1)
        # In waves (one message per person at a time): A's first, B's first, then A's second,
        # sent as the connection broke: one attempt, retried after the back-off.
        assert [e for e, s in states(app).items() if s[1] == 1] == [ids[1]]
        assert states(app)[ids[1]][0] == "pending" and states(app)[ids[1]][3]
        _retry_until_published(app, clock, publisher)
    finally:
        publisher.close()
        proxy.close()
    _delivered_in_order(app, broker, [ids[:3], ids[3:]])


class CutBeforeConfirms(AmqpPublisher):
    """The pipelined publisher whose connection is cut once a wave was written and before
    its confirms are read."""

    proxy = None

    def _wait(self, done, what):
        if what == "the confirms" and self.proxy is not None:
            self.proxy.cut()
            self.proxy = None
            time.sleep(0.05)  # the reset reaches the relay's socket
        super()._wait(done, what)


def test_a_pipelined_wave_cut_before_its_confirms_loses_nothing_and_keeps_order(
    app, clock, active, agencies, broker
):
    persons = [active(name=name) for name in ("张伟", "李强", "王芳", "赵磊")]
    ids = [i for p in persons for i in emit(app, p["id"], 2)]
    parts = pika.URLParameters(AMQP_URL)
    proxy = Proxy(parts.host, parts.port)
    url = AMQP_URL.replace(f"{parts.host}:{parts.port}", f"127.0.0.1:{proxy.port}")
    publisher = CutBeforeConfirms(url, broker.exchange, queue_prefix=f"{broker.prefix}.")
    publisher.proxy = proxy
    try:
        first = run(app, publisher)
        # The first wave (one message per person) was written at once and the connection cut
        # before any confirm was read: each counts one attempt and waits for its retry, and
        # nobody's second message went.
        assert (first.published, first.failed) == (0, len(persons))
        assert sorted(s[1] for s in states(app).values()) == [0] * 4 + [1] * 4
        assert {ids[2 * k] for k in range(4)} == {e for e, s in states(app).items() if s[1]}
        _retry_until_published(app, clock, publisher)
    finally:
        publisher.close()
        proxy.close()
    _delivered_in_order(app, broker, [ids[2 * k : 2 * k + 2] for k in range(len(persons))])


def test_an_unreachable_broker_counts_no_attempt(app, active, agencies):
    person = active()
    (m,) = emit(app, person["id"])
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    publisher = AmqpPublisher(f"amqp://guest:guest@127.0.0.1:{port}/%2F", "x", timeout=2)
    result = run(app, publisher)
    assert result.broker_down and result.published == 0
    assert states(app)[m][:2] == ("pending", 0)


def test_the_relay_process_takes_the_lease_publishes_and_releases_it(app, active, agencies, broker):
    from corrections.scheduler import service as scheduler

    person = active()
    ids = emit(app, person["id"], 3)
    stop = threading.Event()
    publisher = broker.publisher()
    thread = threading.Thread(
        target=serve,
        args=(app, "relay-a"),
        daemon=True,
        kwargs={"publisher": publisher, "stop": stop},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if {s[0] for s in states(app).values()} == {"published"}:
                break
            time.sleep(0.05)
        with app.app_context():
            lease = scheduler.lease_holder(db.session, LEASE)
            assert lease is not None and lease.holder == "relay-a"
            db.session.remove()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert [p.message_id for _m, p, _b in broker.drain("dc-jcy")] == ids
    with app.app_context():
        assert scheduler.lease_holder(db.session, LEASE) is None
        db.session.remove()


def test_the_relay_refuses_to_start_without_a_broker(runner):
    result = runner.invoke(args=["exchange", "relay"])
    assert result.exit_code == 2
    assert "EXCHANGE_BROKER_URL" in result.output


class Capturing:
    """A publisher that keeps what it is given (no broker)."""

    def __init__(self):
        self.sent = []

    def publish(self, message):
        self.sent.append(message)

    def close(self):
        pass


def test_a_record_sealed_before_its_push_goes_without_its_data(app, clock, active, agencies):
    """A message written while the person was an adult, pushed after their record (a juvenile
    offence, corrected) was sealed: it goes in its place without data, as the feed serves it;
    what the seal itself writes goes whole."""
    from corrections.core.auth import SYSTEM
    from corrections.persons import sealing

    person = active()
    (before,) = emit(app, person["id"])
    with app.app_context():
        row = db.session.get(Person, person["id"])
        row.juvenile = True  # the offence date corrected: under 18 at the offence
        sealed_at = clock.now() + timedelta(minutes=1)
        assert sealing.seal_if_juvenile(db.session, row, sealed_at, SYSTEM) is not None
        db.session.commit()
        db.session.remove()
    clock.advance(minutes=2)
    (after,) = emit(app, person["id"])
    publisher = Capturing()
    assert run(app, publisher).published == 2
    bodies = {m.event_id: json.loads(m.body) for m in publisher.sent}
    assert bodies[before]["data"] == {} and bodies[before]["sealed"] is True
    assert "documenthash" not in bodies[before] and "张伟" not in str(bodies[before])
    assert bodies[after]["data"] and "sealed" not in bodies[after]
