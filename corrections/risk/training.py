"""Offline training on any table: our export or another system's.

``--group`` columns only audit the model (per-group report), ``--drop`` columns are ignored,
the label and the time column are never features. Numeric, categorical and missing values are
handled here. A regularised logistic regression, gradient boosting (two sizes of tree) and
the average of the two kinds are compared by cross-validation on the training part
(time-ordered folds when a time column is given); the best is calibrated (Platt scaling on
out-of-fold scores: monotone, so it keeps the ranking) and evaluated once on the hold-out
part (the latest 20% by time, or a stratified 20%).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from corrections.core.i18n import _
from corrections.risk import artifact, checks, report
from corrections.risk.scorer import as_categorical

TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n"}
HOLDOUT = 0.2
MEDIUM_QUANTILE, HIGH_QUANTILE = 0.70, 0.90


class TrainingError(ValueError):
    """Bad training input, naming the column or option."""


@dataclass
class Spec:
    label: str
    positive: str | None = None
    drop: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    time_column: str | None = None
    version: str | None = None
    seed: int = 0
    # Compare only these candidates (all of them when empty): the allow-list generator trains
    # each one alone, to see every type a model file of ours can hold.
    candidates: list[str] = field(default_factory=list)
    # Features the leakage checks (checks.py) flagged that the analyst lets through
    # (``--allow-suspect``): recorded in the card with every check's figure.
    allow_suspect: list[str] = field(default_factory=list)
    # The label's window after the time column (days): a date feature beyond it is suspect.
    label_window_days: int | None = None
    # Groups with fewer positives or fewer negatives than this are suppressed in the card.
    min_group_count: int = report.MIN_GROUP


@dataclass
class Prepared:
    X: pd.DataFrame
    y: np.ndarray
    groups: pd.DataFrame
    time: pd.Series | None
    features: list[dict[str, Any]]
    dropped_rows: int


def prepare(table: pd.DataFrame, spec: Spec) -> Prepared:
    for option, cols in (
        ("--label", [spec.label]),
        ("--drop", spec.drop),
        ("--group", spec.group),
        ("--time-column", [spec.time_column] if spec.time_column else []),
    ):
        unknown = [c for c in cols if c not in table.columns]
        if unknown:
            raise TrainingError(f"{option}: no column {', '.join(map(repr, unknown))} in the table")
    keep = table[table[spec.label].notna()]
    y = _binary(keep[spec.label], spec.positive)
    if y.min() == y.max():
        raise TrainingError(f"--label {spec.label!r}: only one class in the table")
    excluded = {spec.label, *spec.drop, *spec.group}
    if spec.time_column:
        excluded.add(spec.time_column)
    columns = [c for c in table.columns if c not in excluded]
    if not columns:
        raise TrainingError("no feature columns left after --label/--drop/--group/--time-column")
    features, X = [], {}
    for c in columns:
        col = keep[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            X[c] = col.astype("float64")
            features.append({"name": c, "type": "numeric", "typical": _median(X[c])})
        else:
            X[c] = as_categorical(col)
            mode = X[c].dropna().mode()
            features.append(
                {
                    "name": c,
                    "type": "categorical",
                    "typical": str(mode.iloc[0]) if len(mode) else "",
                }
            )
    time = None
    if spec.time_column:
        time = keep[spec.time_column].astype(str).reset_index(drop=True)
    return Prepared(
        X=pd.DataFrame(X).reset_index(drop=True),
        y=y,
        groups=keep[spec.group]
        .astype("object")
        .fillna("(missing)")
        .astype(str)
        .reset_index(drop=True),
        time=time,
        features=features,
        dropped_rows=len(table) - len(keep),
    )


def _median(col: pd.Series) -> float:
    m = col.median()
    return 0.0 if pd.isna(m) else float(m)


def _binary(col: pd.Series, positive: str | None) -> np.ndarray:
    if positive is not None:
        return (col.astype(str).str.strip() == str(positive).strip()).to_numpy(dtype=int)
    words = col.astype(str).str.strip().str.lower()
    unknown = sorted(set(words) - TRUE_WORDS - FALSE_WORDS)
    if unknown:
        raise TrainingError(
            f"--label values {unknown[:5]} are not 0/1 or true/false: give --positive VALUE"
        )
    return words.isin(TRUE_WORDS).to_numpy(dtype=int)


# --- candidates -------------------------------------------------------------------------


def _columns(features: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    num = [f["name"] for f in features if f["type"] == "numeric"]
    cat = [f["name"] for f in features if f["type"] == "categorical"]
    return num, cat


def logistic(features: list[dict[str, Any]], seed: int = 0) -> Pipeline:
    num, cat = _columns(features)
    pre = ColumnTransformer(
        [
            (
                "num",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                num,
            ),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                        (
                            "onehot",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist",
                                min_frequency=10,
                                sparse_output=False,
                            ),
                        ),
                    ]
                ),
                cat,
            ),
        ]
    )
    return Pipeline([("pre", pre), ("model", LogisticRegression(C=0.3, max_iter=3000))])


def native_categories(num: list[str], cat: list[str]) -> ColumnTransformer:
    """Numbers as they are, categories as codes (unknown and missing: NaN) for gradient
    boosting's native categorical splits (at most 255 categories: the rarest are merged)."""
    return ColumnTransformer(
        [
            ("num", "passthrough", num),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=250,
                ),
                cat,
            ),
        ]
    )


