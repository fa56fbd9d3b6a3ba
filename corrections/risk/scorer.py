"""Scoring with a loaded model: the input frame, probabilities, bands and reasons.

Reasons are counterfactual: for each feature, the person's score with that one feature set to
its typical value (the training median, or the most common category) is computed; the features
whose typical value lowers the score most are the reasons (at most three, only those that
lower it). So a reason is faithful by construction: changing it to typical lowers the score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from corrections.core.i18n import _
from corrections.risk.artifact import Loaded

BANDS = ("low", "medium", "high")
TOP_REASONS = 3


class FeatureMismatch(ValueError):
    def __init__(self, missing: list[str]):
        super().__init__(
            _("the table lacks the model's feature columns: {columns}", columns=", ".join(missing))
        )
        self.missing = missing


def as_categorical(col: pd.Series) -> pd.Series:
    """Text categories with NaN for missing, always of object dtype (an all-missing batch
    must not turn into floats the encoder cannot compare with its categories)."""
    values = [np.nan if pd.isna(v) else str(v) for v in col]
    return pd.Series(values, index=col.index, dtype="object")


def coerce(frame: pd.DataFrame, features: list[dict[str, Any]]) -> pd.DataFrame:
    """The model's feature columns from ``frame``, in the card's order and types; other columns
    (label, groups, dropped, unknown) are ignored."""
    missing = [f["name"] for f in features if f["name"] not in frame.columns]
    if missing:
        raise FeatureMismatch(missing)
    out = {}
    for f in features:
        col = frame[f["name"]]
        if f["type"] == "numeric":
            out[f["name"]] = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            out[f["name"]] = as_categorical(col)
    return pd.DataFrame(out, index=frame.index)


class Scorer:
    def __init__(self, loaded: Loaded):
        self.loaded = loaded
        self.card = loaded.card
        self.features = self.card["features"]
        self.names = [f["name"] for f in self.features]
        self.medium = float(self.card["bands"]["medium"])
        self.high = float(self.card["bands"]["high"])

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        return coerce(frame, self.features)

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        return self.loaded.model.predict_proba(X)[:, 1]

    def band(self, p: np.ndarray) -> np.ndarray:
        return np.where(p >= self.high, "high", np.where(p >= self.medium, "medium", "low"))

    def reasons(self, X: pd.DataFrame, p: np.ndarray) -> list[list[dict[str, Any]]]:
        """Per row, up to three features whose typical value lowers the score most."""
        n = len(X)
        effects = np.zeros((n, len(self.features)))
        # Every (row, feature) whose value is not typical, as one copy of the row with that
        # feature made typical; all copies predicted in one call (the model's pipeline costs
        # per call, not only per row: a call per feature was most of the night's time).
        copies, where = [], []
        for j, f in enumerate(self.features):
            typical = f["typical"]
            col = X[f["name"]]
            if f["type"] == "numeric":
                differs = ~np.isclose(
                    col.to_numpy(dtype="float64"), float(typical), equal_nan=False
                )
                differs |= col.isna().to_numpy()
            else:
                differs = (col.astype("object") != typical).to_numpy()
            rows = np.flatnonzero(differs)
            if rows.size == 0:
                continue
            changed = X.iloc[rows].copy()
            changed[f["name"]] = typical if f["type"] != "numeric" else float(typical)
            copies.append(changed)
            where.append((rows, j))
        if copies:
            changed_p = self.probability(pd.concat(copies, ignore_index=True))
            start = 0
            for rows, j in where:
                effects[rows, j] = p[rows] - changed_p[start : start + rows.size]
                start += rows.size
        order = np.argsort(-effects, axis=1)[:, :TOP_REASONS]
        out: list[list[dict[str, Any]]] = []
        for i in range(n):
            row = []
            for j in order[i]:
                if effects[i, j] <= 1e-6:
                    break
                f = self.features[j]
                value = X.iat[i, j]
                row.append(
                    {
                        "feature": f["name"],
                        "value": None if _missing(value) else _plain(value),
                        "typical": f["typical"],
                        "effect": round(float(effects[i, j]), 4),
                    }
                )
            out.append(row)
        return out

    def score(self, frame: pd.DataFrame, *, reasons_for: tuple[str, ...] = BANDS) -> pd.DataFrame:
        """Probability, band and reasons of each row; reasons (a prediction per feature that
        differs from typical: most of the work) only for rows whose band is in
        ``reasons_for``, None for the others."""
        X = self.prepare(frame)
        p = self.probability(X)
        band = self.band(p)
        explained = np.flatnonzero(np.isin(band, reasons_for))
        reasons: list[Any] = [None] * len(X)
        if explained.size:
            found = self.reasons(X.iloc[explained], p[explained])
            for i, r in zip(explained.tolist(), found, strict=True):
                reasons[i] = r
        return pd.DataFrame(
            {"probability": p, "band": band, "reasons": reasons},
            index=frame.index,
        )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
