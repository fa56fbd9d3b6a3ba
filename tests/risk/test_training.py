"""Offline training, cards, predict, tamper checks, faithful reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from corrections.cli import main
from corrections.risk import artifact, training
from corrections.risk.scorer import Scorer
from tests.risk.conftest import flip_byte, synthetic_table


def _predict(runner, model, table, out):
    return runner.invoke(
        main, ["risk", "predict", "--model", str(model), "--table", str(table), "--out", str(out)]
    )


def test_card_describes_data_model_metrics_groups_and_files(_trained):
    card, out = _trained.card, _trained.directory
    names = [f["name"] for f in card["features"]]
    # group, dropped, label and time columns are never features
    assert not {"gender_group", "subject", "lost_contact_90d", "as_of"} & set(names)
    assert card["data"]["rows"] == 3000
    assert card["data"]["split"].startswith("time >=")
    assert card["model"]["chosen"] in training.CANDIDATES
    assert set(card["model"]["cv_auc"]) == set(training.CANDIDATES)
    assert card["metrics"]["auc"] > 0.7  # the label really depends on three features
    assert 0 <= card["metrics"]["ece"] < 0.1
    assert card["bands"]["medium"] < card["bands"]["high"]
    report = card["group_report"]["gender_group"]
    assert set(report["groups"]) == {"male", "female"}
    assert set(report["largest_gaps"]) == {
        "auc",
        "brier",
        "false_positive_rate",
        "false_negative_rate",
    }
    assert card["artifact"]["sha256"] == artifact.sha256_file(out / "model.skops")
    assert card["libraries"]["scikit-learn"]
    for name in ("roc.png", "reliability.png", "scores_by_group.png", "card.html"):
        assert (out / name).stat().st_size > 1000
    assert (out / "model.skops").read_bytes()[:2] == b"PK"  # a skops zip, not a pickle


def test_time_column_keeps_the_hold_out_in_the_future():
    table = synthetic_table(600)
    prep = training.prepare(table, training.Spec(label="lost_contact_90d", time_column="as_of"))
    train, test, _ = training.holdout_split(prep, 0)
    assert prep.time.iloc[train].max() < prep.time.iloc[test].min()
    for a, b in training.cv_folds(prep, train, 0):
        times = prep.time.iloc[train].to_numpy()
        assert times[a].max() < times[b].min()  # folds train on the past only


def test_predict_writes_one_row_per_input_row_and_ignores_other_columns(_trained, tmp_path, runner):
    table = synthetic_table(50, seed=3)
    table["unknown_column"] = "x"
    table = table.iloc[::-1]  # any order: output follows input
    path = tmp_path / "in.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "out.csv"
    result = _predict(runner, _trained.directory, path, out)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["probability", "band", "reasons"]
    assert len(scored) == 50
    direct = Scorer(artifact.load(_trained.directory)).score(table)
    np.testing.assert_allclose(scored["probability"], direct["probability"].to_numpy())
    assert set(scored["band"]) <= {"low", "medium", "high"}


def test_predict_names_missing_feature_columns(_trained, tmp_path, runner):
    path = tmp_path / "in.csv"
    synthetic_table(20).drop(columns=["failed_checks_30d"]).to_csv(path, index=False)
    result = _predict(runner, str(_trained.directory), str(path), str(tmp_path / "o.csv"))
    assert result.exit_code != 0
    assert "failed_checks_30d" in result.output


@pytest.mark.parametrize("target", ["model.skops", "card.json"])
def test_a_flipped_byte_is_refused(_trained, tmp_path, runner, target):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(_trained.directory, copy)
    path = copy / target
    if target == "card.json":
        # flip a digit of a metric: still valid JSON, but not the card that was written
        text = path.read_text()
        i = text.index('"auc": 0.') + len('"auc": 0.')
        path.write_text(text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1 :])
    else:
        flip_byte(path)
    with pytest.raises(artifact.ArtifactError):
        artifact.load(copy)
    result = _predict(runner, str(copy), str(tmp_path / "x.csv"), str(tmp_path / "o.csv"))
    assert result.exit_code != 0


def test_a_model_of_another_library_version_is_refused(_trained, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(_trained.directory, copy)
    card = json.loads((copy / "card.json").read_text())
    card["libraries"]["scikit-learn"] = "0.24.2"
    card["card_sha256"] = artifact.card_checksum(card)
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(artifact.ArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifact.load(copy)


def test_reasons_are_faithful(_trained):
    """Setting a high-risk person's top reason to its typical value lowers the score."""
    scorer = Scorer(artifact.load(_trained.directory))
    table = synthetic_table(400, seed=11)
    X = scorer.prepare(table)
    p = scorer.probability(X)
    reasons = scorer.reasons(X, p)
    high = np.flatnonzero(scorer.band(p) == "high")
    assert high.size > 5
    typical = {f["name"]: f["typical"] for f in scorer.features}
    for i in high:
        assert reasons[i], "a high-risk person has at least one reason"
        top = reasons[i][0]["feature"]
        changed = X.iloc[[i]].copy()
        changed[top] = typical[top]
        assert scorer.probability(changed)[0] < p[i]
    # and the reasons of high-risk persons are mostly the features that drive the label
    tops = {reasons[i][0]["feature"] for i in high}
    assert tops & {"failed_checks_30d", "missed_reports_90d", "prior_lost_contact"}


def test_training_errors_name_the_option(tmp_path, runner):
    path = tmp_path / "t.csv"
    synthetic_table(100).to_csv(path, index=False)
    result = runner.invoke(
        main,
        ["risk", "train", "--table", str(path), "--label", "nope", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code != 0 and "--label" in result.output
    bad = pd.DataFrame({"a": [1, 2, 3, 4], "y": ["maybe", "no", "yes", "no"]})
    bad.to_csv(path, index=False)
    result = runner.invoke(
        main, ["risk", "train", "--table", str(path), "--label", "y", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0 and "--positive" in result.output


def test_train_cli_on_a_foreign_table_with_positive_value(tmp_path, runner):
    rng = np.random.default_rng(1)
    n = 800
    x = rng.normal(size=n)
    table = pd.DataFrame(
        {
            "score": x,
            "district": rng.choice(["A", "B", None], size=n),
            "Sex": rng.choice(["F", "M"], size=n),
            "outcome": np.where(rng.random(n) < 1 / (1 + np.exp(-(2 * x - 1))), "Tech", "New"),
            "leak": 0,
        }
    )
    path = tmp_path / "foreign.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "foreign-model"
    result = runner.invoke(
        main,
        [
            "risk",
            "train",
            "--table",
            str(path),
            "--label",
            "outcome",
            "--positive",
            "Tech",
            "--drop",
            "leak",
            "--group",
            "Sex",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert [f["name"] for f in card["features"]] == ["score", "district"]
    assert card["features"][1]["type"] == "categorical"
    assert card["data"]["split"] == "stratified random 20%"
    assert card["metrics"]["auc"] > 0.75
    assert set(card["group_report"]["Sex"]["groups"]) == {"F", "M"}
