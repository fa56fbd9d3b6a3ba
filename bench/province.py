"""Province scale on one PostgreSQL (issue 18, point 6): 40,000 active persons with 3 years of
history, about 30 million supervision events in the event log's monthly partitions.

Generates the province in SQL (``generate_series``; not through the ORM, which would take
days): the demo's units and accounts, ``--persons`` active persons (``common.insert_persons``,
their terms begun before the history), ``--events-per-person-month`` events a person a month
for ``--years`` years (phone and location checks most of them, then reports, talks, education
and community service, visits; a third recorded under an Idempotency-Key, whose claims are
filled as the trigger would), the obligations those months held (a monthly report window, an
education and a service window a month, all fulfilled, and this month's open windows) and ten
alerts a person over the years, 10% live. Then it prints:

* table sizes (``pg_total_relation_size``; the event log's is the sum of its partitions) and
  the partitions (how many, rows of the smallest and largest month);
* every scheduled job run once as the scheduler runs it, beside a tenth of its interval
  (``bench/jobs.py``'s ``run_all``, the clock at its 02:30 on 29 November 2026, Shanghai);
* the ingest ratio on this database (``bench/ingest.py --reuse``: gunicorn and wrk, events
  through the API to a sample of the province's persons) beside the same bench on a fresh
  300-person city, measured in this run: PASS when the province's ratio is at least 90% of the
  fresh one's (the ratio unchanged, within this machine's noise) and the ingest's own checks
  pass.

    python bench/province.py [--persons 40000] [--years 3] [--events-per-person-month 21]
                             [--keep] [--skip-ingest] [--job NAME ...]
    python bench/province.py --reuse DATABASE     # a province --keep kept (keyring beside it)

Needs ``psql``, ``wrk`` (for the ingest) and a PostgreSQL server (CORRECTIONS_BENCH_PG, default
postgresql://root@127.0.0.1:5432) whose role may create databases and set
``session_replication_role`` (the bulk insert skips the per-row trigger and fills the claims
in one statement afterwards).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from common import insert_alerts, insert_persons, psql, run
from jobs import HEADER, NOW, SECRET_KEY, run_all

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrections.core.clock import BUSINESS_TZ, add_months  # noqa: E402

SERVER = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
PASSWORD = "bench-password"  # noqa: S105 - a scratch database's demo accounts
DEFAULT_MODEL = "default-2026.11"
# Twenty slots a person's month of events is dealt from: (type, channel, payload).
SLOTS = (
    [("phone_check", "phone", '{"success": true}')] * 8
    + [("location_check", "app", '{"success": true, "within_area": true}')] * 4
    + [("report", "in_person", '{"late": false}')] * 3
    + [("talk", "in_person", "{}")] * 2
    + [("education", None, '{"hours": 2, "topic": "法治教育"}')]
    + [("community_service", None, '{"hours": 4, "place": "社区"}')]
    + [("field_visit", "field", '{"person_present": true}')]
)
MAIN_TABLES = (
    "supervision_events",
    "supervision_event_keys",
    "supervision_event_corrections",
    "obligations",
    "alerts",
    "persons",
    "audit_entries",
    "risk_scores",
    "job_runs",
)


def _literal(value: str | None) -> str:
    return "NULL" if value is None else f"'{value}'"


def months_back(now: datetime, years: int) -> list[date]:
    this = now.astimezone(BUSINESS_TZ).date().replace(day=1)
    return [add_months(this, -k) for k in range(years * 12 - 1, -1, -1)]


def generate(url: str, sa_url: str, args, keyring: Path, now: datetime) -> None:
    """The province, in SQL: persons, their months of events, obligations and alerts."""
    from sqlalchemy import create_engine

    from corrections.supervision import partitions

    t = time.perf_counter()
    insert_persons(url, args.persons, keyring, varied_names=True)
    months = months_back(now, args.years)
    first = months[0]
    # Their terms began before the history does and end after it.
    psql(
        url,
        f"""
        UPDATE persons SET judgment_date = DATE '{first}' - 30,
            judgment_effective_date = DATE '{first}' - 20, term_start = DATE '{first}' - 19,
            intake_deadline = DATE '{first}' - 10, term_end = DATE '{add_months(first, 60)}',
            created_at = TIMESTAMPTZ '{first} 00:00+08' - interval '19 days';
        """,
    )
    print(f"  {args.persons:,} persons in {time.perf_counter() - t:.0f} s", flush=True)
    engine = create_engine(sa_url)
    with engine.begin() as conn:
        created = partitions.create_months(conn, [*months, add_months(months[-1], 1)])
    engine.dispose()
    print(f"  {len(created)} monthly partitions created", flush=True)
    officer = psql(url, "SELECT min(id) FROM users WHERE role = 'officer'")
    slots = ", ".join(
        f"({n}, '{kind}', {_literal(channel)}, '{payload}')"
        for n, (kind, channel, payload) in enumerate(SLOTS)
    )
    per = args.events_per_person_month
    t = time.perf_counter()
    for i, month in enumerate(months):
        start = datetime(month.year, month.month, 1, tzinfo=BUSINESS_TZ)
        end = min(datetime.combine(add_months(month, 1), start.timetz()), now - timedelta(hours=1))
        span = int((end - start).total_seconds())
        # Spread over the month (or up to an hour before the clock); recorded a few minutes
        # after; a third under an Idempotency-Key as the tablets send it.
        psql(
            url,
            f"""
            SET session_replication_role = replica;
            WITH s(n, type, channel, payload) AS (VALUES {slots})
            INSERT INTO supervision_events (person_id, type, occurred_at, recorded_at,
                recorded_by_id, recorded_by, channel, payload, idempotency_key)
            SELECT p.id, s.type, x.at, x.at + interval '4 minutes', {officer},
                'officer-bench', s.channel, s.payload::json,
                CASE WHEN k % 3 = 0 THEN 'bench-{month:%Y%m}-' || p.id || '-' || k END
            FROM persons p CROSS JOIN generate_series(0, {per - 1}) k
            CROSS JOIN LATERAL (SELECT TIMESTAMPTZ '{start.isoformat()}'
                + ((k::bigint * {span} / {per} + p.id * 7919 % ({span} / {per}))
                   * interval '1 second') AS at) x
            JOIN s ON s.n = (k + p.id) % {len(SLOTS)};
            """,
        )
        done = time.perf_counter() - t
        print(f"  events of {month:%Y-%m}: {i + 1}/{len(months)} months, {done:.0f} s", flush=True)
    t = time.perf_counter()
    psql(
        url,
        """
        INSERT INTO supervision_event_keys (recorded_by_id, idempotency_key, event_id,
            recorded_at)
        SELECT recorded_by_id, idempotency_key, id, recorded_at FROM supervision_events
        WHERE idempotency_key IS NOT NULL;
        """,
    )
    print(f"  idempotency claims in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    this = months[-1]
    today = now.astimezone(BUSINESS_TZ).date()
    ts = "TIMESTAMPTZ '{d} 00:00+08'"
    base = "person_id, kind, opens_on, due_on, status, grade, created_at, updated_at"
    psql(
        url,
        f"""
        SET session_replication_role = replica;
        INSERT INTO obligations ({base}, hours_required, hours_done, fulfilled_at)
        SELECT p.id, k.kind, m::date, (m + interval '1 month' - interval '1 day')::date,
            'fulfilled', 'ordinary', m, m, k.hours, k.hours,
            m + interval '20 days'
        FROM persons p
        CROSS JOIN generate_series(TIMESTAMPTZ '{months[0]} 00:00+08',
                                   TIMESTAMPTZ '{months[-2]} 00:00+08', interval '1 month') m
        CROSS JOIN (VALUES ('report', NULL::float), ('education', 8.0), ('service', 8.0))
            k(kind, hours);
        INSERT INTO obligations ({base})
        SELECT p.id, k.kind, DATE '{today}' - 5, DATE '{today}' + 9, 'open', 'ordinary',
            {ts.format(d=this)}, {ts.format(d=this)}
        FROM persons p CROSS JOIN (VALUES ('report'), ('check'), ('visit')) k(kind);
        INSERT INTO obligations ({base}, hours_required, hours_done)
        SELECT p.id, k.kind, DATE '{this}', DATE '{add_months(this, 1)}' - 1, 'open',
            'ordinary', {ts.format(d=this)}, {ts.format(d=this)}, 8, 0
        FROM persons p CROSS JOIN (VALUES ('education'), ('service')) k(kind);
        """,
    )
    print(f"  obligations in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    alerts = args.persons * 10
    seconds = args.years * 365 * 86400
    insert_alerts(url, alerts, now.isoformat(), seconds)
    print(f"  {alerts:,} alerts in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    psql(url, "VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - t:.0f} s", flush=True)


def sizes(url: str) -> None:
    """Each main table's total size (with its indexes and TOAST) and rows; the partitions."""
    print(f"{'table':<32} {'rows (estimate)':>15} {'total size':>12}")
    for table in MAIN_TABLES:
        # A partitioned table has no storage of its own: its partitions' sizes add up.
        size, rows = psql(
            url,
            "SELECT sum(pg_total_relation_size(c.oid)), sum(greatest(c.reltuples, 0))::bigint "
            f"FROM pg_class c WHERE c.relkind <> 'p' AND (c.oid = '{table}'::regclass OR "
            f"c.oid IN (SELECT relid FROM pg_partition_tree('{table}'::regclass)))",
        ).split("|")
        print(f"{table:<32} {int(rows or 0):>15,} {int(size or 0) / 2**30:>9.2f} GiB")
    parts = psql(
        url,
        "SELECT count(*), min(c.reltuples)::bigint, max(c.reltuples)::bigint "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'supervision_events'::regclass "
        "AND c.relname <> 'supervision_events_default' AND c.reltuples > 0",
    ).split("|")
    total = psql(
        url,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'supervision_events'::regclass",
    )
    print(
        f"event partitions: {total} attached (the default and the months ahead included), "
        f"{parts[0]} holding rows: {int(parts[1] or 0):,} to {int(parts[2] or 0):,} rows a month"
    )
    whole = int(psql(url, "SELECT pg_database_size(current_database())"))
    print(f"database size: {whole / 2**30:.2f} GiB")


