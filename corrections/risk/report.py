"""Model-card figures: hold-out metrics, per-group report, plots and a one-page HTML card."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

ECE_BINS = 10
MIN_GROUP = 30  # groups smaller than this are listed but left out of the gaps


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: |mean predicted - observed rate| over equal-width bins,
    weighted by the share of rows in each bin."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": ece(y, p),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6))),
        "base_rate": float(y.mean()),
        "brier_of_base_rate": float(brier_score_loss(y, np.full(len(y), y.mean()))),
    }


# A calibration slope outside this range (or below zero: an inverted model) is warned of.
SLOPE_RANGE = (0.8, 1.2)
BOOTSTRAP = 200
INTERVAL = 0.95

INTENDED_USE = {
    "intended_zh": "为社区矫正工作人员提示可能需要关注的矫正对象（脱管风险），辅助安排走访与核查。",
    "intended_en": "To point community-corrections staff at persons who may need attention "
    "(risk of absconding), as an aid in planning visits and checks.",
    "out_of_scope_zh": [
        "不得据以决定或改变管理等级、矫正状态、处罚、收监、撤销缓刑或假释等任何处理",
        "不得用于对象以外人员的评估，不得用于训练数据之外的其他人群或地区而不经重新验证",
        "不得作为对个人的唯一依据，亦不得向第三方提供评分",
    ],
    "out_of_scope_en": [
        "Deciding or changing any grade, status, sanction, custody, or revocation of "
        "probation or parole",
        "Scoring anyone other than persons under community correction, or another population "
        "or region than the training data's without validating it again",
        "Being the only basis of anything concerning a person, or giving scores to third parties",
    ],
    "advisory_zh": "仅供参考，不作决定",
    "advisory_en": "Advisory only, never decides",
}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibration(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Logistic recalibration of the hold-out predictions: logit P(y=1) = a + b * logit(p).
    A calibrated model has b = 1 and a = 0; b < 1: too extreme, b > 1: too timid, b < 0:
    inverted (a higher score means a lower rate). The warning (Chinese and English) when b is
    outside :data:`SLOPE_RANGE`; the reliability curve's points (10 equal-width bins)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    # Practically unpenalised; a perfectly separating score has no finite fit (the slope
    # then stops large, which is what it is).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p).reshape(-1, 1), y)
    slope, intercept = float(fit.coef_[0][0]), float(fit.intercept_[0])
    warning = None
    low, high = SLOPE_RANGE
    if slope < 0:
        warning = {
            "zh": f"校准曲线倒置（斜率 {slope:.2f} < 0）：评分越高，实际发生率越低。"
            "不得使用该模型。",
            "en": f"Inverted calibration (slope {slope:.2f} < 0): higher scores go with lower "
            "observed rates. Do not use this model.",
        }
    elif not low <= slope <= high:
        direction_zh = "评分过于极端" if slope < low else "评分过于保守"
        direction_en = "scores too extreme" if slope < low else "scores too timid"
        warning = {
            "zh": f"校准斜率 {slope:.2f} 不在 [{low}, {high}] 之内（{direction_zh}），"
            "概率不可按字面理解。",
            "en": f"Calibration slope {slope:.2f} is outside [{low}, {high}] ({direction_en}); "
            "the probabilities cannot be taken at face value.",
        }
    edges = np.linspace(0, 1, ECE_BINS + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, ECE_BINS - 1)
    curve = [
        {
            "predicted": float(p[which == b].mean()),
            "observed": float(y[which == b].mean()),
            "n": int((which == b).sum()),
        }
        for b in range(ECE_BINS)
        if (which == b).any()
    ]
    return {
        "slope": slope,
        "intercept": intercept,
        "slope_range": list(SLOPE_RANGE),
        "method": "logistic recalibration of the hold-out predictions: "
        "logit(P(y=1)) = intercept + slope * logit(p)",
        "warning": warning,
        "curve": curve,
    }


def _group_metrics(y: np.ndarray, p: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    neg, pos = (y == 0), (y == 1)
    return {
        "auc": float(roc_auc_score(y, p)) if 0 < pos.sum() < len(y) else None,
        "brier": float(brier_score_loss(y, p, labels=[0, 1])),
        "false_positive_rate": float(flagged[neg].mean()) if neg.any() else None,
        "false_negative_rate": float((~flagged[pos]).mean()) if pos.any() else None,
    }


GAP_METRICS = ("auc", "brier", "false_positive_rate", "false_negative_rate")


def _intervals(
    y: np.ndarray, p: np.ndarray, flagged: np.ndarray, rng: np.random.Generator
) -> dict[str, list[float] | None]:
    """Percentile bootstrap intervals (:data:`BOOTSTRAP` resamples of the group's rows)."""
    draws: dict[str, list[float]] = {k: [] for k in GAP_METRICS}
    n = len(y)
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, n, n)
        for k, v in _group_metrics(y[i], p[i], flagged[i]).items():
            if v is not None:
                draws[k].append(v)
    tail = (1 - INTERVAL) / 2 * 100
    return {
        k: [float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))]
        if len(v) >= BOOTSTRAP // 2
        else None
        for k, v in draws.items()
    }


