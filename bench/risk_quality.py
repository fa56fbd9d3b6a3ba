"""Risk model quality: generated data against the best achievable, real tables against defaults.

1. Generated data: a fresh SQLite city (``--persons``, 24 months of history, fixed seed and
   date), exported with the generator's true 90-day probabilities, trained with the same
   command line as the default model. Prints the model's hold-out AUC beside the AUC of the
   true probabilities on the same rows (the best achievable), and the calibration error.
2. Real tables (``../shared/datasets``): our training beside scikit-learn's default
   LogisticRegression and HistGradientBoostingClassifier, all on the same hold-out split.

    python bench/risk_quality.py [--persons 20000] [--skip-generated] [--datasets DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrections.risk import artifact, report, training  # noqa: E402
from corrections.risk.export import read_table  # noqa: E402
from corrections.risk.scorer import Scorer  # noqa: E402

AS_OF = "2026-11-28"
EXPORT = ("2025-06-01", "2026-08-29")
DEFAULT_MODEL_ARGS = [
    "--label", "lost_contact_90d",
    "--drop", "subject", "--drop", "gender",
    "--group", "gender_group", "--group", "age_group", "--group", "juvenile_group",
    "--group", "district",
    "--time-column", "as_of",
]  # fmt: skip

IOWA_LEAKS = [
    "Return to Prison",
    "Days to Return",
    "Recidivism Type",
    "New Offense Classification",
    "New Offense Type",
    "New Offense Sub Type",
    "Recidivism Reporting Year",
]


def _iowa(label: str, positive: str) -> training.Spec:
    return training.Spec(
        label=label,
        positive=positive,
        drop=[c for c in IOWA_LEAKS if c != label],
        group=["Sex", "Age At Release ", "Race - Ethnicity"],
    )


REAL = [
    ("Iowa, technical violation", "iowa-recidivism-3y.csv", _iowa("Recidivism Type", "Tech")),
    ("Iowa, return to prison", "iowa-recidivism-3y.csv", _iowa("Return to Prison", "Yes")),
    (
        "NIJ Georgia, 3-year",
        "nij-georgia-recidivism-onehot.csv",
        training.Spec(
            label="Recidivism_Within_3years",
            drop=["ID", "Gender_F", "Race_WHITE"],
            group=["Gender_M", "Race_BLACK"],
        ),
    ),
]


def _cli(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "corrections.cli", *args], check=True, env=env)


def generated(persons: int, work: Path) -> None:
    db = work / "bench.db"
    env = {
        **os.environ,
        "CORRECTIONS_DATABASE_URL": f"sqlite:///{db}",
        "CORRECTIONS_INSTANCE_PATH": str(work),
        "CORRECTIONS_SECRET_KEY": "bench-secret-key-0123456789-0123456789-01",
    }
    t0 = time.perf_counter()
    _cli("db", "upgrade", env=env)
    _cli("demo", "seed", "--persons", str(persons), "--history-months", "24", "--as-of", AS_OF,
         env=env)  # fmt: skip
    seeded = time.perf_counter() - t0
    # the export with the generator's truth goes through the Python API (never the CLI)
    code = f"""
import sys
from datetime import date
from corrections import create_app
from corrections.core.db import db
from corrections.core.clock import now_utc
from corrections.risk import export
from corrections.demo.history import add_true_probability
app = create_app()
with app.app_context():
    table, res = export.build(db.session, start=date.fromisoformat("{EXPORT[0]}"),
        end=date.fromisoformat("{EXPORT[1]}"), every_days=30, key=b"bench", now=now_utc(),
        enrich=add_true_probability)
    table.to_parquet(sys.argv[1], index=False)
