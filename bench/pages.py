"""Page speed (issue 17): the server time of every request the workbench and the command
centre make, with ``--persons`` persons (2,000 by default) in one judicial office.

A scratch PostgreSQL database gets the demo city (``corrections demo seed``, with
``--history-months`` of supervision history per person), then every person is moved into
东城区城关司法所 (32990101): its officer's today list, caseload and approvals, and its
district commander's alerts and decision queues, cover all of them. The app runs in this
process (Flask's test client: no network, no browser), so a request's time is the server's:
routing, the token check, the queries, the audit rows, the JSON. Each request is made
``--rounds`` times after two warm-up rounds; the figures are the median, p95 and worst.

    python bench/pages.py [--persons 2000] [--rounds 15] [--history-months 6]

Target: every request under 300 ms (p95). Needs ``psql`` and a PostgreSQL server
(CORRECTIONS_BENCH_PG, default postgresql://root@127.0.0.1:5432) whose role may create
databases; the scratch database and its folder are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BenchError, psql

BIN = Path(sys.executable).parent
OFFICE, DISTRICT = "32990101", "329901"
TARGET_MS = 300.0


def _seed(env: dict, persons: int, months: int) -> None:
    for args in (
        ["db", "upgrade"],
        ["demo", "seed", "--persons", str(persons), "--history-months", str(months)],
    ):
        done = subprocess.run(
            [str(BIN / "corrections"), *args], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise BenchError(f"corrections {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def _requests(person_id: int) -> dict[str, list[tuple[str, str]]]:
    """What each page asks for as it opens (and as its tabs are opened), by whom."""
    person = f"/api/v1/persons/{person_id}"
    return {
        "workbench (officer)": [
            ("officer", "/workbench"),
            ("officer", "/api/v1/auth/me"),
            ("officer", "/api/v1/event-types"),
            ("officer", "/api/v1/reasons?kind=proposal_ground"),
            ("officer", "/api/v1/obligations?todo=true&due=week&page_size=200"),
            ("officer", "/api/v1/persons?page=1&page_size=50"),
            ("officer", "/api/v1/persons?page=1&page_size=50&due=overdue"),
            ("officer", "/api/v1/persons?page=1&page_size=50&flagged=true"),
            ("officer", "/api/v1/travel-permits?status=requested&page_size=100"),
        ],
        "person page (officer)": [
            ("officer", person),
            ("officer", person + "/grade"),
            ("officer", person + "/obligations"),
            ("officer", person + "/events?page_size=15"),
            ("officer", person + "/travel-permits"),
            ("officer", person + "/monitoring"),
            ("officer", person + "/proposals"),
            ("officer", person + "/correction-plans"),
            ("officer", person + "/risk"),
        ],
        "command centre (commander)": [
            ("commander", "/command-centre"),
            ("commander", "/api/v1/alerts?page=1&page_size=50"),
            ("commander", "/api/v1/stats/overview"),
            ("commander", "/api/v1/incidents"),
            ("commander", "/api/v1/system/jobs"),
            ("commander", "/api/v1/grade-decisions?status=proposed&page_size=50"),
            ("commander", "/api/v1/proposals?status=proposed&page_size=50"),
            ("commander", "/api/v1/flags?status=proposed&page_size=50"),
            ("commander", "/api/v1/flags?status=active&page_size=50"),
            ("commander", "/api/v1/travel-permits?status=requested&approval_level=district"),
        ],
    }


def _measure(env: dict, rounds: int) -> tuple[list[tuple[str, str, list[float]]], dict]:
    os.environ.update(env)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sqlalchemy import func, select

    from corrections import create_app
    from corrections.core.db import db
    from corrections.persons.models import Person
    from corrections.supervision.models import SupervisionEvent

    app = create_app()
    with app.app_context():
        sizes = {
            "persons": db.session.scalar(select(func.count()).select_from(Person)),
            "events": db.session.scalar(select(func.count()).select_from(SupervisionEvent)),
        }
        # The person with the longest log: the heaviest person page.
        person_id = db.session.scalar(
            select(SupervisionEvent.person_id)
            .group_by(SupervisionEvent.person_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        db.session.remove()
    client = app.test_client()
    tokens = {}
    for who, username in (("officer", "officer-dongcheng-1"), ("commander", "commander-dongcheng")):
        resp = client.post(
            "/api/v1/auth/token",
            json={"username": username, "password": env["CORRECTIONS_DEMO_PASSWORD"]},
        )
        if resp.status_code != 201:
            raise BenchError(f"sign-in of {username}: {resp.status_code} {resp.get_data(True)}")
        tokens[who] = resp.get_json()["access_token"]
    results = []
    for page, requests in _requests(person_id).items():
        for who, path in requests:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            times = []
            for i in range(rounds + 2):
                started = time.perf_counter()
                resp = client.get(path, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if resp.status_code != 200:
                    raise BenchError(f"GET {path}: {resp.status_code} {resp.get_data(True)[:300]}")
                if i >= 2:
                    times.append(elapsed)
            results.append((page, path, times))
    return results, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--history-months", type=int, default=6)
    args = parser.parse_args()
    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    name = f"corrections_pages_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="corrections-bench-pages-"))
    admin = f"{server}/postgres"
    url = f"{server}/{name}"
    env = dict(
        os.environ,
        CORRECTIONS_INSTANCE_PATH=str(work),
        CORRECTIONS_DATABASE_URL=url.replace("postgresql://", "postgresql+psycopg://"),
        CORRECTIONS_SECRET_KEY="bench-secret-key-" + "x" * 32,
        CORRECTIONS_DEMO_PASSWORD="bench-password-7Kq",  # noqa: S106 - a scratch database
        CORRECTIONS_LOG_LEVEL="WARNING",
    )
    try:
        psql(admin, f"CREATE DATABASE {name}")
        started = time.perf_counter()
        _seed(env, args.persons, args.history_months)
        psql(
            url,
            f"UPDATE persons SET office_id = (SELECT id FROM units WHERE code = '{OFFICE}'), "
            f"district_id = (SELECT id FROM units WHERE code = '{DISTRICT}'); ANALYZE;",
        )
        print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
        results, sizes = _measure(env, args.rounds)
        print(
            f"{sizes['persons']:,} persons in office {OFFICE}, {sizes['events']:,} events; "
            f"{args.rounds} rounds per request, server time in ms (in-process, PostgreSQL)"
        )
        worst = 0.0
        current = None
        for page, path, times in results:
            if page != current:
                print(f"\n{page}")
                print(f"  {'median':>7} {'p95':>7} {'max':>7}  request")
                current = page
            ordered = sorted(times)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            worst = max(worst, p95)
            print(f"  {statistics.median(times):7.1f} {p95:7.1f} {ordered[-1]:7.1f}  GET {path}")
        ok = worst < TARGET_MS
        verdict = "PASS" if ok else "FAIL"
        print(f"\nslowest p95 {worst:.1f} ms (target < {TARGET_MS:.0f} ms): {verdict}")
        return 0 if ok else 1
    finally:
        psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
