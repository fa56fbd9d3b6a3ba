"""Pseudonymised training snapshots: features as of each snapshot day, and the label.

A row is one person active at the start of a snapshot day ``T`` (Asia/Shanghai): a keyed hash
instead of the person id (``subject``; the same person has the same subject in every export
made with the same key, so analysts can keep a person's rows in one fold), the as-of day, the
features, the group columns and the label (lost contact in the 90 days after ``T``). No name,
ID number, phone or address. Snapshot days whose 90-day horizon is not over yet are skipped:
their label is not known.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.core.clock import start_of_business_day
from corrections.risk import features

SUBJECT = "subject"
AS_OF = "as_of"


def pseudonym_key(secret_key: str, configured: str | None = None) -> bytes:
    """The export's hash key: configured (``RISK_EXPORT_KEY``), or derived from the app's
    secret key, so it never appears in an export and differs from every other use of it."""
    if configured:
        return configured.encode()
    return hmac.new(secret_key.encode(), b"corrections/risk-export/v1", hashlib.sha256).digest()


def subject(key: bytes, person_id: int) -> str:
    return hmac.new(key, str(person_id).encode(), hashlib.sha256).hexdigest()[:24]


@dataclass
class ExportResult:
    rows: int
    positives: int
    snapshots: list[date]
    skipped: list[date]


def snapshot_days(start: date, end: date, every_days: int) -> list[date]:
    days, d = [], start
    while d <= end:
        days.append(d)
        d += timedelta(days=every_days)
    return days


def build(
    session: Session,
    *,
    start: date,
    end: date,
    every_days: int,
    key: bytes,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    truth: bool = False,
) -> tuple[pd.DataFrame, ExportResult]:
    """The snapshot table. ``truth`` (evaluation of generated data only) adds the generator's
    true probability as ``true_probability``: never pass it to training as a feature."""
    frames, done, skipped = [], [], []
    for day in snapshot_days(start, end, every_days):
        as_of = start_of_business_day(day)
        if as_of + timedelta(days=features.HORIZON_DAYS) > now:
            skipped.append(day)
            if progress:
                progress(1)
            continue
        population = features.active_at(as_of)
        frame = features.compute(session, population, as_of)
        hits = features.positives(session, population, as_of)
        frame[features.LABEL] = frame["person_id"].isin(hits).astype(int)
        if truth:
            frame["true_probability"] = _truth(session, frame["person_id"], day)
        frame.insert(0, AS_OF, day.isoformat())
        frame.insert(0, SUBJECT, [subject(key, int(p)) for p in frame["person_id"]])
        frames.append(frame.drop(columns=["person_id"]))
        done.append(day)
        if progress:
            progress(1)
    columns = [SUBJECT, AS_OF, *(f.name for f in features.FEATURES), *features.GROUP_COLUMNS]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if features.LABEL not in table:
        table[features.LABEL] = pd.Series(dtype="int64")
    result = ExportResult(
        rows=len(table),
        positives=int(table[features.LABEL].sum()) if len(table) else 0,
        snapshots=done,
        skipped=skipped,
    )
    return table, result


def audited(
    session: Session,
    *,
    actor,
    start: date,
    end: date,
    every_days: int,
    now: datetime,
    note: str,
    progress: Callable[[int], None] | None = None,
    **detail,
) -> tuple[pd.DataFrame, ExportResult]:
    """The export for a user or an operator: the configured pseudonym key, and an audit row
    (``risk.export``) with what was asked for and what came out."""
    from flask import current_app

    from corrections.audit import service as audit

    key = pseudonym_key(current_app.config["SECRET_KEY"], current_app.config["RISK_EXPORT_KEY"])
    table, result = build(
        session, start=start, end=end, every_days=every_days, key=key, now=now, progress=progress
    )
    audit.record(
        session,
        actor=actor,
        action="risk.export",
        detail={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "every_days": every_days,
            "rows": result.rows,
            "snapshots": len(result.snapshots),
            "skipped_open_horizon": len(result.skipped),
            "note": note,
            **detail,
        },
        now=now,
    )
    return table, result


def _truth(session: Session, person_ids: pd.Series, day: date) -> list[float]:
    from corrections.demo.history import truth_at
    from corrections.demo.models import DemoTruth
    from corrections.persons.models import Person

    ids = [int(p) for p in person_ids]
    rows = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for truth, term_end in session.execute(
            select(DemoTruth, Person.term_end)
            .join(Person, Person.id == DemoTruth.person_id)
            .where(DemoTruth.person_id.in_(chunk))
        ).all():
            rows[truth.person_id] = truth_at(truth, day, term_end)
    return [rows.get(p, float("nan")) for p in ids]


def write(table: pd.DataFrame, out: Path) -> None:
    """CSV or Parquet, by the file's suffix."""
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        table.to_parquet(out, index=False)
    elif suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        raise ValueError(f"unsupported export format {suffix!r}: use .csv or .parquet")


def read_table(path: Path) -> pd.DataFrame:
    """Read a training or prediction table (CSV or Parquet)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path, low_memory=False)
    raise ValueError(f"unsupported table format {suffix!r}: use .csv or .parquet")