def boosting(
    features: list[dict[str, Any]], seed: int = 0, *, leaves: int = 15, min_leaf: int = 40
) -> Pipeline:
    num, cat = _columns(features)
    pre = native_categories(num, cat)
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=600,
        max_leaf_nodes=leaves,
        min_samples_leaf=min_leaf,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=30,
        categorical_features=[False] * len(num) + [True] * len(cat),
        random_state=seed,
    )
    return Pipeline([("pre", pre), ("model", model)])


def boosting_deep(features: list[dict[str, Any]], seed: int = 0) -> Pipeline:
    return boosting(features, seed, leaves=31, min_leaf=20)


def blend(features: list[dict[str, Any]], seed: int = 0) -> VotingClassifier:
    """The average of the two kinds' probabilities: often ranks better than either."""
    return VotingClassifier(
        [("lr", logistic(features, seed)), ("gb", boosting(features, seed))], voting="soft"
    )


CANDIDATES: dict[str, Callable[[list[dict[str, Any]], int], Any]] = {
    "logistic_regression": logistic,
    "gradient_boosting": boosting,
    "gradient_boosting_deep": boosting_deep,
    "blend_lr_gb": blend,
}


# --- splitting ----------------------------------------------------------------------------


def holdout_split(prep: Prepared, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    idx = np.arange(len(prep.y))
    if prep.time is not None:
        times = np.sort(prep.time.unique())
        cut = times[min(len(times) - 1, int(np.floor(len(times) * (1 - HOLDOUT))))]
        test = (prep.time >= cut).to_numpy()
        if test.all() or not test.any():
            raise TrainingError("--time-column: too few distinct times for a hold-out split")
        return idx[~test], idx[test], f"time >= {cut}"
    train, test = train_test_split(idx, test_size=HOLDOUT, stratify=prep.y, random_state=seed)
    return np.sort(train), np.sort(test), "stratified random 20%"


def cv_folds(prep: Prepared, train: np.ndarray, seed: int, k: int = 4):
    """Time-ordered expanding folds (train on the past, test on the next block), or
    stratified folds."""
    if prep.time is not None:
        times = prep.time.iloc[train].to_numpy()
        blocks = np.array_split(np.sort(np.unique(times)), k + 1)
        for b in range(1, k + 1):
            past = np.isin(times, np.concatenate(blocks[:b]))
            nxt = np.isin(times, blocks[b])
            if past.any() and nxt.any():
                yield np.flatnonzero(past), np.flatnonzero(nxt)
        return
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    yield from skf.split(np.zeros(len(train)), prep.y[train])


# --- training ---------------------------------------------------------------------------


@dataclass
class Trained:
    card: dict[str, Any]
    directory: Path


def train(
    table_path: Path,
    spec: Spec,
    out: Path,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
) -> Trained:
    from corrections.risk.export import read_table

    progress(f"reading {table_path}")
    table = read_table(table_path)
    prep = prepare(table, spec)
    progress("checking the features for leakage")
    data_checks = check_data(table, prep, spec)
    train_idx, test_idx, split = holdout_split(prep, spec.seed)
    X_train, y_train = prep.X.iloc[train_idx], prep.y[train_idx]
    X_test, y_test = prep.X.iloc[test_idx], prep.y[test_idx]
    if y_train.min() == y_train.max() or y_test.min() == y_test.max():
        raise TrainingError("both classes are needed in the training and the hold-out part")
    folds = list(cv_folds(prep, train_idx, spec.seed))
    scores: dict[str, float] = {}
    unknown = [c for c in spec.candidates if c not in CANDIDATES]
    if unknown:
        raise TrainingError(f"no candidate model {', '.join(map(repr, unknown))}")
    for name, make in CANDIDATES.items():
        if spec.candidates and name not in spec.candidates:
            continue
        aucs = []
        for i, (a, b) in enumerate(folds, start=1):
            progress(f"cross-validating {name}: fold {i}/{len(folds)}")
            if y_train[a].min() == y_train[a].max() or y_train[b].min() == y_train[b].max():
                continue
            model = make(prep.features, spec.seed).fit(X_train.iloc[a], y_train[a])
            aucs.append(roc_auc_score(y_train[b], model.predict_proba(X_train.iloc[b])[:, 1]))
        scores[name] = float(np.mean(aucs)) if aucs else float("nan")
    chosen = max(scores, key=lambda n: -1 if np.isnan(scores[n]) else scores[n])
    progress(f"chose {chosen} (CV AUC {scores[chosen]:.4f}); calibrating")
    model = CalibratedClassifierCV(
        CANDIDATES[chosen](prep.features, spec.seed),
        method="sigmoid",
        cv=StratifiedKFold(n_splits=4, shuffle=True, random_state=spec.seed),
        ensemble=False,
    ).fit(X_train, y_train)
    progress("evaluating on the hold-out part")
    p_train = model.predict_proba(X_train)[:, 1]
    p_test = model.predict_proba(X_test)[:, 1]
    medium = float(np.quantile(p_train, MEDIUM_QUANTILE))
    high = float(np.quantile(p_train, HIGH_QUANTILE))
    metrics = report.metrics(y_test, p_test)
    groups = {
        g: report.group_report(
            prep.groups[g].iloc[test_idx].to_numpy(),
            y_test,
            p_test,
            high,
            min_count=spec.min_group_count,
            seed=spec.seed,
        )
        for g in spec.group
    }
    table_sha = artifact.sha256_file(table_path)
    version = spec.version or (
        f"{datetime.now(UTC):%Y%m%d}-{hashlib.sha256(table_sha.encode()).hexdigest()[:8]}"
    )
    card = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": {
            "label": spec.label,
            "positive": spec.positive,
            "description_zh": "未来90天内失去联系的概率"
            if spec.label == "lost_contact_90d"
            else None,
        },
        "data": {
            "file": table_path.name,
            "sha256": table_sha,
            "rows": len(prep.y),
            "rows_without_label": int(prep.dropped_rows),
            "rows_train": len(train_idx),
            "rows_holdout": len(test_idx),
            "base_rate": float(prep.y.mean()),
            "holdout_base_rate": float(y_test.mean()),
            "split": split,
            "time_column": spec.time_column,
        },
        "features": prep.features,
        "dropped": list(spec.drop),
        "groups": list(spec.group),
        "model": {
            "chosen": chosen,
            "cv_auc": scores,
            "cv_folds": len(folds),
            "calibration": "sigmoid (Platt), 4-fold out-of-fold",
            "seed": spec.seed,
        },
        "metrics": metrics,
        "calibration": report.calibration(y_test, p_test),
        "data_checks": data_checks,
        "use": report.INTENDED_USE,
        "bands": {"medium": medium, "high": high, "rule": "training-score quantiles 0.70 / 0.90"},
        "alert_threshold": high,
        "group_report": groups,
    }
    progress(f"writing {out}")
    card = artifact.save(out, model, card)
    report.write_plots(out, y_test, p_test, prep.groups.iloc[test_idx], spec.group, card)
    report.write_html(out, card)
    return Trained(card=card, directory=out)


