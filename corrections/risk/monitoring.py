"""Live monitoring of the risk model (模型监测): once a month, how the active model did on the
service's own outcomes, and whether what it scores has drifted.

- **Decay.** The window is the calendar month (Asia/Shanghai) four months before the run's:
  the newest whole month whose scores' 90-day windows have all closed by the 1st (the last
  day of a month is at least 90 days before the 1st four months on, exactly 90 for 31 January
  in a common year: the night's scoring at 02:00 is then closed by the job at 04:00). Every
  score of the active model made in it and 90 days past (``scored_at <= now - 90 days``) is one
  prediction; its outcome is the training label, :func:`features.positives` (lost contact in
  ``(scored_at, scored_at + 90 days]``), asked once per scoring run. Realised AUC, Brier and
  calibration (slope, intercept and the reliability bins of :func:`report.calibration`) are
  compared with the card's hold-out AUC and Brier.
- **Drift.** The population stability index (:func:`psi`) of every feature of the card and
  of the score, between the latest scoring run and the reference. The cards hold no
  distribution of their training data, so the reference is the model's first scoring run
  here (the first run of its first scored month): its persons' features recomputed as of
  that run (the features are point-in-time, so this is what the model saw), cut into bins
  (:func:`reference_bins`) and kept on the first monitoring row of the model, which later
  rows reuse.

Crossing a threshold of ``rules/risk.yaml`` ``monitoring`` raises one ``model_drift`` alert:
a system alert (no person) that the analysts and the city see. A month is checked once per
model (a re-run of the month does nothing). Only figures are stored: no person id leaves
this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corrections.alerts import service as alerts
from corrections.alerts.models import LIVE_STATUSES, Alert
from corrections.audit import service as audit
from corrections.core.auth import Actor
from corrections.core.clock import add_months, business_date, start_of_business_day
from corrections.risk import features, report
from corrections.risk import rules as risk_rules
from corrections.risk.models import RiskModel, RiskMonitoring, RiskScore

log = logging.getLogger(__name__)

ALERT_KIND = "model_drift"
# The alert's cause: the model check itself (one live alert at a time, whatever the month).
SUBJECT_TYPE, SUBJECT_ID = "risk_model", 0
# How many months back the window is: the newest whole month matured by the 1st.
LAG_MONTHS = 4
PSI_BINS = 10
# A bin empty on one side counts as this share (the PSI of an empty bin is otherwise infinite).
EPSILON = 1e-4
MISSING = "(missing)"
OTHER = "(other)"


# --- population stability ----------------------------------------------------------------


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins (shares summing to
    1): sum of (actual - expected) * ln(actual / expected), a share of 0 counted as
    :data:`EPSILON`."""
    e = np.clip(np.asarray(expected, dtype="float64"), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype="float64"), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def reference_bins(values: pd.Series, kind: str) -> dict[str, Any]:
    """Bins of a reference distribution and its shares: a numeric column by its deciles
    (distinct edges; bins ``(-inf, e1], (e1, e2], ..., (ek, inf)``), a categorical one by
    its values and one bin for values it never had; both with a bin for missing values."""
    if kind == "numeric":
        x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype="float64")
        quantiles = np.linspace(0, 1, PSI_BINS + 1)[1:-1]
        edges = sorted({float(v) for v in np.quantile(x, quantiles)}) if len(x) else []
        bins: dict[str, Any] = {"kind": "numeric", "edges": edges}
    else:
        seen = values.dropna().astype(str)
        bins = {"kind": "categorical", "categories": sorted(seen.unique().tolist())}
    bins["shares"] = shares(values, bins)
    return bins


