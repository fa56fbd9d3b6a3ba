"""Every scheduled job once on a city, each beside a tenth of its schedule interval (issue 18).

Runs each job of the scheduler's registry once, in the registry's (schedule) order, the way
the scheduler runs it (``run_job`` in an app context: the run recorded, the job's own
commits), on a PostgreSQL city, with a frozen clock (default 02:30 on 29 November 2026 in
Asia/Shanghai), then ``detect_lost_contact`` again 15 minutes later (its next run, with
nothing new to do). Prints each job's time, its interval (a cron job's: from one firing to the
next, so a monthly job's is the month's length), a tenth of it, and PASS or FAIL; a job that
fails (or records per-person errors: a ``partial`` run) is FAIL with its error. Then one
PASS/FAIL line for all.

Without ``--reuse`` it seeds a city first (``demo seed``, as ``bench/risk_speed.py`` does, and
activates the shipped model) and drops it afterwards unless ``--keep``. With ``--reuse`` it
works on a copy of that database (``CREATE DATABASE ... TEMPLATE``: nobody may be connected
to it meanwhile), dropped afterwards, so the kept city stays as it was; ``--in-place`` runs on
the database itself. The backups and the instance files go to a temporary folder; the city's
keyring is read from ``--keyring`` (default: ``bench/risk_speed.py``'s folder for that
database, ``$TMPDIR/DATABASE/keyring.json``, when it exists).

    python bench/jobs.py [--persons 148000] [--history-months 6] [--keep]
    python bench/jobs.py --reuse risk_speed_1234 [--in-place] [--keyring PATH]

Other benches import :func:`run_all` (``sys.path`` holding ``bench/``: ``from jobs import
run_all``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from common import psql, run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrections.core.clock import BUSINESS_TZ  # noqa: E402

# The server as the other benches name it (CORRECTIONS_BENCH_PG, libpq's form).
SERVER = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432").replace(
    "postgresql://", "postgresql+psycopg://"
)
NOW = datetime(2026, 11, 29, 2, 30, tzinfo=BUSINESS_TZ)
SECRET_KEY = "bench-secret-key-0123456789-0123456789-01"  # noqa: S105 - a scratch city
DEFAULT_MODEL = "default-2026.11"
# The jobs run a second time, at their next firing: what a run with nothing new to do costs.
AGAIN = {"detect_lost_contact": timedelta(minutes=15)}


@dataclass(frozen=True)
class JobResult:
    """One run of one job: how long it took beside a tenth of its interval."""

    job: str
    trigger: str
    interval: timedelta
    seconds: float
    status: str  # the run's: succeeded, partial, failed (or "skipped": no lease)
    counts: dict = field(default_factory=dict)
    error: str | None = None
    again: bool = False  # the second run of a job (AGAIN)

    @property
    def limit(self) -> timedelta:
        return self.interval / 10

    @property
    def passed(self) -> bool:
        return self.status == "succeeded" and self.seconds <= self.limit.total_seconds()

    def line(self) -> str:
        name = f"{self.job} (again)" if self.again else self.job
        verdict = "PASS" if self.passed else "FAIL"
        why = ""
        if self.status != "succeeded":
            why = f"  {self.status}: {self.error or ''}".rstrip()
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        if len(counts) > 70:
            counts = counts[:69] + "…"
        return (
            f"{name:<28} {self.seconds:9.2f} s  {_span(self.interval):>9}  "
            f"{_span(self.limit):>8}  {verdict}{why}  {counts}"
        )


def _span(delta: timedelta) -> str:
    s = delta.total_seconds()
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.0f} s"


def interval_of(spec: str, now: datetime) -> timedelta:
    """A trigger's interval: an interval trigger's own, a cron trigger's from its next firing
    after ``now`` to the one after (a month for ``cron 0 3 1 * *`` in November: 31 days)."""
    from corrections.scheduler import triggers

    trigger = triggers.parse(spec)
    every = triggers.interval_of(trigger)
    if every is not None:
        return every
    first = trigger.get_next_fire_time(None, now)
    return trigger.get_next_fire_time(first, first + timedelta(seconds=1)) - first


def run_all(
    database_url: str,
    now: datetime = NOW,
    *,
    instance_path: str | Path,
    keyring: str | Path | None = None,
    jobs: Iterable[str] | None = None,
    again: dict[str, timedelta] | None = None,
    report: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run every scheduled job (or ``jobs``, in schedule order) once on ``database_url`` as
    the scheduler does (``run_job`` in an app context, the run recorded), the clock frozen at
    ``now``; then the jobs of ``again`` (default :data:`AGAIN`) once more that much later.
    ``instance_path``: a folder for the instance's files (backups); ``keyring``: the city's
    keyring (default: the instance folder's). ``report`` is called with each result as it
    comes (a long run shows its progress)."""
    from corrections import create_app
    from corrections.core.clock import FrozenClock
    from corrections.core.db import db
    from corrections.core.runtime import settle
    from corrections.scheduler import service

    config = {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": os.environ.get("CORRECTIONS_SECRET_KEY", SECRET_KEY),
        "CLOCK": FrozenClock(now),
        "LOG_LEVEL": "WARNING",
    }
    if keyring is not None:
        config["KEYRING_PATH"] = str(keyring)
    app = create_app(config)
    clock = app.extensions["corrections.clock"]
    specs = app.config["SCHEDULER_TRIGGERS"]
    wanted = set(jobs) if jobs is not None else set(service.JOBS)
    again = AGAIN if again is None else again
    plan = [(name, now, False) for name in service.JOBS if name in wanted]
    plan += [(name, now + later, True) for name, later in again.items() if name in wanted]
    ttl = timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"])
    holder = f"bench-jobs:{os.getpid()}"
    results = []
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connected, the rules loaded
        db.session.rollback()
        settle()  # as the scheduler process does once it has started
    try:
        for name, at, is_again in plan:
            clock.set(at)
            with app.app_context():
                started = time.perf_counter()
                try:
                    done = service.run_job(db.session, name, holder=holder, lease_ttl=ttl, now=at)
                    status, counts, error = (
                        ("skipped", {}, "another scheduler holds the lease")
                        if done is None
                        else (done.status, dict(done.counts or {}), done.error)
                    )
                    if status == "partial":
                        errors = done.errors or {}
                        shown = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
                        error = f"{len(errors)} errors ({shown})"
                except Exception as exc:  # the run record itself failed
                    status, counts, error = "failed", {}, f"{type(exc).__name__}: {exc}"
                seconds = time.perf_counter() - started
                db.session.remove()
            result = JobResult(
                job=name,
                trigger=specs[name],
                interval=interval_of(specs[name], at),
                seconds=seconds,
                status=status,
                counts=counts,
                error=error,
                again=is_again,
            )
            results.append(result)
            if report is not None:
                report(result)
    finally:
        with app.app_context():
            service.release_lease(db.session, holder=holder)
            db.session.remove()
            db.engine.dispose()
    return results


