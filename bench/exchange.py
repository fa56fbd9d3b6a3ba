"""Exchange relay benchmark (issue 15, push): how fast the relay publishes the outbox to
RabbitMQ, and how long a message waits between its decision's commit and the broker's
confirm, on PostgreSQL.

A scratch database gets the demo city (``--persons`` persons, no history) and a city-level
procuratorate. Then, in two phases, with the real code paths (``outbox.emit`` writes real,
encrypted CloudEvents envelopes, the relay publishes with publisher confirms, persistent,
and marks them published):

1. **Backlog**: ``--messages`` (10,000) messages written first, then drained by the relay's
   rounds (``relay_once``, batches of ``EXCHANGE_RELAY_BATCH``): messages relayed per second.
2. **Steady load**: the real ``corrections exchange relay`` process runs while this one
   writes ``--steady`` messages at ``--rate`` a second, each in its own transaction (a
   decision's); latency = ``published_at`` (stamped once the broker confirmed its batch) -
   ``created_at`` (the decision's time, its commit follows within a millisecond), p50/p95.

Every message is checked to be in the agency's queue. Targets: >= 500 messages/s in the
backlog, p95 <= 2 s under steady load (with the default 1 s poll).

    python bench/exchange.py [--messages 10000] [--steady 2000] [--rate 200] [--persons 200]

Needs ``psql``, a PostgreSQL server (CORRECTIONS_BENCH_PG, default
postgresql://root@127.0.0.1:5432) whose role may create databases, and a RabbitMQ
(CORRECTIONS_BENCH_AMQP, default amqp://guest:guest@127.0.0.1:5672/%2F). The scratch
database, its folder, and the bench's exchange and queue are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BenchError, psql

BIN = Path(sys.executable).parent
TARGET_RATE = 500.0
TARGET_P95 = 2.0

_SCRIPT = r"""
import json, os, statistics, subprocess, sys, time
from sqlalchemy import func, select
from corrections import create_app
from corrections.core.db import db
from corrections.exchange import outbox, service
from corrections.exchange.models import Agency, OutboxMessage
from corrections.exchange.relay import AmqpPublisher, relay_once
from corrections.org.models import Unit, UnitKind
from corrections.persons.models import Person

args = json.loads(sys.argv[1])
app = create_app()
out = {}

def pending():
    return db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "pending"))

def write(persons, n, rate=None):
    started = time.perf_counter()
    for i in range(n):
        person = persons[i % len(persons)]
        outbox.emit(db.session, "sanction.warning.decided", person=person,
                    facts={"decision.kind": "warning", "decision.label_zh": "警告",
                           "decision.document_number": f"东司矫〔2026〕{i}号"})
        if rate is not None:
            db.session.commit()  # each its own decision's transaction
            lag = started + (i + 1) / rate - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
        elif i % 500 == 499:
            db.session.commit()
    db.session.commit()
    return time.perf_counter() - started

def latencies(since_id):
    rows = db.session.execute(
        select(OutboxMessage.created_at, OutboxMessage.published_at)
        .where(OutboxMessage.id > since_id)).all()
    waits = sorted((p - c).total_seconds() for c, p in rows if p is not None)
    q = statistics.quantiles(waits, n=100) if len(waits) > 1 else waits * 99
    return {"count": len(waits), "unpublished": len(rows) - len(waits),
            "p50": q[49], "p95": q[94], "max": waits[-1] if waits else None}

