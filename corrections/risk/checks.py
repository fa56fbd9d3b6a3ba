"""Leakage and data checks on a training table, before anything is trained.

A feature is *suspect* when:

- ``single_feature_auc``: it alone ranks the label with an AUC of at least
  :data:`MAX_SINGLE_AUC` in either direction (``max(auc, 1 - auc)``). Numbers are ranked as
  they are, with the missing values put first and then last (missingness that is the label
  is found as well); categories by each category's positive rate computed out of fold (so a
  column of unique identifiers is not mistaken for a perfect predictor).
- ``constant_within_classes``: it takes one value among all the negative rows and another one
  among all the positive rows (missing counts as a value): it separates the classes perfectly.
- ``duplicates_label``: its values are the label's own (the label column's text, or 0/1 and
  1/0 for the classes) on at least :data:`DUPLICATE_SHARE` of the rows.
- ``dated_after_label_window`` (only with a time column): a column of dates some of whose
  values lie after the end of the row's label window (the row's time plus
  ``label_window_days``): something known only after the outcome.

Training refuses a suspect feature, naming it and the figure, unless the analyst allowed it
(``--allow-suspect FEATURE``); what was allowed is recorded in the model card with every
check's figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.model_selection import StratifiedKFold

from corrections.core.i18n import Message, _

MAX_SINGLE_AUC = 0.95
DUPLICATE_SHARE = 0.99
DATE_PARSE_SHARE = 0.9
TOP = 5


@dataclass
class Finding:
    feature: str
    check: str
    figure: float

    def as_dict(self, allowed: bool) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "check": self.check,
            "figure": round(float(self.figure), 4),
            "allowed": allowed,
        }

    def message(self) -> Message:
        figure = round(float(self.figure), 4)
        if self.check == "single_feature_auc":
            return _(
                "feature {feature!r} alone ranks the label with AUC {figure} (at least "
                "{limit}): label leakage?",
                feature=self.feature,
                figure=figure,
                limit=MAX_SINGLE_AUC,
            )
        if self.check == "constant_within_classes":
            return _(
                "feature {feature!r} is constant within each class and separates them "
                "perfectly (share of rows separated {figure})",
                feature=self.feature,
                figure=figure,
            )
        if self.check == "duplicates_label":
            return _(
                "feature {feature!r} duplicates the label on a share {figure} of the rows",
                feature=self.feature,
                figure=figure,
            )
        return _(
            "feature {feature!r} holds dates after the label's window on a share {figure} of "
            "the rows",
            feature=self.feature,
            figure=figure,
        )


def _auc_both(y: np.ndarray, score: np.ndarray) -> float:
    """``max(auc, 1 - auc)``, by ranks (ties averaged: the Mann-Whitney form of the AUC)."""
    ranks = rankdata(score)
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    auc = (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return float(max(auc, 1 - auc))


def numeric_auc(values: np.ndarray, y: np.ndarray) -> float:
    """The column's AUC alone, either direction, missing values first and then last."""
    values = values.astype("float64")
    missing = np.isnan(values)
    if missing.all():
        return 0.5
    lo, hi = np.nanmin(values), np.nanmax(values)
    best = 0.5
    for fill in (lo - 1.0, hi + 1.0) if missing.any() else (lo,):
        best = max(best, _auc_both(y, np.where(missing, fill, values)))
    return best


def categorical_auc(values: pd.Series, y: np.ndarray, seed: int = 0) -> float:
    """AUC of each row's category's positive rate, learnt on the other folds (5-fold)."""
    codes = values.astype("object").where(values.notna(), "(missing)").astype(str).to_numpy()
    encoded = np.full(len(y), float(y.mean()))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for fit, apply in folds.split(codes, y):
        rates = pd.Series(y[fit]).groupby(codes[fit]).mean()
        encoded[apply] = pd.Series(codes[apply]).map(rates).fillna(y[fit].mean()).to_numpy()
    return _auc_both(y, encoded)