def check_data(table: pd.DataFrame, prep: Prepared, spec: Spec) -> dict[str, Any]:
    """The leakage checks (checks.py): refuse a suspect feature the analyst did not allow,
    naming it and the figure; what was allowed, and every figure, for the card."""
    names = set(prep.X.columns)
    unknown = [f for f in spec.allow_suspect if f not in names]
    if unknown:
        raise TrainingError(
            _(
                "--allow-suspect: {features} is not a feature column",
                features=", ".join(map(repr, unknown)),
            )
        )
    window = spec.label_window_days
    if window is None and spec.label == "lost_contact_90d":
        from corrections.risk.features import HORIZON_DAYS

        window = HORIZON_DAYS
    found = checks.run(
        table,
        prep.X,
        prep.y,
        spec.label,
        time=prep.time,
        label_window_days=window,
        seed=spec.seed,
    )
    refused = [f for f in found.findings if f.feature not in spec.allow_suspect]
    if refused:
        raise TrainingError(
            _(
                "training refused: {reason}; suspect features: {features}. Check the data, "
                "or give --allow-suspect FEATURE to train anyway (recorded in the model card)",
                reason=refused[0].message(),
                features=", ".join(dict.fromkeys(f.feature for f in refused)),
            )
        )
    return {
        **found.figures(),
        "suspects": [f.as_dict(allowed=True) for f in found.findings],
        "allowed": list(spec.allow_suspect),
    }


def brier(y, p) -> float:
    return float(brier_score_loss(y, p))
