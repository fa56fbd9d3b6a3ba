"""Sweep benchmark: the scheduler's ``sweep_obligations`` job on a generated city of 100,000
active persons (about 1,000,000 obligations, 1% of them newly overdue) on PostgreSQL, beside
hand-written SQL that makes the same changes (one UPDATE marking those obligations missed, one
INSERT ... SELECT of their alerts) on an identical copy, measured in the same run.

    python bench/sweep.py [--persons 100000] [--rounds 3]

Targets (issue 18, after #5's 3x): the job <= 2x the hand-written SQL and <= 10 s; the job's
process peaks at <= 300 MiB (its own RSS, read by the process itself). ``--persons 1000000``
(10,000,000 obligations) is the larger city of the target, for the bench only. Needs a
PostgreSQL server (CORRECTIONS_BENCH_PG, default postgresql://root@127.0.0.1:5432)
on which it creates and drops scratch databases.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import insert_persons, psql

BIN = Path(sys.executable).parent
NOW = "2026-12-12T02:00:00+00:00"  # 10:00 on Dec 12 in Shanghai: "today" is Dec 12
TODAY = "2026-12-12"


def generate(url: str, persons: int, keyring: Path) -> dict[str, int]:
    """Persons and obligations straight in SQL (generate_series): 100,000 persons in seconds.

    Per person: 3 open interval windows (report, check, visit), 2 open hour windows for the
    month, 5 fulfilled windows of history. 1% of all obligations (the report windows of the
    first persons) fall due yesterday, so the sweep finds them newly overdue.

    The persons: ``common.insert_persons``.
    """
    insert_persons(url, persons, keyring)
    overdue = persons * 10 // 100
    base = "person_id, kind, opens_on, due_on, status, grade, created_at, updated_at"
    ts = "TIMESTAMPTZ '2026-12-01 00:00+00'"
    psql(
        url,
        f"""
        WITH p AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM persons)
        INSERT INTO obligations ({base})
        SELECT p.id, k.kind,
            CASE WHEN k.kind = 'report' AND p.n <= {overdue} THEN DATE '2026-11-12'
                 ELSE DATE '2026-12-01' END,
            CASE WHEN k.kind = 'report' AND p.n <= {overdue} THEN DATE '{TODAY}' - 1
                 ELSE DATE '2026-12-25' END,
            'open', 'ordinary', {ts}, {ts}
        FROM p CROSS JOIN (VALUES ('report'), ('check'), ('visit')) k(kind);

        INSERT INTO obligations ({base}, hours_required, hours_done)
        SELECT id, k.kind, DATE '2026-12-01', DATE '2026-12-31', 'open', 'ordinary',
            {ts}, {ts}, 8, 0
        FROM persons CROSS JOIN (VALUES ('education'), ('service')) k(kind);

        INSERT INTO obligations ({base}, fulfilled_at)
        SELECT id, 'report', DATE '2026-01-11' + 30 * h, DATE '2026-01-11' + 30 * h + 29,
            'fulfilled', 'ordinary', {ts}, {ts}, TIMESTAMPTZ '2026-06-01 00:00+00'
        FROM persons CROSS JOIN generate_series(1, 5) h;

        -- The scheduler has been running: this month's windows were planned by its first
        -- sweep of December, so the one measured here is a regular 15-minute run.
        INSERT INTO job_runs (job, holder, started_at, finished_at, status, counts, errors)
        VALUES ('sweep_obligations', 'bench', TIMESTAMPTZ '{TODAY} 01:45+00',
                TIMESTAMPTZ '{TODAY} 01:45:01+00', 'succeeded', '{{}}', '{{}}');
        ANALYZE;
        """,
    )
    return _sizes(url)


def _sizes(url: str) -> dict[str, int]:
    return {
        "persons": int(psql(url, "SELECT count(*) FROM persons")),
        "obligations": int(psql(url, "SELECT count(*) FROM obligations")),
        "overdue": int(
            psql(
                url, f"SELECT count(*) FROM obligations WHERE status='open' AND due_on < '{TODAY}'"
            )
        ),
    }


def _make_city(url: str, sa_url: str, env: dict, persons: int, work: Path) -> dict[str, int]:
    """A fresh database at ``url``: the schema, the demo's units and users, the city."""
    for command in (["db", "upgrade"], ["demo", "seed", "--persons", "0"]):
        subprocess.run(
            [str(BIN / "corrections"), *command],
            env=dict(env, CORRECTIONS_DATABASE_URL=sa_url),
            check=True,
            capture_output=True,
        )
    started = time.perf_counter()
    sizes = generate(url, persons, work / "keyring.json")
    print(
        f"generated {sizes['persons']:,} active persons, {sizes['obligations']:,} "
        f"obligations, {sizes['overdue']:,} newly overdue "
        f"({sizes['overdue'] / sizes['obligations']:.1%}) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return sizes


HAND_WRITTEN = f"""
\\timing on
BEGIN;
UPDATE obligations SET status = 'missed', missed_at = '{NOW}', updated_at = '{NOW}'
 WHERE status = 'open' AND due_on < DATE '{TODAY}';
INSERT INTO alerts (person_id, kind, subject_type, subject_id, severity, severity_rank,
    office_id, district_id, status, detail,
    raised_at, raised_by, updated_at, escalation_level, auto_resolved, version)
SELECT o.person_id, 'obligation_missed', 'obligation', o.id, 'warning', 1,
    p.office_id, p.district_id, 'open',
    json_build_object('obligation_kind', o.kind, 'due_on', o.due_on),
    '{NOW}', 'system', '{NOW}', 0, false, 1
  FROM obligations o JOIN persons p ON p.id = o.person_id WHERE o.missed_at = '{NOW}';
COMMIT;
"""


def hand_written(url: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", "SELECT 1"],
        check=True,
        capture_output=True,
    )
    connect = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-q"],
        input=HAND_WRITTEN,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started - connect  # the statements, not psql's start-up


def job(url: str, env: dict, profile: str | None = None) -> tuple[float, dict, float]:
    """The real job in its own process (the scheduler's code path); its time is the one the
    job records (start to commit), its memory the process's peak RSS."""
    out = subprocess.run(
        [str(BIN / "python"), "-c", _JOB_SCRIPT],
        env=dict(
            env, CORRECTIONS_DATABASE_URL=url, **({"BENCH_PROFILE": profile} if profile else {})
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The job process's own peak (RUSAGE_CHILDREN would give the largest child this bench
    # ever waited for: `demo seed`, which loads the risk model, measured 307 MiB "for the job").
    return result["seconds"], result["counts"], result["peak_kib"] / 1024


_JOB_SCRIPT = f"""
import cProfile, json, os, resource, time
from datetime import datetime, timedelta
from corrections import create_app
from corrections.core.clock import FrozenClock
from corrections.core.db import db
from corrections.scheduler import service
app = create_app({{"CLOCK": FrozenClock(datetime.fromisoformat("{NOW}"))}})
with app.app_context():
    db.session.execute(db.text("SELECT 1"))  # connect and load the rules first
    db.session.commit()
    from corrections.core.runtime import settle
    settle()  # as the scheduler process does once it has started
    profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    started = time.perf_counter()
    if profile:
        profile.enable()
    run = service.run_job(db.session, "sweep_obligations", holder="bench",
                          lease_ttl=timedelta(seconds=90))
    seconds = time.perf_counter() - started
    if profile:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    assert run.status == "succeeded", run.error
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"seconds": seconds, "counts": run.counts, "peak_kib": peak_kib}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated city")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure a city --keep kept")
    parser.add_argument(
        "--profile", metavar="FILE", help="also write a cProfile of the job's last round"
    )
    args = parser.parse_args()
    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    base = args.reuse or f"corrections_sweep_{os.getpid()}"
    if args.keep or args.reuse:  # the kept city's keyring lives with it
        work = Path(tempfile.gettempdir()) / base
        work.mkdir(exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="corrections-sweep-"))
    env = dict(
        os.environ,
        CORRECTIONS_INSTANCE_PATH=str(work),
        CORRECTIONS_SECRET_KEY="bench-secret-key-" + "x" * 32,
        CORRECTIONS_DEMO_PASSWORD="bench-password",  # noqa: S106 - a scratch database
        CORRECTIONS_LOG_LEVEL="WARNING",
    )
    admin = f"{server}/postgres"
    made = [] if args.keep or args.reuse else [base]
    try:
        url = f"{server}/{base}"
        sa_url = url.replace("postgresql://", "postgresql+psycopg://")
        if args.reuse:
            sizes = _sizes(url)
            print(f"reusing {base}: {sizes['persons']:,} persons, {sizes['obligations']:,} "
                  f"obligations, {sizes['overdue']:,} newly overdue")  # fmt: skip
        else:
            psql(admin, f"CREATE DATABASE {base}")
            sizes = _make_city(url, sa_url, env, args.persons, work)
            if args.keep:
                print(f"kept the city as {base} (--reuse {base}; the keyring is in {work})")
        jobs, hands, peak, counts = [], [], 0.0, {}
        for i in range(args.rounds):
            # Identical copies of the generated city, one for each side, every round.
            copies = []
            for side in ("job", "sql"):
                name = f"{base}_{side}{i}"
                psql(admin, f"CREATE DATABASE {name} TEMPLATE {base}")
                made.append(name)
                copies.append(name)
            seconds, counts, rss = job(
                f"{server}/{copies[0]}".replace("postgresql://", "postgresql+psycopg://"),
                env,
                args.profile if i == args.rounds - 1 else None,
            )
            jobs.append(seconds)
            peak = max(peak, rss)
            hands.append(hand_written(f"{server}/{copies[1]}"))
            for name in copies:
                psql(admin, f"DROP DATABASE {name}")
                made.remove(name)
        job_s = sorted(jobs)[len(jobs) // 2]
        sql_s = sorted(hands)[len(hands) // 2]
        print(f"sweep_obligations job   {job_s:7.3f} s  (median of {args.rounds}; {counts})")
        print(f"hand-written SQL        {sql_s:7.3f} s  (UPDATE + INSERT ... SELECT, commit)")
        print(f"ratio job/SQL           {job_s / sql_s:7.2f}x  (target <= 2x)")
        print(f"job process peak RSS    {peak:7.0f} MiB (target <= 300 MiB)")
        ok = job_s <= 2 * sql_s and job_s <= 10 and peak <= 300
        ok = ok and counts.get("alerts") == sizes["overdue"]
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        for name in made:
            psql(admin, f"DROP DATABASE IF EXISTS {name}")
        if not (args.keep or args.reuse):  # a kept city keeps its keyring
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
