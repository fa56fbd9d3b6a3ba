"""Champion and challenger on the same data (issue 19, point 3).

A model card's hold-out figures were measured on the data the model was trained on: two cards
are two different tests. An analyst's model trained on the 300-person demo export replaced
the shipped model (fitted on 90,000 rows) because its card's AUC looked as good. So the
service compares two models on the same rows: the recent snapshots of its own database whose
90-day outcomes are known (:func:`snapshot`, the export's snapshots before pseudonyms and
generalisation, with the exact values the nightly scoring uses), both models scored on them,
AUC, Brier, calibration and the per-group figures side by side.

Intervals are a paired bootstrap over persons: each resample draws persons with replacement
(a person's snapshot rows go together: they are not independent), and both models are
measured on the same resample, so the interval of the difference is the difference's own.
The rule (:func:`worse`): the challenger is worse when the 95% interval of its AUC minus the
champion's lies below zero, or the interval of its Brier score minus the champion's lies
above zero. A difference the interval spans is no reason to refuse.

The snapshot holds person ids (the bootstrap resamples persons) and stays in memory: nothing
of it is written; the result holds counts and figures only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from corrections.core.clock import business_date
from corrections.core.errors import Conflict
from corrections.core.i18n import Message, _, cli_column, cli_render
from corrections.risk import export, features, report
from corrections.risk.artifact import Loaded
from corrections.risk.scorer import Scorer

DAYS_PER_MONTH = 30
SEED = 0  # fixed: the same data and models give the same intervals and the same verdict


class Refused(Conflict):
    """An activation refused; ``comparison`` (:func:`compare`'s result, or None when there
    was none) for the figures the command prints."""

    def __init__(self, detail, *, comparison: dict[str, Any] | None = None, **kwargs):
        super().__init__(detail, **kwargs)
        self.comparison = comparison


@dataclass
class Snapshot:
    frame: pd.DataFrame  # features, group columns and the label; no person id
    persons: np.ndarray  # each row's person as 0..n-1, for the bootstrap (in memory only)
    days: list[date]
    every_days: int
    not_before: date | None = None  # days before it left out: a model was fitted on them

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def positives(self) -> int:
        return int(self.frame[features.LABEL].sum()) if len(self.frame) else 0

    def describe(self) -> dict[str, Any]:
        return {
            "from": self.days[0].isoformat() if self.days else None,
            "to": self.days[-1].isoformat() if self.days else None,
            "days": len(self.days),
            "every_days": self.every_days,
            "rows": self.rows,
            "positives": self.positives,
            "persons": int(self.persons.max()) + 1 if len(self.persons) else 0,
            "not_before": self.not_before.isoformat() if self.not_before else None,
        }


def window(now: datetime, *, months: int, every_days: int) -> tuple[date, date]:
    """The snapshot days compared on: the last one 90 days before ``now``'s business day (its
    outcomes are known), the first ``months`` earlier, ``every_days`` apart."""
    end = business_date(now) - timedelta(days=features.HORIZON_DAYS)
    steps = max(0, months * DAYS_PER_MONTH // every_days)
    return end - timedelta(days=steps * every_days), end


def fitted_before(card: dict[str, Any]) -> date | None:
    """The first day of the model's hold-out part, when its training table was split by the
    snapshot day (``--time-column as_of``): it was fitted on the snapshots before that day.
    None when the card does not say (split at random: fitted on rows of any day)."""
    data = card.get("data") or {}
    split = str(data.get("split") or "")
    if data.get("time_column") != export.AS_OF or not split.startswith("time >= "):
        return None
    text = split.removeprefix("time >= ").strip()
    try:  # a day (2026-05-27), or the month of a generalised export (2026-05)
        return date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError:
        return None


def snapshot(
    session: Session,
    *,
    now: datetime,
    months: int,
    every_days: int,
    not_before: date | None = None,
    progress=None,
) -> Snapshot:
    """The recent matured snapshots of this database (:func:`window`) from ``not_before``
    on, in memory."""
    start, end = window(now, months=months, every_days=every_days)
    if not_before is not None and not_before > start:
        skip = -(-(not_before - start).days // every_days)  # whole steps, rounded up
        start += timedelta(days=skip * every_days)
    table, done, _skipped = export.matured_snapshots(
        session, start=start, end=end, every_days=every_days, now=now, progress=progress
    )
    persons = pd.factorize(table["person_id"])[0] if len(table) else np.zeros(0, dtype=int)
    frame = table.drop(columns=["person_id"]).reset_index(drop=True)
    frame[features.LABEL] = frame[features.LABEL].astype(int)
    return Snapshot(
        frame=frame,
        persons=np.asarray(persons),
        days=done,
        every_days=every_days,
        not_before=not_before,
    )


def unusable(snap: Snapshot, min_positives: int) -> Message | None:
    """Why ``snap`` cannot decide between two models (too few outcomes of either kind), or
    None."""
    positives = snap.positives
    negatives = snap.rows - positives
    if positives >= min_positives and negatives >= min_positives:
        return None
    if not snap.days:
        return _(
            "no comparison: this database has no matured snapshot day after {day}, the "
            "first day neither model was fitted on",
            day=snap.not_before.isoformat() if snap.not_before else "-",
        )
    return _(
        "no comparison: the matured snapshots of this database ({start} to {end}) hold "
        "{positives} rows of persons who lost contact and {negatives} of persons who did "
        "not; a comparison needs {minimum} of each (RISK_COMPARE_MIN_POSITIVES)",
        start=snap.days[0].isoformat(),
        end=snap.days[-1].isoformat(),
        positives=positives,
        negatives=negatives,
        minimum=min_positives,
    )


def training_rows(card: dict[str, Any]) -> int | None:
    """The rows the model was fitted on, as its card says (the hold-out part excluded)."""
    data = card.get("data") or {}
    rows = data.get("rows_train", data.get("rows"))
    return int(rows) if isinstance(rows, int | float) else None


def _probabilities(loaded: Loaded, frame: pd.DataFrame) -> np.ndarray:
    scorer = Scorer(loaded)
    return np.asarray(scorer.probability(scorer.prepare(frame)), dtype="float64")


def _weighted_auc(levels: np.ndarray, count: int, y: np.ndarray, w: np.ndarray) -> float:
    """AUC with row weights (a bootstrap resample's counts): the weighted share of
    (positive, negative) pairs ranked right, ties half. ``levels``: each row's rank among the
    distinct scores (computed once per model, so a resample costs two bincounts)."""
    pos = np.bincount(levels, weights=w * y, minlength=count)
    neg = np.bincount(levels, weights=w * (1 - y), minlength=count)
    below = np.cumsum(neg) - neg
    total = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / total) if total else float("nan")


def _interval(draws: np.ndarray) -> list[float]:
    tail = (1 - report.INTERVAL) / 2 * 100
    draws = draws[~np.isnan(draws)]
    return [float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))]


def compare(
    snap: Snapshot,
    champion: Loaded,
    challenger: Loaded,
    *,
    resamples: int,
    min_group_count: int,
    seed: int = SEED,
) -> dict[str, Any]:
    """Both models on ``snap``: per model AUC and Brier with intervals, calibration (slope,
    intercept, expected calibration error) and the per-group report at its own alert
    threshold (report.py); the differences (challenger minus champion) with paired
    intervals; the verdict's reasons (:func:`worse`)."""
    y = snap.frame[features.LABEL].to_numpy(dtype="int64")
    models = {"champion": champion, "challenger": challenger}
    p = {role: _probabilities(m, snap.frame) for role, m in models.items()}
    levels = {}
    for role, probs in p.items():
        _unique, inverse = np.unique(probs, return_inverse=True)
        levels[role] = (inverse, len(_unique))
    rng = np.random.default_rng(seed)
    n_persons = int(snap.persons.max()) + 1
    draws = {role: {"auc": np.empty(resamples), "brier": np.empty(resamples)} for role in p}
    for b in range(resamples):
        counts = np.bincount(rng.integers(0, n_persons, n_persons), minlength=n_persons)
        w = counts[snap.persons].astype("float64")
        for role, probs in p.items():
            inverse, count = levels[role]
            draws[role]["auc"][b] = _weighted_auc(inverse, count, y, w)
            draws[role]["brier"][b] = float((w * (probs - y) ** 2).sum() / w.sum())
    out: dict[str, Any] = {
        "snapshot": {
            **snap.describe(),
            "fitted_period_unknown": [
                m.version for m in models.values() if fitted_before(m.card) is None
            ],
        },
        "interval": f"{report.INTERVAL:.0%} paired bootstrap over persons, {resamples} resamples",
        "resamples": resamples,
        "models": {},
        "difference": {},
        "groups": {},
    }
    for role, loaded in models.items():
        figures = report.metrics(y, p[role])
        calibration = report.calibration(y, p[role])
        out["models"][role] = {
            "version": loaded.version,
            "rows_train": training_rows(loaded.card),
            "auc": figures["auc"],
            "auc_interval": _interval(draws[role]["auc"]),
            "brier": figures["brier"],
            "brier_interval": _interval(draws[role]["brier"]),
            "ece": figures["ece"],
            "calibration_slope": calibration["slope"],
            "calibration_intercept": calibration["intercept"],
            "calibration_warning": calibration["warning"],
            "card_auc": (loaded.card.get("metrics") or {}).get("auc"),
        }
    for key in ("auc", "brier"):
        models_out = out["models"]
        out["difference"][key] = {
            "value": models_out["challenger"][key] - models_out["champion"][key],
            "interval": _interval(draws["challenger"][key] - draws["champion"][key]),
        }
    for column in features.GROUP_COLUMNS:
        values = snap.frame[column].astype("string").fillna("(blank)").to_numpy()
        out["groups"][column] = {
            role: report.group_report(
                values,
                y,
                p[role],
                float(models[role].card["alert_threshold"]),
                min_count=min_group_count,
                seed=seed,
            )
            for role in models
        }
    out["verdict"] = {"worse": [str(m) for m in worse(out)]}
    return out


def worse(result: dict[str, Any]) -> list[Message]:
    """Where the challenger is worse than the champion beyond the interval: AUC (the
    difference's interval below zero) and Brier (above zero). Empty: not shown worse."""
    found = []
    models, diff = result["models"], result["difference"]
    low, high = diff["auc"]["interval"]
    if high < 0:
        found.append(
            _(
                "AUC {challenger:.4f} against the active model's {champion:.4f} on the same "
                "data: worse beyond the interval (difference {difference:+.4f}, interval "
                "[{low:+.4f}, {high:+.4f}])",
                challenger=models["challenger"]["auc"],
                champion=models["champion"]["auc"],
                difference=diff["auc"]["value"],
                low=low,
                high=high,
            )
        )
    low, high = diff["brier"]["interval"]
    if low > 0:
        found.append(
            _(
                "Brier score {challenger:.4f} against the active model's {champion:.4f} on "
                "the same data: worse beyond the interval (difference {difference:+.4f}, "
                "interval [{low:+.4f}, {high:+.4f}])",
                challenger=models["challenger"]["brier"],
                champion=models["champion"]["brier"],
                difference=diff["brier"]["value"],
                low=low,
                high=high,
            )
        )
    return found


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The comparison for the audit row: the snapshot's counts, each model's figures, the
    differences, the largest per-group gaps and the verdict (no person, no row)."""
    return {
        "snapshot": result["snapshot"],
        "interval": result["interval"],
        "models": {
            role: {k: v for k, v in m.items() if k != "calibration_warning"}
            for role, m in result["models"].items()
        },
        "difference": result["difference"],
        "largest_gaps": {
            column: {role: rep["largest_gaps"] for role, rep in reports.items()}
            for column, reports in result["groups"].items()
        },
        "verdict": result["verdict"],
    }


# --- the side-by-side table ---------------------------------------------------------------

LABEL_WIDTH = 28
COLUMN_WIDTH = 28


def _ci(value: float | None, interval: list[float] | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    fmt = "{:+.4f}" if signed else "{:.4f}"
    text = fmt.format(value)
    if interval:
        text += f" [{fmt.format(interval[0])}, {fmt.format(interval[1])}]"
    return text


def _columns(text: str) -> int:
    """Columns ``text`` takes at a terminal (a Chinese character two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _line(label: Any, *cells: str, width: int = COLUMN_WIDTH) -> str:
    text = cli_column(cli_render(label), LABEL_WIDTH)
    return (text + "".join(cli_column(c, width) for c in cells)).rstrip()


def render(result: dict[str, Any]) -> str:
    """The comparison side by side, in the operator's language: the snapshot, then per
    figure the champion, the challenger and the difference with their intervals, the
    calibration, each group's AUC, and the verdict."""
    snap, models, diff = result["snapshot"], result["models"], result["difference"]
    champion, challenger = models["champion"], models["challenger"]
    interval = _(
        "{level} paired bootstrap over persons, {resamples} resamples",
        level=f"{report.INTERVAL:.0%}",
        resamples=result.get("resamples", "?"),
    )
    lines = [
        cli_render(
            _(
                "On the same data: {days} snapshot days from {start} to {end} of this "
                "database, {rows} rows of {persons} persons, {positives} lost contact within "
                "90 days; intervals: {interval}",
                days=snap["days"],
                start=snap["from"],
                end=snap["to"],
                rows=snap["rows"],
                persons=snap["persons"],
                positives=snap["positives"],
                interval=interval,
            )
        ),
    ]
    if snap.get("not_before"):
        lines.append(
            cli_render(
                _(
                    "(snapshot days before {day} left out: a model's card says it was fitted "
                    "on them)",
                    day=snap["not_before"],
                )
            )
        )
    for version in snap.get("fitted_period_unknown") or []:
        lines.append(
            cli_render(
                _(
                    "(caution: {version} was not split by snapshot day, so the days it was "
                    "fitted on are not known; if it was trained on this database, its figures "
                    "here flatter it)",
                    version=version,
                )
            )
        )
    heads = [
        cli_render(_("{version} (active)", version=champion["version"])),
        cli_render(_("{version} (candidate)", version=challenger["version"])),
        cli_render(_("difference")),
    ]
    # A long version name widens every column rather than pushing its own out of line.
    width = max(COLUMN_WIDTH, *(_columns(h) + 2 for h in heads))
    lines += [
        _line("", *heads, width=width),
        _line(
            "AUC",
            _ci(champion["auc"], champion["auc_interval"]),
            _ci(challenger["auc"], challenger["auc_interval"]),
            _ci(diff["auc"]["value"], diff["auc"]["interval"], signed=True),
            width=width,
        ),
        _line(
            "Brier",
            _ci(champion["brier"], champion["brier_interval"]),
            _ci(challenger["brier"], challenger["brier_interval"]),
            _ci(diff["brier"]["value"], diff["brier"]["interval"], signed=True),
            width=width,
        ),
    ]
    for label, key in (
        (_("calibration slope"), "calibration_slope"),
        (_("calibration intercept"), "calibration_intercept"),
        (_("expected calibration error"), "ece"),
        (_("hold-out AUC on the card"), "card_auc"),
    ):
        cells = (_ci(champion[key], None), _ci(challenger[key], None))
        lines.append(_line(label, *cells, width=width))
    rows = [
        f"{m['rows_train']:,}" if m["rows_train"] is not None else "–"
        for m in (champion, challenger)
    ]
    lines.append(_line(_("rows fitted on (card)"), *rows, width=width))
    for column, reports in result["groups"].items():
        lines.append(cli_render(_("AUC by {column}", column=column)))
        first = reports["champion"]["groups"]
        for group, entry in first.items():
            label = f"  {group} (n {entry['n']}, +{entry['positives']})"
            if entry["suppressed"]:
                lines.append(_line(label, cli_render(_("too few to report")), width=width))
                continue
            cells = []
            for role in ("champion", "challenger"):
                g = reports[role]["groups"][group]
                cells.append(_ci(g["auc"], (g.get("intervals") or {}).get("auc")))
            lines.append(_line(label, *cells, width=width))
    reasons = worse(result)
    if reasons:
        lines.append(cli_render(_("verdict: the candidate is worse beyond the interval")))
        lines.extend(f"  {cli_render(reason)}" for reason in reasons)
    else:
        lines.append(cli_render(_("verdict: the candidate is not shown worse")))
    return "\n".join(lines)


def settings(config) -> dict[str, int]:
    """The comparison's settings from the app's configuration."""
    return {
        "months": int(config["RISK_COMPARE_MONTHS"]),
        "every_days": int(config["RISK_COMPARE_EVERY_DAYS"]),
        "resamples": int(config["RISK_COMPARE_BOOTSTRAP"]),
        "min_positives": int(config["RISK_COMPARE_MIN_POSITIVES"]),
        "min_group_count": int(config["RISK_CARD_MIN_GROUP_COUNT"]),
    }


def run(
    session: Session, champion: Loaded, challenger: Loaded, *, now: datetime, config, progress=None
) -> tuple[dict[str, Any] | None, Message | None]:
    """Both models on this database's recent matured snapshots: the result, or None and why
    there is none (too few outcomes: a fresh installation)."""
    s = settings(config)
    # Leave out the days either model was fitted on, had it been trained on this database's
    # export: on those its figures flatter it (a model retrained here would always win).
    cuts = [d for d in (fitted_before(m.card) for m in (champion, challenger)) if d]
    snap = snapshot(
        session,
        now=now,
        months=s["months"],
        every_days=s["every_days"],
        not_before=max(cuts) if cuts else None,
        progress=progress,
    )
    why = unusable(snap, s["min_positives"])
    if why is not None:
        return None, why
    result = compare(
        snap,
        champion,
        challenger,
        resamples=s["resamples"],
        min_group_count=s["min_group_count"],
    )
    return result, None