def shares(values: pd.Series, bins: Mapping[str, Any]) -> list[float]:
    """The share of ``values`` in each bin of ``bins`` (the last bin: missing values)."""
    n = len(values)
    if n == 0:
        return []
    missing = values.isna().to_numpy()
    if bins["kind"] == "numeric":
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
        missing = np.isnan(x)
        which = np.searchsorted(np.asarray(bins["edges"], dtype="float64"), x[~missing])
        counts = np.bincount(which, minlength=len(bins["edges"]) + 1)
    else:
        index = {c: i for i, c in enumerate(bins["categories"])}
        other = len(index)
        which = [index.get(v, other) for v in values[~missing].astype(str)]
        counts = np.bincount(np.asarray(which, dtype="int64"), minlength=other + 1)
    return [float(c) / n for c in [*counts.tolist(), int(missing.sum())]]


# --- the monthly check ---------------------------------------------------------------------


@dataclass
class MonitoringResult:
    month: str
    model: str | None
    done: bool = False  # this month was checked before: nothing done
    scores: int = 0
    positives: int = 0
    auc: float | None = None
    status: str | None = None
    alert_raised: bool = False

    def counts(self) -> dict[str, Any]:
        return self.__dict__.copy()


def window(now: datetime) -> tuple[datetime, datetime]:
    """The scores a run at ``now`` checks: made in the calendar month :data:`LAG_MONTHS`
    before the run's (Asia/Shanghai), as [start, end)."""
    start = add_months(business_date(now).replace(day=1), -LAG_MONTHS)
    return start_of_business_day(start), start_of_business_day(add_months(start, 1))


def _run_persons(model: str, at: datetime):
    """The persons of the scoring run of ``model`` at ``at`` (a population for features)."""
    return select(RiskScore.person_id.label("person_id")).where(
        RiskScore.model_version == model, RiskScore.scored_at == at
    )


def _features_at(session: Session, model: str, at: datetime) -> pd.DataFrame:
    return features.compute(session, _run_persons(model, at), at)


def outcomes(
    session: Session, model: str, start: datetime, end: datetime, *, now: datetime
) -> pd.DataFrame:
    """The matured scores of ``model`` made in [start, end) with their outcome: columns
    ``scored_at``, ``probability``, ``outcome`` (the training label, per scoring run)."""
    matured = now - timedelta(days=features.HORIZON_DAYS)
    rows = session.execute(
        select(RiskScore.scored_at, RiskScore.person_id, RiskScore.probability)
        .where(
            RiskScore.model_version == model,
            RiskScore.scored_at >= start,
            RiskScore.scored_at < end,
            RiskScore.scored_at <= matured,
        )
        .order_by(RiskScore.scored_at, RiskScore.id)
    ).all()
    frame = pd.DataFrame(rows, columns=["scored_at", "person_id", "probability"])
    frame["outcome"] = 0
    for at in sorted(set(frame["scored_at"])):
        hits = features.positives(session, _run_persons(model, at), at)
        mask = (frame["scored_at"] == at) & frame["person_id"].isin(hits)
        frame.loc[mask, "outcome"] = 1
    return frame.drop(columns=["person_id"])


def _reference(session: Session, row: RiskModel) -> tuple[datetime | None, dict[str, Any]]:
    """The model's reference bins: kept on its first monitoring row, else computed from its
    first scoring run."""
    kept = session.scalar(
        select(RiskMonitoring)
        .where(
            RiskMonitoring.model_version == row.version, RiskMonitoring.reference_at.is_not(None)
        )
        .order_by(RiskMonitoring.id)
        .limit(1)
    )
    if kept is not None and kept.reference:
        return kept.reference_at, kept.reference
    first = session.scalar(
        select(func.min(RiskScore.scored_at)).where(RiskScore.model_version == row.version)
    )
    if first is None:
        return None, {}
    frame = _features_at(session, row.version, first)
    kinds = _card_features(row.card)
    reference = {name: reference_bins(frame[name], kind) for name, kind in kinds.items()}
    scores = _run_scores(session, row.version, first)
    reference["score"] = reference_bins(scores, "numeric")
    return first, reference