def group_report(
    values: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    *,
    min_count: int = MIN_GROUP,
    seed: int = 0,
) -> dict:
    """Per group: counts of positives and negatives; for groups with at least ``min_count``
    of each, the metrics with bootstrap intervals; smaller groups are listed with their counts
    only (``suppressed``: their figures would be noise) and left out of the largest gaps."""
    flagged = p >= threshold
    rng = np.random.default_rng(seed)
    groups: dict[str, dict[str, Any]] = {}
    for g in sorted(set(values)):
        m = values == g
        yg, pg, fg = y[m], p[m], flagged[m]
        positives, negatives = int((yg == 1).sum()), int((yg == 0).sum())
        entry: dict[str, Any] = {
            "n": int(m.sum()),
            "positives": positives,
            "negatives": negatives,
            "suppressed": positives < min_count or negatives < min_count,
        }
        if entry["suppressed"]:
            entry.update({k: None for k in GAP_METRICS}, flagged_rate=None, intervals=None)
        else:
            entry.update(_group_metrics(yg, pg, fg), flagged_rate=float(fg.mean()))
            entry["intervals"] = _intervals(yg, pg, fg, rng)
        groups[str(g)] = entry
    gaps = {}
    for key in GAP_METRICS:
        vals = [v[key] for v in groups.values() if not v["suppressed"] and v[key] is not None]
        gaps[key] = float(max(vals) - min(vals)) if len(vals) >= 2 else None
    return {
        "threshold": float(threshold),
        "min_count": int(min_count),
        "interval": f"{INTERVAL:.0%} percentile bootstrap, {BOOTSTRAP} resamples",
        "groups": groups,
        "largest_gaps": gaps,
        "gaps_among": sorted(g for g, v in groups.items() if not v["suppressed"]),
    }


