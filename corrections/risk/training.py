"""Offline training on any table: our export or another system's.

``--group`` columns only audit the model (per-group report), ``--drop`` columns are ignored,
the label and the time column are never features. Numeric, categorical and missing values are
handled here. Four candidates, from the simplest: a logistic regression whose regularisation is
chosen by an inner cross-validation, regularised gradient boosting, gradient boosting with
scikit-learn's default settings, and the average of the logistic regression and the regularised
boosting. They are compared by cross-validation on the training part (stratified folds
repeated with new shuffles when the data is small, so the standard error means something;
time-ordered folds when a time column is given), and the choice follows the one-standard-error
rule: the simplest candidate whose mean CV AUC is within one standard error of the best one's.
Below a size the data decides (fewer than ``MIN_EVENTS_PER_FEATURE`` cases of the rarer class
per encoded feature) the rule widens to two standard errors: a prior toward the logistic
regression, which overfits least. Calibration (Platt scaling on out-of-fold scores, or none)
is chosen by the same folds' Brier score: Platt with few rows can cost more than it corrects.
The chosen model is evaluated once on the hold-out part (the latest 20% by time, or a
stratified 20%); the card's ``model.selection`` says why it won.
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
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from corrections.core.i18n import _
from corrections.risk import artifact, checks, report
from corrections.risk.scorer import as_categorical

TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n"}
HOLDOUT = 0.2
MEDIUM_QUANTILE, HIGH_QUANTILE = 0.70, 0.90
CV_FOLDS = 4
# Repeated stratified CV: enough repeats that a small training part gives about 4,000
# out-of-fold rows per candidate (at most 5 repeats; one for large tables and time folds).
CV_ROWS, MAX_REPEATS = 4000, 5
# The logistic regression's inverse regularisation strengths, chosen by an inner 3-fold CV
# (log loss) inside every outer fold, then once on the whole training part for the model.
LOGISTIC_CS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
# Newton steps on the Hessian (a few hundred encoded columns at most): a handful of iterations
# where L-BFGS takes hundreds, which matters for the ~400 small fits of a repeated, nested CV.
LOGISTIC_SOLVER = "newton-cholesky"
# Events per variable: cases of the rarer class per encoded feature (Peduzzi et al. 1996's
# rule of thumb for logistic regression). Below it the data is small for anything more
# flexible, and the selection rule widens from one to two standard errors.
MIN_EVENTS_PER_FEATURE = 10
# Below this many training rows the many small fits run on one OpenMP thread: gradient
# boosting's threads cost more than they save there, badly so on a busy machine.
SINGLE_THREAD_ROWS = 10_000


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


def _logistic_pre(features: list[dict[str, Any]]) -> ColumnTransformer:
    num, cat = _columns(features)
    return ColumnTransformer(
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


def logistic(features: list[dict[str, Any]], seed: int = 0, *, C: float = 0.3) -> Pipeline:
    return Pipeline(
        [
            ("pre", _logistic_pre(features)),
            ("model", LogisticRegression(C=C, solver=LOGISTIC_SOLVER, max_iter=3000)),
        ]
    )


def logistic_cv(features: list[dict[str, Any]], seed: int = 0) -> Pipeline:
    """The logistic regression with its C chosen by an inner stratified 3-fold CV (log loss):
    used inside the outer folds (nested) and once on the training part to find the C the
    saved model, a plain ``LogisticRegression``, is built with."""
    model = LogisticRegressionCV(
        Cs=list(LOGISTIC_CS),
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),
        scoring="neg_log_loss",
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
        solver=LOGISTIC_SOLVER,
        max_iter=3000,
    )
    return Pipeline([("pre", _logistic_pre(features)), ("model", model)])


def chosen_c(fitted: Pipeline) -> float:
    return float(fitted.named_steps["model"].C_)


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
    """scikit-learn's default gradient boosting (31 leaves, 100 rounds at 0.1, early stopping
    only above 10,000 rows) with native categories: among the candidates so that the choice
    is never blind to the usual baseline."""
    num, cat = _columns(features)
    model = HistGradientBoostingClassifier(
        categorical_features=[False] * len(num) + [True] * len(cat), random_state=seed
    )
    return Pipeline([("pre", native_categories(num, cat)), ("model", model)])


def blend(features: list[dict[str, Any]], seed: int = 0, *, C: float = 0.3) -> VotingClassifier:
    """The average of the two kinds' probabilities: often ranks better than either."""
    return VotingClassifier(
        [("lr", logistic(features, seed, C=C)), ("gb", boosting(features, seed))], voting="soft"
    )


