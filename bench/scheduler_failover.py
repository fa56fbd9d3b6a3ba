"""Fail-over check: two ``corrections scheduler run`` processes against one PostgreSQL
database for a minute; the active one is killed (SIGKILL) in the middle of a run; afterwards
every due alert exists exactly once and nothing due was lost.

    python bench/scheduler_failover.py [--seconds 60] [--persons 5000]

While they run, this script keeps making work: every few seconds it moves a batch of open
report windows to "due yesterday", as if those persons had not come in. Needs a PostgreSQL
server (CORRECTIONS_BENCH_PG, default postgresql://root@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LEASE_SECONDS = 6
TRIGGERS = ";".join(
    [
        "sweep_obligations=every 3s",
        "detect_lost_contact=every 4s",
        "alert_escalation=every 5s",
        "audit_seal=every 5s",
    ]
)


def psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    name = f"corrections_failover_{os.getpid()}"
    url = f"{server}/{name}"
    work = Path(tempfile.mkdtemp(prefix="corrections-failover-"))
    env = dict(
        os.environ,
        CORRECTIONS_DATABASE_URL=url.replace("postgresql://", "postgresql+psycopg://"),
        CORRECTIONS_INSTANCE_PATH=str(work),
        CORRECTIONS_SECRET_KEY="bench-secret-key-" + "x" * 32,
        CORRECTIONS_LOG_LEVEL="WARNING",
        CORRECTIONS_SCHEDULER_LEASE_SECONDS=str(LEASE_SECONDS),
        CORRECTIONS_SCHEDULER_TRIGGERS=TRIGGERS,
    )
    procs: dict[str, subprocess.Popen] = {}
    psql(f"{server}/postgres", f"CREATE DATABASE {name}")
    try:
        corrections = str(BIN / "corrections")
        subprocess.run([corrections, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [corrections, "demo", "seed", "--persons", str(args.persons)],
            env=env,
            check=True,
            capture_output=True,
        )
        for holder in ("scheduler-a", "scheduler-b"):
            log = open(work / f"{holder}.log", "w")  # noqa: SIM115 - lives as long as it runs
            procs[holder] = subprocess.Popen(
                [corrections, "scheduler", "run", "--holder", holder],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started = time.monotonic()
        injected = 0
        killed = None
        next_batch = started
        while time.monotonic() - started < args.seconds:
            now = time.monotonic()
            if now >= next_batch:
                # Persons who did not come in: their open report window fell due yesterday.
                injected += int(
                    psql(
                        url,
                        f"""WITH moved AS (
                              UPDATE obligations SET due_on = CURRENT_DATE - 1,
                                     opens_on = LEAST(opens_on, CURRENT_DATE - 1)
                              WHERE id IN (SELECT id FROM obligations
                                           WHERE status = 'open' AND kind = 'report'
                                             AND due_on >= CURRENT_DATE
                                           ORDER BY random() LIMIT {args.batch})
                              RETURNING 1)
                            SELECT count(*) FROM moved""",
                    )
                )
                next_batch = now + 2
            if killed is None and now - started > args.seconds / 3:
                # Kill the leader while one of its runs is in progress (or at the latest
                # moment the window allows).
                running = psql(
                    url,
                    "SELECT r.holder FROM job_runs r JOIN scheduler_leases l "
                    "ON l.holder = r.holder WHERE r.status = 'running' LIMIT 1",
                )
                late = now - started > args.seconds / 2
                leader = running or (
                    late and psql(url, "SELECT holder FROM scheduler_leases LIMIT 1")
                )
                if leader:
                    procs[leader].send_signal(signal.SIGKILL)
                    procs[leader].wait()
                    killed = (leader, "mid-run" if running else "between runs", now - started)
            time.sleep(0.02)
        # Let the survivor finish what is due, then stop it.
        time.sleep(LEASE_SECONDS + 4)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
        # What must hold afterwards.
        overdue_left = int(
            psql(
                url,
                "SELECT count(*) FROM obligations WHERE status='open' AND due_on < CURRENT_DATE",
            )
        )
        duplicates = int(
            psql(
                url,
                "SELECT count(*) FROM (SELECT 1 FROM alerts GROUP BY person_id, kind, "
                "subject_type, subject_id HAVING count(*) > 1) d",
            )
        )
        unalerted = int(
            psql(
                url,
                "SELECT count(*) FROM obligations o WHERE o.status = 'missed' AND NOT EXISTS "
                "(SELECT 1 FROM alerts a WHERE a.kind = 'obligation_missed' "
                "AND a.subject_type = 'obligation' AND a.subject_id = o.id)",
            )
        )
        missed = int(psql(url, "SELECT count(*) FROM obligations WHERE status = 'missed'"))
        runs = psql(
            url,
            "SELECT holder || ' ' || status || ' ' || count(*) FROM job_runs "
            "GROUP BY holder, status ORDER BY 1",
        )
        incidents_dupes = int(
            psql(
                url,
                "SELECT count(*) FROM (SELECT 1 FROM incidents WHERE state <> 'closed' "
                "GROUP BY person_id HAVING count(*) > 1) d",
            )
        )
        print(
            f"{args.seconds}s, 2 schedulers, lease {LEASE_SECONDS}s, {args.persons} persons; "
            f"{injected} report windows made overdue while running"
        )
        print(f"killed                  {killed}")
        print("job runs                " + runs.replace("\n", "; "))
        print(f"missed obligations      {missed} (alerted: {missed - unalerted})")
        print(f"overdue left unswept    {overdue_left}")
        print(f"duplicate alerts        {duplicates}")
        print(f"duplicate open episodes {incidents_dupes}")
        ok = (
            killed is not None
            and overdue_left == 0
            and unalerted == 0
            and duplicates == 0
            and incidents_dupes == 0
            and "scheduler-a" in runs
            and "scheduler-b" in runs
        )
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        psql(f"{server}/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