def _card_features(card: Mapping[str, Any] | None) -> dict[str, str]:
    """The card's features that the service computes, with their kind."""
    out = {}
    for f in (card or {}).get("features", []):
        if f["name"] in features.BY_NAME:
            out[f["name"]] = features.BY_NAME[f["name"]].kind
    return out


def _run_scores(session: Session, model: str, at: datetime) -> pd.Series:
    values = session.scalars(
        select(RiskScore.probability).where(
            RiskScore.model_version == model, RiskScore.scored_at == at
        )
    ).all()
    return pd.Series(values, dtype="float64")


def _drift(
    session: Session, row: RiskModel, reference: Mapping[str, Any], now: datetime
) -> tuple[datetime | None, dict[str, float], float | None]:
    """PSI of every reference feature and of the score at the latest scoring run."""
    latest = session.scalar(
        select(func.max(RiskScore.scored_at)).where(
            RiskScore.model_version == row.version, RiskScore.scored_at <= now
        )
    )
    if latest is None or not reference:
        return None, {}, None
    frame = _features_at(session, row.version, latest)
    values = {
        name: round(psi(bins["shares"], shares(frame[name], bins)), 6)
        for name, bins in reference.items()
        if name != "score" and name in frame
    }
    scores = _run_scores(session, row.version, latest)
    score_psi = round(psi(reference["score"]["shares"], shares(scores, reference["score"])), 6)
    return latest, values, score_psi


