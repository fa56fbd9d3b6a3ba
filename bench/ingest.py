"""Ingest benchmark: supervision events recorded through the HTTP API, beside the same
server's health-check rate, measured in one run.

gunicorn with 2 sync workers on PostgreSQL (with the project's gunicorn settings,
``corrections/gunicorn_conf.py``); wrk (Debian package ``wrk``) on the same machine as the
load generator. Every event carries its own Idempotency-Key; afterwards the database must hold
exactly one row per 201 answer. Target (issue 18): events/s >= 40% of healthz/s.
``--production``: the README's production serving command instead (gevent, 4 workers), whose
figure is printed beside the target, not judged by it.

    python bench/ingest.py [--seconds 20] [--connections 16] [--persons 300] [--production]
    python bench/ingest.py --reuse DATABASE --instance DIR [--sample 2000]   # a kept city

``--reuse`` measures on a database another bench kept (``bench/province.py``), whose accounts'
password is ``bench-password`` and whose keyring is in ``--instance``; it is neither seeded nor
dropped, and the events go to ``--sample`` of its active persons.

Needs a PostgreSQL server (CORRECTIONS_BENCH_PG, default postgresql://root@127.0.0.1:5432) on
which it creates and drops a scratch database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from common import free_port, sh

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wrk(url: str, seconds: int, connections: int, script: str | None, env: dict) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    out = sh(*args, url, env=env).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    ok = total - (int(non2xx.group(1)) if non2xx else 0)
    statuses = {"2xx": ok, "other": total - ok}
    return {
        "rate": rate,
        "total": total,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "p99": p99.group(1) if p99 else "?",
        "statuses": statuses,
    }


# The README's production serving command (its options past -b and the app), and the sync
# workers of the target, both with the project's gunicorn settings.
PRODUCTION = [
    "-c", "python:corrections.gunicorn_conf", "-k", "gevent", "-w", "4",
    "--worker-connections", "2000", "--limit-request-line", "0",
    "--limit-request-field_size", "32768", "--limit-request-fields", "200",
    "--no-control-socket",
]  # fmt: skip


def serving(args) -> list[str]:
    if args.production:
        return PRODUCTION
    return [
        "-c", "python:corrections.gunicorn_conf", "-w", str(args.workers),
        "--threads", str(args.threads), "--no-control-socket",
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="gunicorn threads per worker (1: the default sync worker)",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="serve with the README's production command (gevent, 4 workers)",
    )
    parser.add_argument("--reuse", metavar="DATABASE", help="measure on this kept database")
    parser.add_argument("--instance", metavar="DIR", help="with --reuse: its instance folder")
    parser.add_argument(
        "--sample", type=int, default=2000, help="with --reuse: events go to this many persons"
    )
    args = parser.parse_args()
    if args.reuse and not args.instance:
        parser.error("--reuse needs --instance (the folder holding its keyring)")
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    if args.reuse:
        dbname, work = args.reuse, Path(args.instance)
    else:
        dbname = f"corrections_bench_{os.getpid()}"
        sh("psql", f"{server}/postgres", "-qc", f"CREATE DATABASE {dbname}")
        work = Path(tempfile.mkdtemp(prefix="corrections-bench-"))
    env = dict(os.environ)
    env.update(
        {
            "CORRECTIONS_DATABASE_URL": f"{server.replace('postgresql://', 'postgresql+psycopg://')}"
            f"/{dbname}",
            "CORRECTIONS_INSTANCE_PATH": str(work),
            "CORRECTIONS_SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "CORRECTIONS_DEMO_PASSWORD": "bench-password",
            "CORRECTIONS_LOG_LEVEL": "WARNING",
        }
    )
    gunicorn = None
    try:
        corrections = str(BIN / "corrections")
        if not args.reuse:
            sh(corrections, "db", "upgrade", env=env)
            sh(corrections, "demo", "seed", "--persons", str(args.persons), env=env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(work / "gunicorn.log", "w")  # noqa: SIM115 - lives as long as the server
        gunicorn = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                *serving(args),
                "-b",
                f"127.0.0.1:{port}",
                "corrections.wsgi:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - our loopback
                break
            except OSError:
                time.sleep(0.2)
        req = urllib.request.Request(  # noqa: S310 - our loopback
            f"{base}/api/v1/auth/token",
            method="POST",
            data=json.dumps({"username": "city", "password": "bench-password"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        token = json.load(urllib.request.urlopen(req))["access_token"]  # noqa: S310
        # An environment variable holds at most 128 KiB: a province's persons are sampled.
        sample = f" LIMIT {args.sample}" if args.reuse else ""
        persons = sh(
            "psql",
            f"{server}/{dbname}",
            "-Atc",
            "SELECT string_agg(id::text, ',') FROM (SELECT id FROM persons "
            f"WHERE status = 'active' ORDER BY id{sample}) p",
            env=env,
        ).stdout.strip()
        # Only what this run recorded is counted and checked (a kept city holds millions of
        # rows; the months before are not read).
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        count_sql = f"SELECT count(*) FROM supervision_events WHERE recorded_at >= '{since}'"
        run_id = f"bench{os.getpid()}"
        wenv = dict(
            env,
            BENCH_TOKEN=token,
            BENCH_PERSONS=persons,
            BENCH_RUN=run_id,
            BENCH_OCCURRED_AT=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        script = str(Path(__file__).with_name("ingest_events.lua"))
        # Warm both paths, then measure side by side in this one run: alternating rounds, so
        # that drift in the machine's load hits both alike; the median round counts.
        wrk(f"{base}/healthz", 2, args.connections, None, wenv)
        wrk(base, 2, args.connections, script, dict(wenv, BENCH_RUN=run_id + "w"))
        before = int(sh("psql", f"{server}/{dbname}", "-Atc", count_sql).stdout)
        healths, runs = [], []
        for i in range(args.rounds):
            healths.append(wrk(f"{base}/healthz", args.seconds, args.connections, None, wenv))
            runs.append(
                wrk(
                    base,
                    args.seconds,
                    args.connections,
                    script,
                    dict(wenv, BENCH_RUN=f"{run_id}r{i}"),
                )
            )
        health = sorted(healths, key=lambda r: r["rate"])[len(healths) // 2]
        events = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
        events = dict(
            events,
            statuses={
                code: sum(r["statuses"].get(code, 0) for r in runs)
                for code in {c for r in runs for c in r["statuses"]}
            },
        )
        after = int(sh("psql", f"{server}/{dbname}", "-Atc", count_sql).stdout)
        created = events["statuses"]["2xx"]
        stored = after - before
        dupes = int(
            sh(
                "psql",
                f"{server}/{dbname}",
                "-Atc",
                "SELECT count(*) FROM (SELECT idempotency_key FROM supervision_events "
                f"WHERE idempotency_key IS NOT NULL AND recorded_at >= '{since}' "
                "GROUP BY recorded_by_id, idempotency_key HAVING count(*) > 1) d",
            ).stdout
        )
        unsealed = int(
            sh(
                "psql",
                f"{server}/{dbname}",
                "-Atc",
                "SELECT count(*) FROM audit_entries WHERE seq IS NULL",
            ).stdout
        )
        ratio = events["rate"] / health["rate"]
        print(
            f"machine: {os.cpu_count()} cores; gunicorn {' '.join(serving(args))}; "
            f"wrk 2 threads, {args.connections} connections, {args.seconds}s each; "
            f"{len(persons.split(','))} active persons"
        )
        print(f"GET /healthz            {health['rate']:9.1f} req/s  p99 {health['p99']}")
        print(
            f"POST .../events         {events['rate']:9.1f} ev/s   p99 {events['p99']}  "
            f"statuses {events['statuses']}"
        )
        target = "production command: reported" if args.production else "target >= 40%"
        print(f"ratio events/healthz    {ratio:9.1%}  ({target})")
        # wrk stops with up to one request in flight per connection: the server may store
        # those without wrk counting the answer. Every key is unique, so a duplicate row
        # would show as a duplicate key.
        # (The warm-up's own stragglers may land after the count that precedes the rounds.)
        in_flight_ok = 0 <= stored - created <= args.connections * (args.rounds + 1)
        print(
            f"stored exactly once     {in_flight_ok and dupes == 0}  "
            f"(2xx answers {created}, rows {stored}, cut off in flight {stored - created}, "
            f"duplicate keys {dupes}; audit rows awaiting the next seal {unsealed})"
        )
        ok = (
            (args.production or ratio >= 0.40)
            and in_flight_ok
            and dupes == 0
            and events["statuses"]["other"] == 0
        )
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(timeout=30)
        if not args.reuse:
            sh(
                "psql",
                f"{server}/postgres",
                "-qc",
                f"DROP DATABASE IF EXISTS {dbname}",
                check=False,
            )
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