CANDIDATES: dict[str, Callable[[list[dict[str, Any]], int], Any]] = {
    "logistic_regression": logistic,
    "gradient_boosting": boosting,
    "gradient_boosting_deep": boosting_deep,
    "blend_lr_gb": blend,
}
# The order of simplicity the one-standard-error rule leans toward (CANDIDATES' order).
SIMPLICITY = list(CANDIDATES)


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


def cv_repeats(prep: Prepared, train: np.ndarray) -> int:
    """How many times the stratified folds are drawn anew (time-ordered folds: once)."""
    if prep.time is not None:
        return 1
    return int(np.clip(np.ceil(CV_ROWS / max(len(train), 1)), 1, MAX_REPEATS))


def cv_folds(prep: Prepared, train: np.ndarray, seed: int, k: int = CV_FOLDS):
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


# --- choosing ---------------------------------------------------------------------------

CALIBRATION_TEXT = {
    "sigmoid": "sigmoid (Platt), 4-fold out-of-fold",
    "none": "none (Platt scaling did not lower the cross-validated Brier score)",
}


def _mean_se(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    v = np.asarray(values, dtype=float)
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return float(v.mean()), se


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _platt_cross_fitted(p: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Out-of-fold scores recalibrated fold by fold, each with a sigmoid fitted on the other
    folds' scores: an honest estimate of what Platt scaling does to the Brier score."""
    out = np.array(p, dtype=float)
    for f in np.unique(fold):
        rest = fold != f
        if y[rest].min() == y[rest].max():
            continue
        lr = LogisticRegression(C=1e6).fit(_logit(p[rest])[:, None], y[rest])
        out[fold == f] = lr.predict_proba(_logit(p[fold == f])[:, None])[:, 1]
    return out


def cross_validate(
    prep: Prepared,
    train_idx: np.ndarray,
    seed: int,
    names: list[str],
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Every candidate on the same (repeated) folds: per-fold AUC and Brier, raw and after a
    cross-fitted Platt scaling. The blend's out-of-fold scores are the average of its two
    parts' (soft voting), so it costs no fit of its own."""
    X, y = prep.X.iloc[train_idx], prep.y[train_idx]
    repeats = cv_repeats(prep, train_idx)
    need = set(names)
    if "blend_lr_gb" in need:
        need |= {"logistic_regression", "gradient_boosting"}
    per = {n: {"auc": [], "brier": [], "brier_platt": []} for n in names}
    fold_count = 0
    for r in range(repeats):
        oof = {n: np.full(len(y), np.nan) for n in names}
        fold_of = np.full(len(y), -1)
        folds = list(cv_folds(prep, train_idx, seed + r))
        for i, (a, b) in enumerate(folds):
            if y[a].min() == y[a].max() or y[b].min() == y[b].max():
                continue
            empty = X.columns[X.iloc[a].isna().all().to_numpy()]
            if len(empty):
                # A feature with no value at all in the fold's training part (the earliest
                # snapshots of a history that starts later): gradient boosting cannot bin it
                # (numpy's "window shape" error). The fold is left out, as a one-class one is.
                progress(
                    f"fold {i + 1}/{len(folds)} left out: no value of {', '.join(empty[:3])} "
                    "in its training part"
                )
                continue
            fold_count += 1
            fold_of[b] = i
            progress(f"cross-validating: repeat {r + 1}/{repeats}, fold {i + 1}/{len(folds)}")
            scores: dict[str, np.ndarray] = {}
            for name in SIMPLICITY:
                if name not in need or name == "blend_lr_gb":
                    continue
                make = logistic_cv if name == "logistic_regression" else CANDIDATES[name]
                fitted = make(prep.features, seed).fit(X.iloc[a], y[a])
                scores[name] = fitted.predict_proba(X.iloc[b])[:, 1]
            if "blend_lr_gb" in need:
                scores["blend_lr_gb"] = (
                    scores["logistic_regression"] + scores["gradient_boosting"]
                ) / 2
            for name in names:
                oof[name][b] = scores[name]
                per[name]["auc"].append(roc_auc_score(y[b], scores[name]))
                per[name]["brier"].append(brier(y[b], scores[name]))
        covered = fold_of >= 0
        for name in names:
            if covered.any():
                platt = _platt_cross_fitted(oof[name][covered], y[covered], fold_of[covered])
                for f in np.unique(fold_of[covered]):
                    at = fold_of[covered] == f
                    per[name]["brier_platt"].append(brier(y[covered][at], platt[at]))
    stats = {}
    for name in names:
        auc, auc_se = _mean_se(per[name]["auc"])
        b, b_se = _mean_se(per[name]["brier"])
        bp, _bp_se = _mean_se(per[name]["brier_platt"])
        stats[name] = {
            "auc_mean": auc,
            "auc_se": auc_se,
            "brier_mean": b,
            "brier_se": b_se,
            "brier_platt_mean": bp,
        }
    return {"candidates": stats, "repeats": repeats, "folds": fold_count}


def events_per_feature(prep: Prepared, train_idx: np.ndarray) -> dict[str, Any]:
    """Cases of the rarer class per column the logistic regression sees (after one-hot
    encoding and missing-value indicators)."""
    y = prep.y[train_idx]
    events = int(min(y.sum(), len(y) - y.sum()))
    width = (
        _logistic_pre(prep.features)
        .fit(prep.X.iloc[train_idx])
        .transform(prep.X.iloc[train_idx].iloc[:1])
        .shape[1]
    )
    return {
        "events": events,
        "encoded_features": int(width),
        "events_per_feature": events / max(width, 1),
        "min_events_per_feature": MIN_EVENTS_PER_FEATURE,
    }


def choose(stats: dict[str, dict[str, float]], *, small: bool) -> dict[str, Any]:
    """The one-standard-error rule: the simplest candidate (``SIMPLICITY``) whose mean CV AUC
    is at least the best mean minus the best one's standard error; two standard errors when
    the data is small (the prior toward the logistic regression). Pure: a table in, a
    decision with its reason out."""
    valid = {n: s for n, s in stats.items() if np.isfinite(s["auc_mean"])}
    if not valid:
        name = next(iter(stats))
        return {"chosen": name, "best": name, "rule": "no_valid_fold", "threshold": None}
    best = max(valid, key=lambda n: valid[n]["auc_mean"])
    se = valid[best]["auc_se"]
    se = 0.0 if not np.isfinite(se) else se
    width = 2 if small else 1
    threshold = valid[best]["auc_mean"] - width * se
    order = [n for n in SIMPLICITY if n in valid] + [n for n in valid if n not in SIMPLICITY]
    chosen = next(n for n in order if valid[n]["auc_mean"] >= threshold)
    rule = "two_standard_errors_small_data" if small else "one_standard_error"
    return {"chosen": chosen, "best": best, "rule": rule, "threshold": threshold, "width": width}


def _reason(sel: dict[str, Any]) -> tuple[str, str]:
    c, best, cand = sel["chosen"], sel["best"], sel["candidates"]
    epv = sel["data_size"]
    mean = cand[c]["auc_mean"]
    k = sel.get("width", 1)
    size_en = (
        f"the data is small ({epv['events_per_feature']:.1f} cases of the rarer class per "
        f"encoded feature, under {MIN_EVENTS_PER_FEATURE}), so the margin is {k} standard errors"
        if k == 2
        else f"{epv['events_per_feature']:.1f} cases of the rarer class per encoded feature "
        f"(at least {MIN_EVENTS_PER_FEATURE}): one standard error"
    )
    size_zh = (
        f"数据量小（每个编码特征仅 {epv['events_per_feature']:.1f} 个少数类样本，"
        f"低于 {MIN_EVENTS_PER_FEATURE}），容差放宽为 {k} 个标准误"
        if k == 2
        else f"每个编码特征有 {epv['events_per_feature']:.1f} 个少数类样本"
        f"（不少于 {MIN_EVENTS_PER_FEATURE}），容差为 1 个标准误"
    )
    cal = sel["calibration"]
    cal_en = (
        f"Platt scaling lowered the CV Brier score ({cal['cv_brier_raw']:.4f} -> "
        f"{cal['cv_brier_platt']:.4f})"
        if cal["chosen"] == "sigmoid"
        else f"Platt scaling did not lower the CV Brier score ({cal['cv_brier_raw']:.4f} vs "
        f"{cal['cv_brier_platt']:.4f}), so none"
    )
    cal_zh = (
        f"Platt 校准降低了交叉验证 Brier 分数（{cal['cv_brier_raw']:.4f} → "
        f"{cal['cv_brier_platt']:.4f}），采用"
        if cal["chosen"] == "sigmoid"
        else f"Platt 校准未降低交叉验证 Brier 分数（{cal['cv_brier_raw']:.4f} 对 "
        f"{cal['cv_brier_platt']:.4f}），不校准"
    )
    if sel["rule"] == "no_valid_fold":
        return (
            f"{c}: no fold had both classes; the first candidate was taken. {cal_en}.",
            f"{c}：没有同时含两类样本的折，取第一个候选模型。{cal_zh}。",
        )
    if c == best:
        en = (
            f"{c} had the best mean CV AUC ({mean:.4f} ± {cand[c]['auc_se']:.4f}, "
            f"{sel['folds']} folds) and no simpler candidate came within the margin "
            f"({size_en}). {cal_en}."
        )
        zh = (
            f"{c} 的交叉验证平均 AUC 最高（{mean:.4f} ± {cand[c]['auc_se']:.4f}，"
            f"{sel['folds']} 折），没有更简单的候选模型在容差之内（{size_zh}）。{cal_zh}。"
        )
    else:
        en = (
            f"{c} is the simplest candidate within the margin of the best, {best} "
            f"({mean:.4f} vs {cand[best]['auc_mean']:.4f} ± {cand[best]['auc_se']:.4f}; "
            f"threshold {sel['threshold']:.4f}; {size_en}). {cal_en}."
        )
        zh = (
            f"{c} 是与最佳候选 {best} 相差在容差之内的最简单模型（{mean:.4f} 对 "
            f"{cand[best]['auc_mean']:.4f} ± {cand[best]['auc_se']:.4f}；阈值 "
            f"{sel['threshold']:.4f}；{size_zh}）。{cal_zh}。"
        )
    return en, zh


def fit_selected(
    prep: Prepared,
    train_idx: np.ndarray,
    spec: Spec,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
) -> tuple[Any, dict[str, Any]]:
    """Cross-validate the candidates, choose one and its calibration, fit it on the whole
    training part: the model and the card's ``model.selection``."""
    if len(train_idx) < SINGLE_THREAD_ROWS:
        with threadpool_limits(limits=1):
            return _fit_selected(prep, train_idx, spec, progress)
    return _fit_selected(prep, train_idx, spec, progress)


def _fit_selected(prep, train_idx, spec, progress):
    names = [n for n in SIMPLICITY if not spec.candidates or n in spec.candidates]
    cv = cross_validate(prep, train_idx, spec.seed, names, progress)
    size = events_per_feature(prep, train_idx)
    small = size["events_per_feature"] < MIN_EVENTS_PER_FEATURE
    decision = choose(cv["candidates"], small=small)
    chosen = decision["chosen"]
    stats = cv["candidates"][chosen]
    raw, platt = stats["brier_mean"], stats["brier_platt_mean"]
    calibrate = "sigmoid" if np.isfinite(platt) and platt < raw else "none"
    X, y = prep.X.iloc[train_idx], prep.y[train_idx]
    c_value = None
    if chosen in ("logistic_regression", "blend_lr_gb"):
        progress("choosing the logistic regression's C by inner cross-validation")
        c_value = chosen_c(logistic_cv(prep.features, spec.seed).fit(X, y))
        base = CANDIDATES[chosen](prep.features, spec.seed, C=c_value)
    else:
        base = CANDIDATES[chosen](prep.features, spec.seed)
    progress(f"chose {chosen} (CV AUC {stats['auc_mean']:.4f}), calibration {calibrate}")
    if calibrate == "sigmoid":
        model = CalibratedClassifierCV(
            base,
            method="sigmoid",
            cv=StratifiedKFold(n_splits=4, shuffle=True, random_state=spec.seed),
            ensemble=False,
        ).fit(X, y)
    else:
        model = base.fit(X, y)
    selection = {
        **decision,
        "candidates": cv["candidates"],
        "order": [n for n in SIMPLICITY if n in names],
        "repeats": cv["repeats"],
        "folds": cv["folds"],
        "data_size": size,
        "logistic_c": c_value,
        "logistic_cs": list(LOGISTIC_CS),
        "calibration": {
            "chosen": calibrate,
            "cv_brier_raw": raw,
            "cv_brier_platt": platt,
        },
    }
    selection["reason_en"], selection["reason_zh"] = _reason(selection)
    return model, selection


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
    unknown = [c for c in spec.candidates if c not in CANDIDATES]
    if unknown:
        raise TrainingError(f"no candidate model {', '.join(map(repr, unknown))}")
    model, selection = fit_selected(prep, train_idx, spec, progress=progress)
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
            "chosen": selection["chosen"],
            "cv_auc": {n: c["auc_mean"] for n, c in selection["candidates"].items()},
            "cv_folds": selection["folds"],
            "calibration": CALIBRATION_TEXT[selection["calibration"]["chosen"]],
            "seed": spec.seed,
            "selection": selection,
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