def crossed(figures: Mapping[str, Any], limits: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The thresholds of ``rules/risk.yaml`` ``monitoring`` that ``figures`` cross (pure).
    AUC, Brier and calibration only with at least ``min_positives`` positives."""
    out: list[dict[str, Any]] = []
    enough = figures.get("positives", 0) >= limits["min_positives"]
    auc, holdout_auc = figures.get("auc"), figures.get("holdout_auc")
    if enough and auc is not None and holdout_auc is not None:
        line = holdout_auc - limits["auc_drop"]
        if auc < line:
            out.append({"check": "auc", "value": auc, "threshold": round(line, 6)})
    brier, holdout_brier = figures.get("brier"), figures.get("holdout_brier")
    if enough and brier is not None and holdout_brier is not None:
        line = holdout_brier + limits["brier_rise"]
        if brier > line:
            out.append({"check": "brier", "value": brier, "threshold": round(line, 6)})
    slope = figures.get("calibration_slope")
    low, high = limits["calibration_slope"]["low"], limits["calibration_slope"]["high"]
    if enough and slope is not None and not low <= slope <= high:
        out.append({"check": "calibration_slope", "value": slope, "threshold": [low, high]})
    for name, value in sorted((figures.get("psi") or {}).items()):
        if value > limits["psi"]:
            out.append(
                {"check": "psi", "feature": name, "value": value, "threshold": limits["psi"]}
            )
    score_psi = figures.get("psi_score")
    if score_psi is not None and score_psi > limits["psi"]:
        out.append(
            {"check": "psi", "feature": "score", "value": score_psi, "threshold": limits["psi"]}
        )
    return out


def _realised(frame: pd.DataFrame) -> dict[str, Any]:
    y = frame["outcome"].to_numpy(dtype="int64")
    p = frame["probability"].to_numpy(dtype="float64")
    out: dict[str, Any] = {"scores": len(y), "positives": int(y.sum())}
    if 0 < out["positives"] < len(y):
        m = report.metrics(y, p)
        cal = report.calibration(y, p)
        out.update(
            auc=round(m["auc"], 6),
            brier=round(m["brier"], 6),
            calibration_slope=round(cal["slope"], 6),
            calibration_intercept=round(cal["intercept"], 6),
            calibration_bins=cal["curve"],
        )
    return out


def run(session: Session, *, now: datetime) -> MonitoringResult:
    """Check the active model for the month of ``now`` (once per month and model; the
    scheduler's ``risk_monitoring``): store the figures, raise ``model_drift`` if a threshold
    is crossed. Flushes; the job commits."""
    month = business_date(now).strftime("%Y-%m")
    row = session.scalar(select(RiskModel).where(RiskModel.active.is_(True)))
    if row is None:
        return MonitoringResult(month=month, model=None)
    result = MonitoringResult(month=month, model=row.version)
    done = session.scalar(
        select(RiskMonitoring.id).where(
            RiskMonitoring.month == month, RiskMonitoring.model_version == row.version
        )
    )
    if done is not None:
        result.done = True
        return result
    limits = risk_rules.monitoring()
    start, end = window(now)
    figures: dict[str, Any] = {
        "holdout_auc": row.holdout_auc,
        "holdout_brier": ((row.card or {}).get("metrics") or {}).get("brier"),
        **_realised(outcomes(session, row.version, start, end, now=now)),
    }
    reference_at, reference = _reference(session, row)
    psi_at, psi_values, psi_score = _drift(session, row, reference, now)
    figures.update(psi=psi_values, psi_score=psi_score)
    over = crossed(figures, limits)
    if over:
        status = "alert"
    elif figures["positives"] < limits["min_positives"] or "auc" not in figures:
        status = "insufficient"
    else:
        status = "ok"
    check = RiskMonitoring(
        month=month,
        model_version=row.version,
        run_at=now,
        rules_version=limits["version"],
        window_start=start,
        window_end=end,
        psi_at=psi_at,
        reference_at=reference_at,
        reference=reference,
        status=status,
        crossed=over,
        **{k: v for k, v in figures.items()},
    )
    session.add(check)
    session.flush()
    if over:
        raised = alerts.raise_one(
            session,
            person_id=None,
            kind=ALERT_KIND,
            subject_type=SUBJECT_TYPE,
            subject_id=SUBJECT_ID,
            detail={
                "model_version": row.version,
                "month": month,
                "monitoring_id": check.id,
                "checks": sorted({c.get("feature") or c["check"] for c in over}),
            },
            now=now,
        )
        result.alert_raised = raised is not None
        check.alert_id = raised or session.scalar(
            select(Alert.id).where(
                Alert.person_id.is_(None),
                Alert.kind == ALERT_KIND,
                Alert.status.in_(LIVE_STATUSES),
            )
        )
        log.warning("risk model %s crossed its monitoring thresholds: %s", row.version, over)
    result.scores, result.positives = figures["scores"], figures["positives"]
    result.auc, result.status = figures.get("auc"), status
    return result


# --- reading --------------------------------------------------------------------------------

_FIGURES = (
    "month",
    "model_version",
    "run_at",
    "rules_version",
    "window_start",
    "window_end",
    "scores",
    "positives",
    "auc",
    "brier",
    "calibration_slope",
    "calibration_intercept",
    "calibration_bins",
    "holdout_auc",
    "holdout_brier",
    "psi_at",
    "reference_at",
    "psi_score",
    "psi",
    "status",
    "crossed",
    "alert_id",
)


def health(session: Session, *, actor: Actor, now: datetime) -> dict[str, Any]:
    """The model-health figures over time (newest month first), the thresholds they are
    checked against and the active model: figures only, no person. Audited
    (``risk.health``)."""
    rows = session.scalars(
        select(RiskMonitoring).order_by(RiskMonitoring.month.desc(), RiskMonitoring.id.desc())
    ).all()
    active = session.scalar(select(RiskModel.version).where(RiskModel.active.is_(True)))
    audit.record(session, actor=actor, action="risk.health", detail={"rows": len(rows)}, now=now)
    labels = {f.name: f.label_zh for f in features.FEATURES}
    labels["score"] = "风险评分"
    return {
        "active_model": active,
        "thresholds": dict(risk_rules.monitoring()),
        "feature_labels": labels,
        "checks": [{k: getattr(r, k) for k in _FIGURES} for r in rows],
    }
