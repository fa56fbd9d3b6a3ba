"""Caseload import speed: a valid file of ``--rows`` persons (default 5,000) imported as
``corrections persons import`` does it, on the configured database (CORRECTIONS_DATABASE_URL).

The rows are the demo generator's persons (``corrections.demo.generator``: valid ID numbers
with their check digits, terms the law allows), about four in five already under supervision
with a grade, the day they reported and their last report, check and visit carried over. The
import is timed from reading the file to the last row flushed (and the commit, with
``--commit``); without ``--commit`` it is rolled back, so the database keeps nothing. A database
without units gets the demo city's for the run (rolled back too).

    python bench/import_caseload.py [--rows 5000] [--format csv|xlsx] [--seed 16] [--commit]
    python bench/import_caseload.py --rows 5000 --write caseload.csv    # only the file

Target (issue 16): 5,000 rows in under a minute on PostgreSQL.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def generate(rows: int, seed: int, today, office_codes: list[str]) -> list[dict]:
    """``rows`` valid, distinct persons (the demo's), each at one of ``office_codes``."""
    from corrections.core.clock import add_months
    from corrections.demo import generator
    from corrections.grading import rules as grading_rules
    from corrections.persons.service import validate_facts

    rng = random.Random(seed)
    demo_offices = [
        f"{code}{i:02d}"
        for _slug, code, _name, offices in generator.DISTRICTS
        for i in range(1, len(offices) + 1)
    ]
    grades = [g.label_zh for g in grading_rules.current().grades]
    out, used, seq = [], set(), 0
    while len(out) < rows:
        seq += 1
        facts = generator._random_person(rng, today, demo_offices, seq)
        office = facts.pop("_office")
        if facts["id_number"] in used or facts["term_end"] <= today:
            continue
        check = dict(facts)
        errors, _juvenile = validate_facts(check, today)
        if errors:
            continue
        used.add(facts["id_number"])
        row = dict(facts)
        row["office_code"] = office if office in office_codes else rng.choice(office_codes)
        reported = min(row["judgment_effective_date"] + timedelta(days=rng.randint(1, 8)), today)
        if rng.random() < 0.8 and reported <= today and reported <= row["term_end"]:
            row["reported_on"] = reported
            row["grade"] = rng.choice(grades)
            row["grade_since"] = min(add_months(reported, 2), today)
            for column, spread in (
                ("last_report_on", 30),
                ("last_check_on", 7),
                ("last_visit_on", 60),
            ):
                row[column] = max(today - timedelta(days=rng.randint(0, spread)), reported)
        out.append(row)
    return out


def write(path: Path, rows: list[dict], fmt: str) -> None:
    from corrections.persons import importer

    headers = [c.header_zh for c in importer.spec().columns]
    fields = [c.field for c in importer.spec().columns]

    def cell(value):
        if isinstance(value, bool):
            return "是" if value else "否"
        return "" if value is None else value

    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(headers)
            for row in rows:
                writer.writerow([cell(row.get(f)) for f in fields])
        return
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(importer.SHEET)
    sheet.append(headers)
    for row in rows:
        sheet.append([cell(row.get(f)) for f in fields])
    book.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--commit", action="store_true", help="Keep the imported persons")
    ap.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="Only write the generated file (for the offices in the database) and stop",
    )
    args = ap.parse_args()

    from sqlalchemy import select

    from corrections import create_app
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import business_date, now_utc
    from corrections.core.db import db
    from corrections.org.models import Unit, UnitKind
    from corrections.persons import importer
    from corrections.supervision import caseload

    app = create_app()
    with app.app_context():
        session = db.session
        url = session.get_bind().url
        offices = session.scalars(select(Unit.code).where(Unit.kind == UnitKind.OFFICE)).all()
        if not offices:
            from corrections.demo.generator import build_units_and_users

            build_units_and_users(session, password=app.config["DEMO_PASSWORD"])
            session.flush()
            offices = session.scalars(select(Unit.code).where(Unit.kind == UnitKind.OFFICE)).all()
        now = now_utc()
        t0 = time.perf_counter()
        rows = generate(args.rows, args.seed, business_date(now), sorted(offices))
        if args.write:
            write(args.write, rows, args.format)
            session.rollback()
            print(f"wrote {len(rows)} rows to {args.write}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"caseload.{args.format}"
            write(path, rows, args.format)
            size = path.stat().st_size
            print(
                f"generated {len(rows)} rows ({args.format}, {size / 1024:.0f} KiB) in "
                f"{time.perf_counter() - t0:.1f} s; database {url.get_backend_name()}"
            )
            started = time.perf_counter()
            table = importer.read(path)
            read_done = time.perf_counter()
        outcome = caseload.import_caseload(session, actor=cli_actor("bench"), table=table, now=now)
        session.flush()
        stored = time.perf_counter()
        if args.commit and outcome.stored:
            session.commit()
        else:
            session.rollback()
        ended = time.perf_counter()
        if outcome.problems:
            for p in outcome.problems[:20]:
                print(f"  row {p.row} {p.column}: {p.zh} ({p.en})")
            sys.exit(f"{outcome.bad_rows} rows refused; nothing imported")
        total = (ended if args.commit else stored) - started
        print(
            f"imported {outcome.created} persons ({outcome.active} active, {outcome.graded} "
            f"graded, {outcome.unchanged} rows unchanged) of {outcome.rows} rows: read "
            f"{read_done - started:.2f} s, checked and "
            f"stored {stored - read_done:.2f} s"
            + (f", committed {ended - stored:.2f} s" if args.commit else " (rolled back)")
        )
        print(f"total {total:.2f} s, {outcome.rows / total:.0f} rows/s")


if __name__ == "__main__":
    main()
