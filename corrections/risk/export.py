"""Pseudonymised training snapshots: features as of each snapshot day, and the label.

A row is one person active at the start of a snapshot day ``T`` (Asia/Shanghai): a keyed hash
instead of the person id (``subject``), the snapshot month, the features, the group columns
and the label (lost contact in the 90 days after ``T``). No name, ID number, phone, address,
date of birth, office or exact date. Snapshot days whose 90-day horizon is not over yet are
skipped: their label is not known.

Re-identification (issue 12, finding 8: 263 of 311 rows of an export were joined back to
persons by birth date, gender, district and term dates). Against that:

- **Export id.** Every export gets a random id (in the audit row, the CLI's sidecar file and
  the API's headers); ``subject`` is HMAC-SHA256(key, export id + person id + snapshot day):
  every row has its own, so a person's rows cannot be strung into a sequence (which singled
  out most persons when a person kept one subject per export), and two exports cannot be
  joined on it. Training drops it.
- **Quasi-identifiers** (:data:`QUASI_IDENTIFIERS`): what a judgment, a register or a news
  item tells about a person, generalised: age as a band (``age_band`` and ``juvenile``, the
  feature's bands), ``gender``, ``district``, ``category``, the snapshot day as its month
  (``as_of``, ``2026-05``), and the term: its length and the days served and remaining (with
  the month they give the term's start and end) as bands (:data:`TERM_BANDS`), written as the
  middle of the band in days so that the columns stay numeric and the service's exact days
  still score with a model trained on them.
- **k-anonymity.** Every row's quasi-identifier combination is shared by at least ``min_k``
  distinct persons (``RISK_EXPORT_MIN_K``, 5 by default; at least 2). Rows in smaller classes
  first lose the term columns (left blank, a missing value to the training), then, if still
  in a class under ``min_k``, are dropped and counted; an export that would drop more than
  half its rows is refused. The result reports the ``k`` achieved (the smallest class, in
  persons), the quasi-identifiers, rows exported, suppressed and generalised.

Not quasi-identifiers, kept as computed: crime type and intake risk (categories many persons
share), grade and supervision behaviour (counts and days since, relative to the snapshot):
what the model learns from, not known outside the service.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from corrections.core.clock import start_of_business_day
from corrections.core.errors import RuleViolation
from corrections.core.i18n import _
from corrections.risk import features

SUBJECT = "subject"
AS_OF = "as_of"
# The default smallest class (distinct persons); RISK_EXPORT_MIN_K configures the service's.
MIN_K = 5
# Term columns in the export, as bands [edge, next edge) in days: a row shows its band's
# middle. Terms of community corrections are at most five years; longer values fall in the
# last band. Coarse on purpose: with the snapshot month they locate the term's start and end.
TERM_BANDS: dict[str, tuple[int, ...]] = {
    "term_days": (0, 400, 1200, 1830),  # up to a year, one to three years, over three
    "served_days": (0, 180, 365, 1830),  # first half-year, rest of the first year, later
    "remaining_days": (0, 180, 365, 1830),
}
QUASI_IDENTIFIERS: tuple[str, ...] = (
    AS_OF,
    "age_band",
    "juvenile",
    "gender",
    "district",
    "category",
    *TERM_BANDS,
)
# Left blank, in this order, on rows whose class is smaller than k, before a row is dropped.
WITHHELD_STEPS: tuple[tuple[str, ...], ...] = (tuple(TERM_BANDS),)


def pseudonym_key(secret_key: str, configured: str | None = None) -> bytes:
    """The export's hash key: configured (``RISK_EXPORT_KEY``), or derived from the app's
    secret key, so it never appears in an export and differs from every other use of it."""
    if configured:
        return configured.encode()
    return hmac.new(secret_key.encode(), b"corrections/risk-export/v1", hashlib.sha256).digest()


def new_export_id() -> str:
    return secrets.token_hex(8)


def subject(key: bytes, export_id: str, person_id: int, day: str) -> str:
    """A row's pseudonym: keyed by the export and the snapshot day, so no two rows share one
    (a person's rows cannot be strung together into a sequence that singles them out, nor
    counted to find the day they became active) and no two exports can be joined."""
    message = f"{export_id}:{person_id}:{day}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:24]


@dataclass
class ExportResult:
    rows: int
    positives: int
    snapshots: list[date]
    skipped: list[date]
    export_id: str = ""
    min_k: int = MIN_K
    k: int | None = None  # the smallest class in distinct persons (None: no rows)
    quasi_identifiers: tuple[str, ...] = QUASI_IDENTIFIERS
    rows_suppressed: int = 0
    rows_generalised: int = 0  # exported with the term columns blank

    def privacy(self) -> dict[str, Any]:
        """What the export says about its anonymity (audit row, sidecar, API headers)."""
        return {
            "export_id": self.export_id,
            "k": self.k,
            "min_k": self.min_k,
            "quasi_identifiers": list(self.quasi_identifiers),
            "rows": self.rows,
            "rows_suppressed": self.rows_suppressed,
            "rows_generalised": self.rows_generalised,
        }


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
    enrich: Callable[[Session, pd.DataFrame, date], None] | None = None,
    export_id: str | None = None,
    min_k: int = MIN_K,
) -> tuple[pd.DataFrame, ExportResult]:
    """The snapshot table, generalised and k-anonymous (see the module's docstring); raises
    :class:`RuleViolation` (field ``min_k``) when more than half the rows would be dropped.
    ``enrich(session, frame, day)`` may add columns to each snapshot's frame before it is
    generalised (the demo's evaluation adds the generator's true probability with
    ``corrections.demo.history.add_true_probability``: never a feature for training)."""
    export_id = export_id or new_export_id()
    table, done, skipped = matured_snapshots(
        session,
        start=start,
        end=end,
        every_days=every_days,
        now=now,
        progress=progress,
        enrich=enrich,
    )
    table.insert(
        0,
        SUBJECT,
        [
            subject(key, export_id, int(p), d)
            for p, d in zip(table["person_id"], table[AS_OF], strict=True)
        ],
    )
    table, anonymity = anonymise(generalise(table), min_k)
    table = table.drop(columns=["person_id"])
    result = ExportResult(
        rows=len(table),
        positives=int(table[features.LABEL].sum()) if len(table) else 0,
        snapshots=done,
        skipped=skipped,
        export_id=export_id,
        min_k=min_k,
        **anonymity,
    )
    return table, result


def matured_snapshots(
    session: Session,
    *,
    start: date,
    end: date,
    every_days: int,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    enrich: Callable[[Session, pd.DataFrame, date], None] | None = None,
) -> tuple[pd.DataFrame, list[date], list[date]]:
    """The snapshots as computed, before pseudonyms and generalisation: per snapshot day
    whose 90-day horizon is over, every person active at its start, with ``person_id``,
    ``as_of`` (the day), the features, the group columns and the label; the days done and
    the days skipped (horizon open). Person ids and exact values: for :func:`build`, and for
    comparing models in memory (compare.py), never to be written as they are."""
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
        if enrich is not None:
            enrich(session, frame, day)
        frame.insert(1, AS_OF, day.isoformat())
        frames.append(frame)
        done.append(day)
        if progress:
            progress(1)
    columns = ["person_id", AS_OF, *(f.name for f in features.FEATURES), *features.GROUP_COLUMNS]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if features.LABEL not in table:
        table[features.LABEL] = pd.Series(dtype="int64")
    return table, done, skipped


def _band_middles(values: pd.Series, edges: tuple[int, ...]) -> pd.Series:
    edge = np.asarray(edges, dtype="float64")
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    i = np.clip(np.searchsorted(edge, x, side="right") - 1, 0, len(edge) - 2)
    middle = (edge[i] + edge[i + 1]) / 2
    return pd.Series(np.where(np.isnan(x), np.nan, middle), index=values.index)


def generalise(table: pd.DataFrame) -> pd.DataFrame:
    """Snapshot day to its month, the term columns to their bands' middles (days)."""
    out = table.copy()
    out[AS_OF] = out[AS_OF].astype(str).str[:7]
    for column, edges in TERM_BANDS.items():
        out[column] = _band_middles(out[column], edges)
    return out


def class_sizes(table: pd.DataFrame, *, person: str = "person_id") -> pd.Series:
    """For each row, how many distinct persons share its quasi-identifiers (a blank is a
    value of its own: it matches nobody's real value)."""
    if table.empty:
        return pd.Series(dtype="int64", index=table.index)
    keys = [table[c].astype("string").fillna("(blank)") for c in QUASI_IDENTIFIERS]
    return table.groupby(keys)[person].transform("nunique").astype("int64")


def anonymise(
    table: pd.DataFrame, min_k: int, *, person: str = "person_id"
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows in classes of fewer than ``min_k`` persons lose the columns of
    :data:`WITHHELD_STEPS` in turn (each step's rows form their own classes), then are dropped.
    Raises :class:`RuleViolation` on ``min_k`` when more than half the rows would go."""
    if min_k < 2:
        raise RuleViolation(_("must be at least 2"), field="min_k")
    out = table.copy()
    pending = pd.Series(True, index=out.index)
    blanked = pd.Series(False, index=out.index)
    for step, columns in enumerate(((), *WITHHELD_STEPS)):
        if step:
            out.loc[pending, list(columns)] = np.nan
            blanked |= pending
        sizes = class_sizes(out[pending], person=person)
        pending[sizes.index[sizes >= min_k]] = False
    suppressed = int(pending.sum())
    if suppressed and suppressed * 2 > len(out):
        raise RuleViolation(
            _(
                "{suppressed} of {rows} rows are in classes of fewer than {min_k} persons: "
                "export a longer span or more districts, or lower min_k",
                suppressed=suppressed,
                rows=len(out),
                min_k=min_k,
            ),
            field="min_k",
        )
    kept = out[~pending]
    sizes = class_sizes(kept, person=person)
    return kept.reset_index(drop=True), {
        "k": int(sizes.min()) if len(sizes) else None,
        "rows_suppressed": suppressed,
        "rows_generalised": int((blanked & ~pending).sum()),
    }


def audited(
    session: Session,
    *,
    actor,
    start: date,
    end: date,
    every_days: int,
    now: datetime,
    note: str,
    min_k: int | None = None,
    progress: Callable[[int], None] | None = None,
    **detail,
) -> tuple[pd.DataFrame, ExportResult]:
    """The export for a user or an operator: the configured pseudonym key and smallest class
    (``RISK_EXPORT_MIN_K`` unless ``min_k``), a new export id, and an audit row
    (``risk.export``) with what was asked for and what came out."""
    from flask import current_app

    from corrections.audit import service as audit

    key = pseudonym_key(current_app.config["SECRET_KEY"], current_app.config["RISK_EXPORT_KEY"])
    floor = current_app.config["RISK_EXPORT_MIN_K"]
    if min_k is not None and min_k < floor:
        # A caller may ask for more anonymity, never for less than the bureau set.
        raise RuleViolation(
            _("must be at least {floor} (RISK_EXPORT_MIN_K)", floor=floor), field="min_k"
        )
    table, result = build(
        session,
        start=start,
        end=end,
        every_days=every_days,
        key=key,
        now=now,
        progress=progress,
        min_k=floor if min_k is None else min_k,
    )
    audit.record(
        session,
        actor=actor,
        action="risk.export",
        detail={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "every_days": every_days,
            "snapshots": len(result.snapshots),
            "skipped_open_horizon": len(result.skipped),
            "note": note,
            **result.privacy(),
            **detail,
        },
        now=now,
    )
    return table, result


def write(table: pd.DataFrame, out: Path) -> None:
    """CSV or Parquet, by the file's suffix."""
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        table.to_parquet(out, index=False)
    elif suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        raise ValueError(f"unsupported export format {suffix!r}: use .csv or .parquet")


def sidecar_path(out: Path) -> Path:
    """Where the CLI writes an export's description: ``snapshots.export.json``."""
    return out.with_name(f"{out.stem}.export.json")


def write_sidecar(result: ExportResult, out: Path, *, start: date, end: date, now: datetime):
    """The export id, its anonymity and its span beside the table (no key, no person)."""
    data = {
        **result.privacy(),
        "table": out.name,
        "created_at": now.isoformat(timespec="seconds"),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "snapshots": [d.isoformat() for d in result.snapshots],
        "positives": result.positives,
    }
    path = sidecar_path(out)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def read_table(path: Path) -> pd.DataFrame:
    """Read a training or prediction table (CSV or Parquet)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path, low_memory=False)
    raise ValueError(f"unsupported table format {suffix!r}: use .csv or .parquet")
