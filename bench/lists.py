"""List benchmark (issue 18, target 4): the alert list and the person list at city scale, server
time under 20 concurrent readers, on PostgreSQL.

A scratch database gets the demo's units and accounts, ``--persons`` (100,000) active persons
(names varied, so a name search has something to find) and ``--alerts`` (1,000,000) alerts
spread over three years, 10% of them live (open or acknowledged), all generated in SQL. The
README's production server (gunicorn, gevent workers, ``corrections.gunicorn_conf``) serves it;
wrk reads each list with ``--connections`` (20) connections as a district commander
(``commander-dongcheng``), one URL at a time:

* ``GET /api/v1/alerts`` (default sort: most severe, then longest waiting), page 1 and page 50;
* ``GET /api/v1/alerts?status=open&status=acknowledged`` (the command centre's live list);
* ``GET /api/v1/persons`` page 1, and with a name search ``q``.

Server time is what the application's access log says each request took (``duration_ms``,
start to response), so wrk's own share of the two cores is not counted. Each list's query plan
(``EXPLAIN (ANALYZE, BUFFERS)`` of the statements the service runs) is printed. Target: p95
<= 50 ms for each.

    python bench/lists.py [--persons 100000] [--alerts 1000000] [--seconds 10]

Needs ``psql``, ``wrk`` and a PostgreSQL server (CORRECTIONS_BENCH_PG, default
postgresql://root@127.0.0.1:5432) on which it creates and drops a scratch database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import BenchError, free_port, insert_alerts, insert_persons, psql, sh, tail

BIN = Path(sys.executable).parent
TARGET_P95_MS = 50.0
READER = "commander-dongcheng"
PASSWORD = "bench-password"  # noqa: S105 - a scratch database


def generate(url: str, persons: int, alerts: int, keyring: Path) -> None:
    """Persons (as bench/sweep.py makes them, with varied names) and alerts, in SQL."""
    insert_persons(url, persons, keyring, varied_names=True)
    insert_alerts(url, alerts, "2026-12-01 00:00+00", 94608000)  # over three years (common)
    # As autovacuum leaves a table that has settled (statistics, and the visibility map that
    # lets a count read the index alone); VACUUM cannot run inside psql -c's transaction.
    psql(url, "VACUUM ANALYZE")


_PLANS = r"""
import json, sys
from sqlalchemy import event, select
from corrections import create_app
from corrections.alerts import service as alerts
from corrections.core.auth import Actor, Role
from corrections.core.db import db
from corrections.org.models import User
from corrections.persons import service as persons

app = create_app()
calls = json.loads(sys.argv[1])
with app.app_context():
    user = db.session.scalar(select(User).where(User.username == calls["reader"]))
    actor = Actor(user.id, user.username, Role(user.role), user.unit_id)
    seen = []
    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))
    engine = db.session.get_bind()
    for name, kind, kwargs in calls["lists"]:
        seen.clear()
        event.listen(engine, "before_cursor_execute", remember)
        try:
            if kind == "alerts":
                alerts.list_alerts(db.session, actor=actor, **kwargs)
            else:
                persons.list_persons(db.session, actor=actor, **kwargs)
        finally:
            event.remove(engine, "before_cursor_execute", remember)
        statements = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
        print(f"--- {name}: {len(seen)} statements")
        for statement, parameters in statements:
            plan = db.session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
            ).scalars().all()
            print("\n".join("    " + line for line in plan))
        db.session.rollback()
"""


def server_times(log: Path, offset: int, route: str) -> tuple[list[float], int]:
    """The ``duration_ms`` of the app's access lines for ``route`` after ``offset``."""
    times = []
    with log.open("rb") as f:
        f.seek(offset)
        data = f.read()
    for line in data.decode("utf-8", "replace").splitlines():
        if '"corrections.access"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("route") == route and entry.get("status") == 200:
            times.append(float(entry["duration_ms"]))
    return times, offset + len(data)