def ingest(extra: list[str]) -> tuple[float | None, str]:
    """``bench/ingest.py`` with ``extra``: (its ratio, its output)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("ingest.py")), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    out = done.stdout + done.stderr
    found = re.search(r"ratio events/healthz\s+([\d.]+)%", out)
    return (float(found.group(1)) / 100 if found else None), out


def ingest_pairs(args, base: str, work: Path) -> bool:
    """The ingest ratio on a fresh city and on this province, alternately ``--ingest-pairs``
    times (this machine's speed drifts: the pairs see the same stretches); the medians."""
    common = ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]
    fresh, province, checks = [], [], []
    for _ in range(args.ingest_pairs):
        for side, extra in (
            (fresh, common),
            (province, [*common, "--reuse", base, "--instance", str(work)]),
        ):
            ratio, out = ingest(extra)
            if ratio is None:
                print(out)
                return False
            side.append(ratio)
            if side is province:
                checks.append("stored exactly once     True" in out)
    f, p = sorted(fresh)[len(fresh) // 2], sorted(province)[len(province) // 2]
    shown = ", ".join(f"{r:.1%}" for r in fresh)
    print(f"ingest ratio, fresh 300-person city:  {f:.1%} (median of {shown})")
    shown = ", ".join(f"{r:.1%}" for r in province)
    print(f"ingest ratio, this province:          {p:.1%} (median of {shown})")
    stored = all(checks)
    print(f"every event stored exactly once:      {stored}")
    kept = p / f
    verdict = kept >= 0.9 and stored
    print(f"ingest ratio kept: {kept:.0%} of the fresh city's (target >= 90%): "
          f"{'PASS' if verdict else 'FAIL'}")  # fmt: skip
    return verdict


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=40_000)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--events-per-person-month", type=int, default=21)
    ap.add_argument("--keep", action="store_true", help="keep the province afterwards")
    ap.add_argument("--reuse", metavar="DATABASE", help="measure a province --keep kept")
    ap.add_argument("--job", action="append", help="only this job (repeatable)")
    ap.add_argument("--skip-jobs", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--seconds", type=int, default=10, help="ingest: seconds a round")
    ap.add_argument("--rounds", type=int, default=3, help="ingest: rounds")
    ap.add_argument("--ingest-pairs", type=int, default=3, help="ingest: fresh/province pairs")
    args = ap.parse_args()
    now = NOW
    base = args.reuse or f"province_{os.getpid()}"
    work = Path(tempfile.gettempdir()) / base  # the keyring lives with the kept province
    work.mkdir(exist_ok=True)
    url = f"{SERVER}/{base}"
    sa_url = url.replace("postgresql://", "postgresql+psycopg://")
    admin = f"{SERVER}/postgres"
    env = dict(
        os.environ,
        CORRECTIONS_DATABASE_URL=sa_url,
        CORRECTIONS_INSTANCE_PATH=str(work),
        CORRECTIONS_SECRET_KEY=SECRET_KEY,
        CORRECTIONS_DEMO_PASSWORD=PASSWORD,
        CORRECTIONS_LOG_LEVEL="WARNING",
    )
    cli = [sys.executable, "-m", "corrections.cli"]
    made = not args.reuse
    ok = True
    print(f"machine: {os.cpu_count()} cores; {datetime.now(BUSINESS_TZ):%Y-%m-%d %H:%M} Shanghai")
    try:
        if made:
            psql(admin, f"CREATE DATABASE {base}")
            t = time.perf_counter()
            run([*cli, "db", "upgrade"], env=env)
            run([*cli, "demo", "seed", "--persons", "0"], env=env)
            run([*cli, "risk", "activate", DEFAULT_MODEL], env=env)
            print(
                f"generating {args.persons:,} persons, {args.years} years, "
                f"{args.events_per_person_month} events a person a month",
                flush=True,
            )
            generate(url, sa_url, args, work / "keyring.json", now)
            print(f"generated in {time.perf_counter() - t:.0f} s", flush=True)
        else:
            run([*cli, "db", "upgrade"], env=env)
        print()
        sizes(url)
        if not args.skip_jobs:
            print()
            print(f"every scheduled job once, clock {now.isoformat()}")
            print(HEADER)
            results = run_all(
                sa_url,
                now,
                instance_path=work,
                keyring=work / "keyring.json",
                jobs=args.job,
                report=lambda r: print(r.line(), flush=True),
            )
            failed = [r for r in results if not r.passed]
            names = ", ".join(f"{r.job}{' (again)' if r.again else ''}" for r in failed)
            print(f"jobs: {'FAIL (' + names + ')' if failed else 'PASS'}")
            ok = ok and not failed
        if not args.skip_ingest:
            print()
            verdict = ingest_pairs(args, base, work)
            ok = ok and verdict
        print()
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if made and not args.keep:
            psql(admin, f"DROP DATABASE IF EXISTS {base}")
            shutil.rmtree(work, ignore_errors=True)
        elif made:
            print(f"kept the province as {base} (--reuse {base}; keyring in {work})")


if __name__ == "__main__":
    sys.exit(main())
