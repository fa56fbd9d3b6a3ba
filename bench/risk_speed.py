"""Nightly risk scoring speed: persons scored per second on PostgreSQL, features included.

Seeds a fresh PostgreSQL database with ``--persons`` persons (default 100,000) and
``--history-months`` of generated history, activates the shipped default model, then times
the ``risk_scoring`` job's work (set-based feature query, batched prediction, reasons, storing
the scores, alerts and flag proposals) twice: the first night (everyone new) and the next.

    python bench/risk_speed.py [--persons 100000] [--history-months 6] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://root@127.0.0.1:5432")
DEFAULT_MODEL = "default-2026.11"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--history-months", type=int, default=6)
    ap.add_argument("--keep", action="store_true", help="Keep the database afterwards")
    args = ap.parse_args()
    db_name = f"risk_speed_{os.getpid()}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc"]
    subprocess.run([*psql, f"CREATE DATABASE {db_name}"], check=True)
    env = {
        **os.environ,
        "CORRECTIONS_DATABASE_URL": f"{PG}/{db_name}",
        "CORRECTIONS_SECRET_KEY": "bench-secret-key-0123456789-0123456789-01",
        "CORRECTIONS_INSTANCE_PATH": str(Path(tempfile.gettempdir()) / db_name),
    }
    os.makedirs(env["CORRECTIONS_INSTANCE_PATH"], exist_ok=True)
    try:
        cli = [sys.executable, "-m", "corrections.cli"]
        t0 = time.perf_counter()
        subprocess.run([*cli, "db", "upgrade"], check=True, env=env, capture_output=True)
        subprocess.run(
            [*cli, "demo", "seed", "--persons", str(args.persons), "--history-months",
             str(args.history_months), "--as-of", "2026-11-28"],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"seeded {args.persons} persons in {time.perf_counter() - t0:.0f} s")
        subprocess.run([*cli, "risk", "activate", DEFAULT_MODEL], check=True, env=env)
        os.environ.update(env)
        from datetime import UTC, datetime, timedelta

        from sqlalchemy import func, select

        from corrections import create_app
        from corrections.core.db import db
        from corrections.persons.models import Person
        from corrections.risk import service

        app = create_app()
        with app.app_context():
            active = db.session.scalar(
                select(func.count()).select_from(Person).where(Person.status == "active")
            )
            at = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 02:00 in Asia/Shanghai
            service.active_scorer(db.session)  # load the model (once per process)
            for night in ("first night", "next night"):
                t = time.perf_counter()
                result = service.score_all(db.session, now=at)
                db.session.commit()
                took = time.perf_counter() - t
                print(
                    f"{night}: {result.scored} active persons (of {args.persons}) scored in "
                    f"{took:.1f} s = {result.scored / took:,.0f} persons/s; high {result.high}, "
                    f"entered high {result.entered_high}, alerts {result.alerts}, "
                    f"flags proposed {result.flags_proposed}"
                )
                at += timedelta(days=1)
            print(f"target: {active} persons in <= 60 s: "
                  f"{'PASS' if took <= 60 else 'FAIL'} (next night)")  # fmt: skip
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep:
            subprocess.run([*psql, f"DROP DATABASE IF EXISTS {db_name}"], check=False)


if __name__ == "__main__":
    main()