def measure(base: str, path: str, route: str, token: str, log: Path, args, env) -> dict:
    """``path``: a GET's path and query, or ``POST <path> <JSON body>``."""
    offset = log.stat().st_size
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lua = f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    if path.startswith("POST "):
        _method, path, body = path.split(" ", 2)
        lua += 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        lua += f"wrk.body = {json.dumps(body, ensure_ascii=False)}\n"
    script.write_text(lua, encoding="utf-8")
    try:
        out = sh(
            "wrk",
            f"-t{min(2, args.connections)}",
            f"-c{args.connections}",
            f"-d{args.seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base + path,
            env=env,
        ).stdout
    finally:
        script.unlink()
    time.sleep(0.5)  # the last access lines reach the log
    times, _ = server_times(log, offset, route)
    if "Non-2xx" in out:
        raise BenchError(f"refused answers for {path}:\n{out}\n{tail(log)}")
    if len(times) < 3:
        # Nothing (or next to nothing) answered within the run: slower than the run is long.
        return {"count": len(times), "p50": float("inf"), "p95": float("inf"), "max": float("inf")}
    q = statistics.quantiles(times, n=100)
    return {"count": len(times), "p50": q[49], "p95": q[94], "max": max(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (its name is printed)"
    )
    parser.add_argument(
        "--reuse",
        nargs=2,
        metavar=("DATABASE", "INSTANCE"),
        help="measure a database that --keep kept (and its instance folder) again",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    if args.reuse:
        name, work, args.keep = args.reuse[0], Path(args.reuse[1]), True
    else:
        name = f"corrections_lists_{os.getpid()}"
        work = Path(tempfile.mkdtemp(prefix="corrections-bench-lists-"))
    url = f"{server}/{name}"
    env = dict(
        os.environ,
        CORRECTIONS_DATABASE_URL=url.replace("postgresql://", "postgresql+psycopg://"),
        CORRECTIONS_INSTANCE_PATH=str(work),
        CORRECTIONS_SECRET_KEY="bench-secret-key-" + "x" * 32,
        CORRECTIONS_DEMO_PASSWORD=PASSWORD,
        CORRECTIONS_LOG_LEVEL="INFO",
        CORRECTIONS_LOG_FORMAT="json",
        # The readers sign in once; the bench is no sign-in storm.
        CORRECTIONS_AUDIT_SEAL_INTERVAL_SECONDS="1",
    )
    admin = f"{server}/postgres"
    gunicorn = None
    try:
        started = time.perf_counter()
        if not args.reuse:
            psql(admin, f"CREATE DATABASE {name}")
            for step in (["db", "upgrade"], ["demo", "seed", "--persons", "0"]):
                sh(str(BIN / "corrections"), *step, env=env)
            generate(url, args.persons, args.alerts, work / "keyring.json")
        sizes = psql(
            url,
            "SELECT (SELECT count(*) FROM persons) || ' ' || (SELECT count(*) FROM alerts) || ' '"
            " || (SELECT count(*) FROM alerts WHERE status IN ('open', 'acknowledged')) || ' '"
            " || pg_size_pretty(pg_total_relation_size('alerts'))",
        ).split()
        print(
            f"generated {int(sizes[0]):,} persons, {int(sizes[1]):,} alerts "
            f"({int(sizes[2]):,} live; table {sizes[3]} {sizes[4]}) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        district = psql(url, "SELECT unit_id FROM users WHERE username = 'commander-dongcheng'")
        in_scope = psql(
            url,
            "SELECT count(*) FROM alerts a JOIN persons p ON p.id = a.person_id "
            f"WHERE p.district_id = {district}",
        )
        lists = [
            ("alerts, page 1", "/api/v1/alerts?page=1", "/api/v1/alerts", "alerts", {"page": 1}),
            ("alerts, page 50", "/api/v1/alerts?page=50", "/api/v1/alerts", "alerts", {"page": 50}),
            (
                "live alerts, page 1",
                "/api/v1/alerts?status=open&status=acknowledged",
                "/api/v1/alerts",
                "alerts",
                {"status": ["open", "acknowledged"]},
            ),
            ("persons, page 1", "/api/v1/persons", "/api/v1/persons", "persons", {}),
            (
                "persons, name search",
                'POST /api/v1/persons/search {"q": "王芳"}',
                "/api/v1/persons/search",
                "persons",
                {"q": "王芳"},
            ),
        ]
        plans = sh(
            str(BIN / "python"),
            "-c",
            _PLANS,
            json.dumps(
                {"reader": READER, "lists": [(n, kind, kw) for n, _p, _r, kind, kw in lists]}
            ),
            env=dict(env, CORRECTIONS_LOG_LEVEL="WARNING"),
        ).stdout
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = work / "server.log"
        with log.open("w") as out:
            gunicorn = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-c",
                    "python:corrections.gunicorn_conf",
                    "-k",
                    "gevent",
                    "-w",
                    str(args.workers),
                    "--worker-connections",
                    "2000",
                    "-b",
                    f"127.0.0.1:{port}",
                    "corrections.wsgi:app",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        req = urllib.request.Request(  # noqa: S310 - our loopback
            f"{base}/api/v1/auth/token",
            method="POST",
            data=json.dumps({"username": READER, "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        token = json.load(urllib.request.urlopen(req))["access_token"]  # noqa: S310
        # Every worker builds the app on its first request (seconds each): warm them all on
        # the health check, many at once, before anything is measured.
        warm(base, 8 * args.workers)
        print(
            f"machine: {os.cpu_count()} cores; gunicorn {args.workers} gevent workers; wrk "
            f"{args.connections} connections, {args.seconds} s per list; reader {READER} "
            f"({int(in_scope):,} alerts in its district)"
        )
        ok = True
        for label, path, route, _kind, _kw in lists:
            measure(base, path, route, token, log, dict_args(args, seconds=3), env)  # warm
            r = measure(base, path, route, token, log, args, env)
            passed = r["p95"] <= TARGET_P95_MS
            ok = ok and passed
            print(
                f"{label:<22} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  max "
                f"{r['max']:6.1f} ms  ({r['count']:,} answers)  {'ok' if passed else 'SLOW'}"
            )
        print("query plans (EXPLAIN ANALYZE of the statements each list runs):")
        print(plans.rstrip())
        print("PASS" if ok else "FAIL", f"(target p95 <= {TARGET_P95_MS:.0f} ms)")
        return 0 if ok else 1
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(30)
        if args.keep:
            print(f"kept: {url} (instance folder {work})")
        else:
            psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            shutil.rmtree(work, ignore_errors=True)


def warm(base: str, n: int) -> None:
    import threading

    def get() -> None:
        urllib.request.urlopen(f"{base}/healthz", timeout=120).read()  # noqa: S310 - loopback

    threads = [threading.Thread(target=get) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def dict_args(args, **changes):
    values = dict(vars(args), **changes)
    return argparse.Namespace(**values)


if __name__ == "__main__":
    sys.exit(main())
