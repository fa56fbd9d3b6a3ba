"""Nightly risk scoring speed: persons scored per second on PostgreSQL, features included.

Seeds a fresh PostgreSQL database with ``--persons`` persons (default 100,000) and
``--history-months`` of generated history, activates the shipped default model, then times
the ``risk_scoring`` job's work (set-based feature query, batched prediction, reasons for the
medium and high bands, storing the scores, alerts and flag proposals): the first night
(everyone new), the next, and the thirtieth (nights 3 to 29 are copied in SQL from the
second, so the scores table has grown as it would have). Prints where the time goes.

Target (issue 18): 100,000 active persons in <= 20 s, the thirtieth night as fast as the first.

    python bench/risk_speed.py [--persons 100000] [--history-months 6] [--keep]
    python bench/risk_speed.py --reuse risk_speed_1234   # a database --keep kept
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--history-months", type=int, default=6)
    ap.add_argument("--keep", action="store_true", help="Keep the database afterwards")
    ap.add_argument("--reuse", metavar="DATABASE", help="Measure a database --keep kept")
    args = ap.parse_args()
    db_name = args.reuse or f"risk_speed_{os.getpid()}"
    args.keep = args.keep or bool(args.reuse)
    psql = ["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc"]
    if not args.reuse:
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
        if not args.reuse:
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
        from corrections.risk.models import RiskScore

        app = create_app()
        with app.app_context():
            active = db.session.scalar(
                select(func.count()).select_from(Person).where(Person.status == "active")
            )
            generated = db.session.scalar(select(func.count()).select_from(Person))
            first_night = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 02:00 in Asia/Shanghai
            # A kept database scored before: start after its nights.
            latest = db.session.scalar(select(func.max(RiskScore.scored_at)))
            if latest is not None:
                first_night = latest + timedelta(days=1)
            service.active_scorer(db.session)  # load the model (once per process)
            parts = _timed(service)
            took = {}
            for night, at in (
                ("first night", first_night),
                ("next night", first_night + timedelta(days=1)),
                ("30th night", first_night + timedelta(days=29)),
            ):
                if night == "30th night":
                    t = time.perf_counter()
                    copied = _copy_nights(db.session, first_night + timedelta(days=1), 27)
                    print(f"(nights 3-29: {copied:,} scores copied in "
                          f"{time.perf_counter() - t:.0f} s)")  # fmt: skip
                parts.clear()
                t = time.perf_counter()
                result = service.score_all(db.session, now=at)
                db.session.commit()
                took[night] = time.perf_counter() - t
                print(
                    f"{night}: {result.scored} active persons (of {generated}) scored in "
                    f"{took[night]:.1f} s = {result.scored / took[night]:,.0f} persons/s; high "
                    f"{result.high}, entered high {result.entered_high}, alerts "
                    f"{result.alerts}, flags proposed {result.flags_proposed}"
                )
                print("    " + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()))
            scores = db.session.scalar(select(func.count()).select_from(RiskScore))
            worst = max(took.values())
            print(f"scores table: {scores:,} rows")
            print(f"target: {active} active persons in <= 20 s every night (worst "
                  f"{worst:.1f} s): {'PASS' if worst <= 20 else 'FAIL'}")  # fmt: skip
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep:
            subprocess.run([*psql, f"DROP DATABASE IF EXISTS {db_name}"], check=False)


def _timed(service) -> dict[str, float]:
    """Where the night's time goes: the feature query, the prediction with its reasons, and
    the rest (storing, alerts, flags), by wrapping the functions score_all calls."""
    from corrections.risk import features
    from corrections.risk.scorer import Scorer

    parts: dict[str, float] = {}

    def wrap(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                parts[label] = parts.get(label, 0.0) + time.perf_counter() - t

        setattr(owner, name, timed)

    wrap(features, "compute", "features")
    wrap(Scorer, "probability", "predict_proba calls (reasons' too)")
    wrap(Scorer, "reasons", "reasons (incl. their predictions)")
    return parts


def _copy_nights(session, source, nights: int) -> int:
    """Nights after ``source``: its scores again, a day later each (in SQL)."""
    from sqlalchemy import text

    n = session.execute(
        text(
            "INSERT INTO risk_scores (person_id, scored_at, model_version, probability, band, "
            "reasons) SELECT person_id, scored_at + make_interval(days => d), model_version, "
            "probability, band, reasons FROM risk_scores, generate_series(1, :n) d "
            "WHERE scored_at = :at"
        ),
        {"n": nights, "at": source},
    ).rowcount
    session.commit()
    session.execute(text("ANALYZE risk_scores"))
    session.commit()
    return n


if __name__ == "__main__":
    main()