def write_plots(
    out: Path,
    y: np.ndarray,
    p: np.ndarray,
    groups: pd.DataFrame,
    group_columns: list[str],
    card: dict[str, Any],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"AUC {card['metrics']['auc']:.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (hold-out)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=100)
    plt.close(fig)

    edges = np.linspace(0, 1, ECE_BINS + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, ECE_BINS - 1)
    xs, ys, ns = [], [], []
    for b in range(ECE_BINS):
        m = which == b
        if m.any():
            xs.append(p[m].mean())
            ys.append(y[m].mean())
            ns.append(int(m.sum()))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    cal = card.get("calibration") or {}
    label = f"ECE {card['metrics']['ece']:.3f}"
    if cal:
        label += f", slope {cal['slope']:.2f}, intercept {cal['intercept']:.2f}"
    ax.plot(xs, ys, "o-", label=label)
    ax.set(xlabel="mean predicted", ylabel="observed rate", title="Reliability (hold-out)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, max(0.05, float(np.quantile(p, 0.995))), 40)
    if group_columns:
        col = group_columns[0]
        for g in sorted(groups[col].unique()):
            m = (groups[col] == g).to_numpy()
            if m.sum() >= MIN_GROUP:
                ax.hist(p[m], bins=bins, density=True, histtype="step", label=f"{col}={g}")
        ax.legend(fontsize=7)
    else:
        ax.hist(p, bins=bins, density=True)
    ax.axvline(card["bands"]["high"], color="red", linestyle=":", label="high")
    ax.set(xlabel="probability", ylabel="density", title="Score distribution by group")
    fig.tight_layout()
    fig.savefig(out / "scores_by_group.png", dpi=100)
    plt.close(fig)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}"
    return html.escape(str(v))


def write_html(out: Path, card: dict[str, Any]) -> None:
    m, d = card["metrics"], card["data"]
    rows = "".join(
        f"<tr><th>{k}</th><td>{_fmt(v)}</td></tr>"
        for k, v in (
            ("version", card["version"]),
            ("label", card["task"]["label"]),
            ("rows (train / hold-out)", f"{d['rows_train']} / {d['rows_holdout']}"),
            ("split", d["split"]),
            ("base rate", d["base_rate"]),
            ("model", card["model"]["chosen"]),
            ("hold-out AUC", m["auc"]),
            ("Brier (base rate's)", f"{m['brier']:.4f} ({m['brier_of_base_rate']:.4f})"),
            ("expected calibration error", m["ece"]),
            (
                "bands: medium / high",
                f"{card['bands']['medium']:.4f} / {card['bands']['high']:.4f}",
            ),
            ("data sha256", d["sha256"]),
            ("artifact sha256", card["artifact"]["sha256"]),
            ("libraries", ", ".join(f"{k} {v}" for k, v in card["libraries"].items())),
        )
    )
    group_html = ""
    for col, rep in card["group_report"].items():
        body = "".join(_group_row(g, v) for g, v in rep["groups"].items())
        gaps = ", ".join(f"{k} {_fmt(v)}" for k, v in rep["largest_gaps"].items())
        among = ", ".join(html.escape(g) for g in rep.get("gaps_among", []))
        group_html += (
            f"<h3>{html.escape(col)}</h3><table><tr><th>group</th><th>n</th><th>positives</th>"
            f"<th>negatives</th><th>AUC</th><th>Brier</th><th>FPR</th><th>FNR</th></tr>{body}"
            f"</table><p>largest gaps (only among groups with at least "
            f"{_fmt(rep.get('min_count'))} positives and negatives: {among or '–'}): {gaps}. "
            f"Intervals: {html.escape(str(rep.get('interval', '–')))}. 少于最小数量的组不报告指标"
            f"（suppressed: too few positives or negatives）。</p>"
        )
    group_html += _calibration_html(card.get("calibration"))
    group_html += _use_html(card.get("use"))
    group_html += _checks_html(card.get("data_checks"))
    features = ", ".join(f"{html.escape(f['name'])} ({f['type']})" for f in card["features"])
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>模型卡 model card {html.escape(card["version"])}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:1rem auto;font-size:14px}}
table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:2px 6px;
text-align:left}}img{{max-width:32%;}}</style></head><body>
<h1>脱管风险模型卡 · Absconding risk model card</h1>
<table>{rows}</table>
<p><img src="roc.png" alt="ROC"><img src="reliability.png" alt="reliability">
<img src="scores_by_group.png" alt="scores by group"></p>
{_advisory(card.get("use"))}
<h2>分组评估 · Per-group report (threshold {card["alert_threshold"]:.4f})</h2>{group_html}
<h2>特征 · Features</h2><p>{features}</p>
<p>Group columns audit the model and are not features. Hold-out figures; see card.json.</p>
</body></html>
"""
    (out / "card.html").write_text(page, encoding="utf-8")


def _interval(v: dict[str, Any], key: str) -> str:
    value = _fmt(v.get(key))
    ci = (v.get("intervals") or {}).get(key)
    return f"{value} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else value


def _group_row(g: str, v: dict[str, Any]) -> str:
    counts = f"<td>{html.escape(g)}</td><td>{v['n']}</td><td>{v['positives']}</td>"
    counts += f"<td>{_fmt(v.get('negatives'))}</td>"
    if v.get("suppressed"):
        return f"<tr>{counts}<td colspan=4>数量过少，不报告 · too few to report</td></tr>"
    return (
        f"<tr>{counts}"
        + "".join(
            f"<td>{_interval(v, k)}</td>"
            for k in ("auc", "brier", "false_positive_rate", "false_negative_rate")
        )
        + "</tr>"
    )


def _calibration_html(cal: dict[str, Any] | None) -> str:
    if not cal:
        return ""
    warning = cal.get("warning")
    box = (
        f'<p class="warning" style="color:#b00;font-weight:bold">⚠ {html.escape(warning["zh"])}'
        f"<br>{html.escape(warning['en'])}</p>"
        if warning
        else ""
    )
    return (
        f"<h2>校准 · Calibration</h2>{box}<p>slope {cal['slope']:.3f}, intercept "
        f"{cal['intercept']:.3f} (acceptable slope {cal['slope_range'][0]}–"
        f"{cal['slope_range'][1]}; {html.escape(cal['method'])})</p>"
    )


def _advisory(use: dict[str, Any] | None) -> str:
    if not use:
        return ""
    return (
        f'<p class="advisory"><strong>{html.escape(use["advisory_zh"])} · '
        f"{html.escape(use['advisory_en'])}</strong></p>"
    )


def _use_html(use: dict[str, Any] | None) -> str:
    if not use:
        return ""
    items_zh = "".join(f"<li>{html.escape(x)}</li>" for x in use["out_of_scope_zh"])
    items_en = "".join(f"<li>{html.escape(x)}</li>" for x in use["out_of_scope_en"])
    return (
        f"<h2>用途 · Intended use</h2><p>{html.escape(use['intended_zh'])}<br>"
        f"{html.escape(use['intended_en'])}</p><h3>不适用范围 · Out of scope</h3>"
        f"<ul>{items_zh}</ul><ul>{items_en}</ul>{_advisory(use)}"
    )


def _checks_html(checks: dict[str, Any] | None) -> str:
    if not checks:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(s['feature'])}</td><td>{html.escape(s['check'])}</td>"
        f"<td>{_fmt(s['figure'])}</td><td>允许 allowed</td></tr>"
        for s in checks.get("suspects", [])
    )
    top = ", ".join(
        f"{html.escape(t['feature'])} {t['auc']:.3f}"
        for t in checks.get("highest_single_feature_auc", [])
    )
    return f"<h2>数据检查 · Leakage checks</h2><p>highest single-feature AUC: {top or '–'}</p>" + (
        f"<table><tr><th>feature</th><th>check</th><th>figure</th><th></th></tr>{rows}</table>"
        if rows
        else "<p>no suspect feature · 未发现可疑特征</p>"
    )