with app.app_context():
    city = db.session.scalar(select(Unit).where(Unit.kind == UnitKind.CITY))
    # The city's procuratorate receives every warning: the demo's own (it has one), else one
    # made here.
    agency = db.session.scalar(select(Agency.code).where(
        Agency.kind == "procuratorate", Agency.unit_id == city.id))
    if agency is None:
        agency = args["agency"]
        service.create_agency(db.session, code=agency, kind="procuratorate",
                              name_zh="滨江市人民检察院", unit_code=city.code)
        db.session.commit()
    out["agency"] = agency
    persons = db.session.scalars(select(Person).order_by(Person.id)).all()
    out["persons"] = len(persons)
    out["routed_from_seed"] = pending()
    out["write_seconds"] = write(persons, args["messages"])
    backlog = pending()
    out["backlog"] = backlog
    publisher = AmqpPublisher(args["amqp"], args["exchange"])
    profile = None
    if os.environ.get("CORRECTIONS_BENCH_PROFILE"):
        import cProfile
        profile = cProfile.Profile()
        profile.enable()
    started = time.perf_counter()
    rounds = 0
    while True:
        r = relay_once(db.session, publisher, batch=args["batch"])
        rounds += 1
        if r.failed or r.broker_down:
            raise SystemExit(f"round failed: {r}")
        if r.taken == 0:
            break
    seconds = time.perf_counter() - started
    if profile is not None:
        import pstats
        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    publisher.close()
    out["backlog_seconds"], out["backlog_rounds"] = seconds, rounds
    out["backlog_rate"] = backlog / seconds
    out["backlog_latency"] = latencies(0)
    last_id = db.session.scalar(select(func.max(OutboxMessage.id)))
    db.session.remove()

    # Phase 2: the real relay process, while decisions keep coming.
    log = open(args["log"], "w")
    relay = subprocess.Popen([args["bin"] + "/corrections", "exchange", "relay",
                              "--holder", "bench-relay"], stdout=log, stderr=log)
    try:
        time.sleep(3)  # started, leader
        if relay.poll() is not None:
            raise SystemExit("the relay stopped: see " + args["log"])
        persons = db.session.scalars(select(Person).order_by(Person.id)).all()
        out["steady_write_seconds"] = write(persons, args["steady"], rate=args["rate"])
        deadline = time.time() + 30
        while pending() and time.time() < deadline:
            time.sleep(0.2)
        out["steady_latency"] = latencies(last_id)
    finally:
        relay.terminate()
        out["relay_exit"] = relay.wait(30)
    out["published_total"] = db.session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.state == "published"))
    db.session.remove()
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--steady", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    import pika

    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    amqp = os.environ.get("CORRECTIONS_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
    name = f"corrections_exchange_{os.getpid()}"
    exchange, agency = f"bench-{os.getpid()}.exchange", f"bench-jcy-{os.getpid()}"
    queue = f"corrections.{agency}"
    work = Path(tempfile.mkdtemp(prefix="corrections-bench-exchange-"))
    admin = f"{server}/postgres"
    env = dict(
        os.environ,
        CORRECTIONS_INSTANCE_PATH=str(work),
        CORRECTIONS_SECRET_KEY="bench-secret-key-" + "x" * 32,
        CORRECTIONS_DEMO_PASSWORD="bench-password",  # noqa: S106 - a scratch database
        CORRECTIONS_LOG_LEVEL="WARNING",
        CORRECTIONS_DATABASE_URL=f"{server}/{name}".replace(
            "postgresql://", "postgresql+psycopg://"
        ),
        CORRECTIONS_EXCHANGE_BROKER_URL=amqp,
        CORRECTIONS_EXCHANGE_BROKER_EXCHANGE=exchange,
        CORRECTIONS_EXCHANGE_RELAY_BATCH=str(args.batch),
    )
    try:
        psql(admin, f"CREATE DATABASE {name}")
        for step in (
            ["db", "upgrade"],
            ["demo", "seed", "--persons", str(args.persons), "--history-months", "0"],
        ):
            done = subprocess.run(
                [str(BIN / "corrections"), *step], env=env, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise BenchError(f"corrections {' '.join(step)}:\n{done.stdout}{done.stderr}")
        options = {
            "messages": args.messages,
            "steady": args.steady,
            "rate": args.rate,
            "batch": args.batch,
            "amqp": amqp,
            "exchange": exchange,
            "agency": agency,
            "bin": str(BIN),
            "log": str(work / "relay.log"),
        }
        done = subprocess.run(
            [str(BIN / "python"), "-c", _SCRIPT, json.dumps(options)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            relay_log = (work / "relay.log").read_text() if (work / "relay.log").exists() else ""
            raise BenchError(f"bench run failed:\n{done.stdout}{done.stderr}\n{relay_log}")
        if os.environ.get("CORRECTIONS_BENCH_PROFILE"):
            print(done.stderr, file=sys.stderr)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        if os.environ.get("CORRECTIONS_BENCH_PROFILE"):
            print(r, file=sys.stderr)
        queue = f"corrections.{r['agency']}"
        connection = pika.BlockingConnection(pika.URLParameters(amqp))
        channel = connection.channel()
        in_queue = channel.queue_declare(queue, durable=True, passive=True).method.message_count
        connection.close()
        expected = r["backlog"] + args.steady
        b, s = r["backlog_latency"], r["steady_latency"]
        print(
            f"{r['persons']} persons; {r['backlog']:,} messages written in "
            f"{r['write_seconds']:.1f} s (outbox.emit, commits of 500)"
        )
        print(
            f"backlog  {r['backlog']:,} relayed in {r['backlog_seconds']:.2f} s "
            f"({r['backlog_rounds']} rounds of {args.batch}): "
            f"{r['backlog_rate']:,.0f} msg/s (target >= {TARGET_RATE:.0f}); created->confirmed "
            f"p50 {b['p50']:.2f} s, p95 {b['p95']:.2f} s (the backlog's own wait)"
        )
        print(
            f"steady   {args.steady:,} decisions at {args.rate:.0f}/s through "
            f"`corrections exchange relay`: created->confirmed p50 {s['p50']:.3f} s, "
            f"p95 {s['p95']:.3f} s, max {s['max']:.3f} s (target p95 <= {TARGET_P95:.0f} s); "
            f"unpublished {s['unpublished']}"
        )
        print(
            f"queue {queue}: {in_queue:,} messages (expected {expected:,}); "
            f"published in the database {r['published_total']:,}; relay exit {r['relay_exit']}"
        )
        ok = (
            r["backlog_rate"] >= TARGET_RATE
            and s["p95"] <= TARGET_P95
            and s["unpublished"] == 0
            and in_queue >= expected
            and r["published_total"] >= expected
        )
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(amqp))
            channel = connection.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(exchange)
            connection.close()
        except Exception as exc:
            print(f"cleaning the broker failed: {exc!r}", file=sys.stderr)
        psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