def _as_text(col: pd.Series) -> np.ndarray:
    text = col.astype("object").where(col.notna(), "(missing)").astype(str)
    return text.str.strip().str.lower().to_numpy()


def _is_number(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def constant_within_classes(col: pd.Series, y: np.ndarray) -> bool:
    """One value among the negatives, another among the positives (missing is a value)."""
    values = col.to_numpy(dtype="float64") if _is_number(col) else _as_text(col)
    neg, pos = pd.unique(values[y == 0]), pd.unique(values[y == 1])
    if len(neg) != 1 or len(pos) != 1:
        return False
    a, b = neg[0], pos[0]
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return False
    return a != b


def label_agreement(col: pd.Series, label: pd.Series, y: np.ndarray) -> float:
    """The largest share of rows on which the column says what the label says: the label
    column's own values, or the classes as 0/1 (or 1/0)."""
    if _is_number(col):
        numbers = col.to_numpy(dtype="float64")
        shares = [float((numbers == y).mean()), float((numbers == 1 - y).mean())]
        if _is_number(label):
            shares.append(float((numbers == label.to_numpy(dtype="float64")).mean()))
        return max(shares)
    text = _as_text(col)
    shares = [float((text == _as_text(label)).mean())]
    numbers = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64")
    if not np.isnan(numbers).all():
        shares += [float((numbers == y).mean()), float((numbers == 1 - y).mean())]
    return max(shares)


def as_dates(col: pd.Series) -> pd.Series | None:
    """The column as dates when it is text that reads as dates (at least 90% of the values
    present), else None. Numbers are never taken for dates."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return None
    present = col.dropna()
    if present.empty:
        return None
    parsed = pd.to_datetime(present.astype(str), errors="coerce", format="mixed")
    if parsed.notna().mean() < DATE_PARSE_SHARE:
        return None
    return pd.to_datetime(col.astype("object"), errors="coerce", format="mixed")


@dataclass
class Report:
    findings: list[Finding]
    single_auc: dict[str, float]
    time_checked: bool
    label_window_days: int | None

    def figures(self) -> dict[str, Any]:
        top = sorted(self.single_auc.items(), key=lambda kv: -kv[1])[:TOP]
        return {
            "thresholds": {
                "single_feature_auc": MAX_SINGLE_AUC,
                "duplicates_label_share": DUPLICATE_SHARE,
            },
            "highest_single_feature_auc": [{"feature": k, "auc": round(v, 4)} for k, v in top],
            "time_columns_checked": self.time_checked,
            "label_window_days": self.label_window_days,
        }


def run(
    table: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    label: str,
    *,
    time: pd.Series | None = None,
    label_window_days: int | None = None,
    seed: int = 0,
) -> Report:
    """Every check on every feature column of ``X`` (the labelled rows of ``table``, in
    order); ``time``: the rows' time column (the label window starts there)."""
    keep = table[table[label].notna()].reset_index(drop=True)
    findings: list[Finding] = []
    single: dict[str, float] = {}
    start = None
    if time is not None:
        start = pd.to_datetime(time.astype(str), errors="coerce", format="mixed")
    for name in X.columns:
        col = X[name]
        raw = keep[name]
        if pd.api.types.is_numeric_dtype(col):
            auc = numeric_auc(col.to_numpy(dtype="float64"), y)
        else:
            auc = categorical_auc(col, y, seed)
        single[name] = auc
        agreement = label_agreement(raw, keep[label], y)
        if agreement >= DUPLICATE_SHARE:
            findings.append(Finding(name, "duplicates_label", agreement))
        if constant_within_classes(raw, y):
            findings.append(Finding(name, "constant_within_classes", 1.0))
        if auc >= MAX_SINGLE_AUC:
            findings.append(Finding(name, "single_feature_auc", auc))
        if start is not None:
            dates = as_dates(raw)
            if dates is not None:
                end = start + pd.Timedelta(days=label_window_days or 0)
                after = (dates > end).fillna(False).to_numpy()
                if after.any():
                    findings.append(Finding(name, "dated_after_label_window", after.mean()))
    return Report(findings, single, start is not None, label_window_days)
