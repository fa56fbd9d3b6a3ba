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


def group_report(values: np.ndarray, y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    flagged = p >= threshold
    groups: dict[str, dict[str, Any]] = {}
    for g in sorted(set(values)):
        m = values == g
        yg, pg, fg = y[m], p[m], flagged[m]
        neg, pos = (yg == 0), (yg == 1)
        groups[str(g)] = {
            "n": int(m.sum()),
            "positives": int(pos.sum()),
            "auc": float(roc_auc_score(yg, pg)) if 0 < pos.sum() < m.sum() else None,
            "brier": float(brier_score_loss(yg, pg, labels=[0, 1])),
            "false_positive_rate": float(fg[neg].mean()) if neg.any() else None,
            "false_negative_rate": float((~fg[pos]).mean()) if pos.any() else None,
            "flagged_rate": float(fg.mean()),
        }
    gaps = {}
    for key in ("auc", "brier", "false_positive_rate", "false_negative_rate"):
        vals = [v[key] for v in groups.values() if v["n"] >= MIN_GROUP and v[key] is not None]
        gaps[key] = float(max(vals) - min(vals)) if len(vals) >= 2 else None
    return {"threshold": float(threshold), "groups": groups, "largest_gaps": gaps}


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
    ax.plot(xs, ys, "o-", label=f"ECE {card['metrics']['ece']:.3f}")
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
        body = "".join(
            f"<tr><td>{html.escape(g)}</td><td>{v['n']}</td><td>{v['positives']}</td>"
            f"<td>{_fmt(v['auc'])}</td><td>{_fmt(v['brier'])}</td>"
            f"<td>{_fmt(v['false_positive_rate'])}</td><td>{_fmt(v['false_negative_rate'])}</td></tr>"
            for g, v in rep["groups"].items()
        )
        gaps = ", ".join(f"{k} {_fmt(v)}" for k, v in rep["largest_gaps"].items())
        group_html += (
            f"<h3>{html.escape(col)}</h3><table><tr><th>group</th><th>n</th><th>positives</th>"
            f"<th>AUC</th><th>Brier</th><th>FPR</th><th>FNR</th></tr>{body}</table>"
            f"<p>largest gaps: {gaps}</p>"
        )
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
<h2>分组评估 · Per-group report (threshold {card["alert_threshold"]:.4f})</h2>{group_html}
<h2>特征 · Features</h2><p>{features}</p>
<p>Group columns audit the model and are not features. Hold-out figures; see card.json.</p>
</body></html>
"""
    (out / "card.html").write_text(page, encoding="utf-8")