HEADER = f"{'job':<28} {'time':>11}  {'interval':>9}  {'tenth':>8}  verdict  counts"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--persons", type=int, default=148_000, help="Persons to seed (about 100,000 active)"
    )
    ap.add_argument("--history-months", type=int, default=6)
    ap.add_argument("--keep", action="store_true", help="Keep the database afterwards")
    ap.add_argument("--reuse", metavar="DATABASE", help="Run on a copy of a kept city")
    ap.add_argument("--in-place", action="store_true", help="With --reuse: on the city itself")
    ap.add_argument("--keyring", help="The city's keyring.json (with --reuse)")
    ap.add_argument("--now", help=f"The clock, ISO 8601 with offset (default {NOW.isoformat()})")
    ap.add_argument("--job", action="append", help="Only this job (repeatable)")
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now) if args.now else NOW
    if now.tzinfo is None:
        ap.error("--now needs an offset (+08:00)")
    admin = SERVER.replace("+psycopg", "") + "/postgres"
    work = Path(tempfile.mkdtemp(prefix="corrections-jobs-"))
    keyring = args.keyring
    if args.reuse:
        source = args.reuse
        kept = Path(tempfile.gettempdir()) / source / "keyring.json"
        if keyring is None and kept.exists():
            keyring = str(kept)
        if args.in_place:
            db_name, made = source, False
        else:
            db_name, made = f"{source}_jobs_{os.getpid()}", True
            t = time.perf_counter()
            psql(admin, f"CREATE DATABASE {db_name} TEMPLATE {source}")
            print(f"copied {source} to {db_name} in {time.perf_counter() - t:.0f} s")
    else:
        db_name, made = f"jobs_{os.getpid()}", True
        psql(admin, f"CREATE DATABASE {db_name}")
    url = f"{SERVER}/{db_name}"
    try:
        env = {
            **os.environ,
            "CORRECTIONS_DATABASE_URL": url,
            "CORRECTIONS_SECRET_KEY": SECRET_KEY,
            "CORRECTIONS_INSTANCE_PATH": str(work),
            "CORRECTIONS_LOG_LEVEL": "WARNING",
        }
        if keyring is not None:
            env["CORRECTIONS_KEYRING_PATH"] = str(keyring)
        cli = [sys.executable, "-m", "corrections.cli"]
        t = time.perf_counter()
        # A kept city too: the code measured expects its schema (the drill checks it).
        run([*cli, "db", "upgrade"], env=env)
        if args.reuse:
            print(f"schema upgraded in {time.perf_counter() - t:.0f} s")
        else:
            run([*cli, "demo", "seed", "--persons", str(args.persons), "--history-months",
                 str(args.history_months), "--as-of", "2026-11-28"], env=env)  # fmt: skip
            run([*cli, "risk", "activate", DEFAULT_MODEL], env=env)
            print(f"seeded {args.persons:,} persons in {time.perf_counter() - t:.0f} s")
        active = psql(
            url.replace("+psycopg", ""), "SELECT count(*) FROM persons WHERE status = 'active'"
        )
        print(f"city {db_name}: {int(active):,} active persons; clock {now.isoformat()}")
        print(HEADER)
        results = run_all(
            url,
            now,
            instance_path=work,
            keyring=keyring,
            jobs=args.job,
            report=lambda r: print(r.line(), flush=True),
        )
        failed = [r for r in results if not r.passed]
        names = ", ".join(f"{r.job}{' (again)' if r.again else ''}" for r in failed)
        print(
            f"{len(results)} runs, {len(failed)} over a tenth of their interval or failed: "
            f"{'FAIL (' + names + ')' if failed else 'PASS'}"
        )
        return 1 if failed else 0
    finally:
        if made and not args.keep:
            psql(admin, f"DROP DATABASE IF EXISTS {db_name}")
        elif made:
            print(f"kept {db_name}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