"""
    table_path = work / "snapshots.parquet"
    subprocess.run([sys.executable, "-c", code, str(table_path)], check=True, env=env)
    exported = time.perf_counter() - t0 - seeded
    out = work / "model"
    _cli("risk", "train", "--table", str(table_path), *DEFAULT_MODEL_ARGS, "--drop",
         "true_probability", "--out", str(out), env=env)  # fmt: skip
    trained = time.perf_counter() - t0 - seeded - exported
    table = read_table(table_path)
    card = artifact.read_card(out)
    cut = card["data"]["split"].removeprefix("time >= ")
    hold = table[table["as_of"] >= cut]
    scorer = Scorer(artifact.load(out))
    p = scorer.probability(scorer.prepare(hold))
    y = hold["lost_contact_90d"].to_numpy()
    best = roc_auc_score(y, hold["true_probability"])
    auc = roc_auc_score(y, p)
    print(f"\n== generated data: {persons} persons, 24 months, seed fixed ==")
    print(f"seed {seeded:.0f} s, export {exported:.0f} s, train {trained:.0f} s; "
          f"{len(table)} rows, hold-out {len(hold)} rows (as_of >= {cut})")  # fmt: skip
    print(f"{'':28}{'AUC':>8}{'Brier':>9}{'ECE':>8}")
    print(f"{'true probability (best)':28}{best:8.4f}"
          f"{brier_score_loss(y, hold['true_probability']):9.4f}"
          f"{report.ece(y, hold['true_probability'].to_numpy()):8.4f}")  # fmt: skip
    print(f"{'model (' + card['model']['chosen'] + ')':28}{auc:8.4f}"
          f"{brier_score_loss(y, p):9.4f}{report.ece(y, p):8.4f}")  # fmt: skip
    ratio = auc / best
    print(f"AUC ratio {ratio:.3f} (target >= 0.95): {'PASS' if ratio >= 0.95 else 'FAIL'}; "
          f"ECE {report.ece(y, p):.4f} (target <= 0.03): "
          f"{'PASS' if report.ece(y, p) <= 0.03 else 'FAIL'}")  # fmt: skip


def _baselines(features):
    num, cat = training._columns(features)
    onehot = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    lr = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        (
                            "num",
                            Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                            num,
                        ),
                        ("cat", onehot, cat),
                    ]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    )
    hgb = Pipeline(
        [
            ("pre", training.native_categories(num, cat)),
            (
                "model",
                HistGradientBoostingClassifier(
                    categorical_features=[False] * len(num) + [True] * len(cat)
                ),
            ),
        ]
    )
    return {"default LogisticRegression": lr, "default HistGradientBoosting": hgb}


def real(datasets: Path, work: Path) -> bool:
    ok = True
    for title, name, spec in REAL:
        path = datasets / name
        if not path.is_file():
            print(f"\n== {title}: {path} missing, skipped ==")
            continue
        t0 = time.perf_counter()
        trained = training.train(path, spec, work / f"real-{len(title)}")
        took = time.perf_counter() - t0
        prep = training.prepare(read_table(path), spec)
        train_idx, test_idx, split = training.holdout_split(prep, spec.seed)
        y_test = prep.y[test_idx]
        rows = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the default LR may not converge: it is a default
            for label, model in _baselines(prep.features).items():
                model.fit(prep.X.iloc[train_idx], prep.y[train_idx])
                p = model.predict_proba(prep.X.iloc[test_idx])[:, 1]
                rows[label] = (roc_auc_score(y_test, p), brier_score_loss(y_test, p))
        m = trained.card["metrics"]
        ours = (m["auc"], m["brier"])
        print(f"\n== {title} ({len(prep.y)} rows, {split}, base rate {prep.y.mean():.3f}) ==")
        print(f"{'':34}{'AUC':>8}{'Brier':>9}")
        for label, (a, b) in rows.items():
            print(f"{label:34}{a:8.4f}{b:9.4f}")
        print(f"{'ours (' + trained.card['model']['chosen'] + ')':34}{ours[0]:8.4f}{ours[1]:9.4f}"
              f"   ({took:.0f} s)")  # fmt: skip
        best_auc = max(a for a, _ in rows.values())
        best_brier = min(b for _, b in rows.values())
        passed = ours[0] >= best_auc and ours[1] <= best_brier
        ok &= passed
        print(
            f"AUC >= {best_auc:.4f} and Brier <= {best_brier:.4f}: {'PASS' if passed else 'FAIL'}"
        )
        for g, rep in trained.card["group_report"].items():
            gaps = ", ".join(
                f"{k} {v:.3f}" for k, v in rep["largest_gaps"].items() if v is not None
            )
            print(f"  group gaps by {g!r}: {gaps}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--skip-generated", action="store_true")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="risk-quality-") as tmp:
        work = Path(tmp)
        if not args.skip_real:
            real(args.datasets, work)
        if not args.skip_generated:
            generated(args.persons, work)


if __name__ == "__main__":
    main()
