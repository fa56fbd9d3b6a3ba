"""Issue 19, points 2 and 4: leakage checks before training, honest model cards."""

from __future__ import annotations

import json
from html import escape

import numpy as np
import pandas as pd
import pytest

from corrections.cli import main
from corrections.risk import checks, report, training


def _foreign(n: int = 800, seed: int = 1) -> pd.DataFrame:
    """A table like another system's: one real signal, a group column, a label as text."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 1)))
    return pd.DataFrame(
        {
            "score": x,
            "district": rng.choice(["A", "B", "C"], size=n),
            "Sex": rng.choice(["F", "M"], size=n),
            "outcome": np.where(y, "Tech", "New"),
        }
    )


def _train(runner, path, out, *extra):
    return runner.invoke(
        main,
        [
            "risk", "train", "--table", str(path), "--label", "outcome", "--positive", "Tech",
            "--group", "Sex", "--out", str(out), *extra,
        ],
    )  # fmt: skip


def test_a_leaky_table_is_refused_naming_the_feature_and_allowed_suspects_go_in_the_card(
    tmp_path, runner
):
    table = _foreign()
    rng = np.random.default_rng(2)
    # Days to the outcome: recorded only for those who had it (missingness is the label).
    table["days_to_return"] = np.where(
        table["outcome"] == "Tech", rng.integers(10, 900, len(table)), np.nan
    )
    path = tmp_path / "leaky.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "leaky-model"
    result = _train(runner, path, out)
    assert result.exit_code != 0
    assert "days_to_return" in result.output
    assert "拒绝训练" in result.output and "AUC 1.0" in result.output  # Chinese, with the figure
    assert "--allow-suspect" in result.output
    assert not (out / "card.json").exists()

    result = _train(runner, path, out, "--allow-suspect", "days_to_return")
    assert result.exit_code == 0, result.output
    assert "allowed suspect days_to_return" in result.output
    card = json.loads((out / "card.json").read_text())
    assert card["data_checks"]["allowed"] == ["days_to_return"]
    suspect = card["data_checks"]["suspects"][0]
    assert suspect == {
        "feature": "days_to_return",
        "check": "single_feature_auc",
        "figure": 1.0,
        "allowed": True,
    }
    top = card["data_checks"]["highest_single_feature_auc"][0]
    assert top == {"feature": "days_to_return", "auc": 1.0}
    assert "days_to_return" in (out / "card.html").read_text()


def test_allowing_a_column_that_is_not_a_feature_is_refused(tmp_path, runner):
    path = tmp_path / "t.csv"
    _foreign(300).to_csv(path, index=False)
    result = _train(runner, path, tmp_path / "o", "--allow-suspect", "nope")
    assert result.exit_code != 0 and "--allow-suspect" in result.output and "nope" in result.output


def _prepare(table, **spec):
    prep = training.prepare(table, training.Spec(label="outcome", positive="Tech", **spec))
    return prep


def test_each_check_finds_its_kind_of_leak_and_spares_honest_columns():
    table = _foreign(600)
    y_text = table["outcome"]
    table["outcome_copy"] = y_text  # the label again, as text
    table["flag"] = np.where(y_text == "Tech", "closed", "open")  # constant within classes
    ids = [f"id{i}" for i in range(len(table))]  # unique identifiers: no signal out of fold
    table["case_id"] = ids
    prep = _prepare(table)
    found = checks.run(table, prep.X, prep.y, "outcome")
    by = {(f.feature, f.check): f.figure for f in found.findings}
    assert by[("outcome_copy", "duplicates_label")] == 1.0
    assert ("flag", "constant_within_classes") in by
    assert by[("flag", "single_feature_auc")] == pytest.approx(1.0)
    assert not {f for f, _c in by} & {"score", "district", "case_id"}
    assert found.single_auc["case_id"] < 0.6
    assert 0.6 < found.single_auc["score"] < 0.95


def test_a_date_after_the_label_window_is_suspect_only_with_a_time_column():
    table = _foreign(400)
    months = pd.date_range("2025-01-01", periods=4, freq="MS")
    table["as_of"] = np.repeat(months.strftime("%Y-%m-%d"), 100)
    # the day the case was closed: for some rows after the 90-day window
    closed = pd.to_datetime(table["as_of"]) + pd.to_timedelta(
        np.where(np.arange(400) % 10 == 0, 200, 30), unit="D"
    )
    table["closed_on"] = closed.dt.strftime("%Y-%m-%d")
    prep = _prepare(table, time_column="as_of")
    found = checks.run(table, prep.X, prep.y, "outcome", time=prep.time, label_window_days=90)
    [finding] = [f for f in found.findings if f.check == "dated_after_label_window"]
    assert finding.feature == "closed_on" and finding.figure == pytest.approx(0.1)
    assert "closed_on" in finding.message().render("zh") and "0.1" in finding.message()
    untimed = checks.run(table, prep.X, prep.y, "outcome")
    assert not [f for f in untimed.findings if f.check == "dated_after_label_window"]


def test_an_inverted_model_gets_the_calibration_warning_in_its_card(tmp_path, runner):
    """Trained on months where a higher score means more outcomes, evaluated on months where
    it means fewer: the hold-out calibration slope is negative, and the card says so."""
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.normal(size=n)
    month = np.repeat(np.arange(10), n // 10)
    sign = np.where(month >= 8, -1.0, 1.0)  # the hold-out is the last 20% of months
    y = rng.random(n) < 1 / (1 + np.exp(-(2.0 * sign * x - 0.5)))
    table = pd.DataFrame(
        {
            "score": x,
            # a group too small to report (a handful of positives) beside two large ones
            "Sex": np.where(np.arange(n) % 50 == 0, "X", rng.choice(["F", "M"], size=n)),
            "as_of": [f"2025-{m + 1:02d}" for m in month],
            "outcome": np.where(y, "Tech", "New"),
        }
    )
    path = tmp_path / "drifted.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "inverted"
    result = _train(runner, path, out, "--time-column", "as_of")
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    cal = card["calibration"]
    assert cal["slope"] < 0 and card["metrics"]["auc"] < 0.5
    assert "倒置" in cal["warning"]["zh"] and "Inverted" in cal["warning"]["en"]
    assert "倒置" in result.output
    page = (out / "card.html").read_text()
    assert escape(cal["warning"]["zh"]) in page and escape(cal["warning"]["en"]) in page
    assert "仅供参考，不作决定" in page and "Advisory only, never decides" in page
    assert card["use"]["out_of_scope_zh"] and card["use"]["out_of_scope_en"]

    groups = card["group_report"]["Sex"]
    assert groups["min_count"] == 30
    small = groups["groups"]["X"]
    assert small["suppressed"] and small["auc"] is None and small["intervals"] is None
    assert small["positives"] + small["negatives"] == small["n"] < 30
    assert groups["gaps_among"] == ["F", "M"]
    for g in ("F", "M"):
        big = groups["groups"][g]
        assert not big["suppressed"] and big["positives"] >= 30 and big["negatives"] >= 30
        lo, hi = big["intervals"]["auc"]
        assert lo <= big["auc"] <= hi
    assert groups["largest_gaps"]["auc"] == pytest.approx(
        abs(groups["groups"]["F"]["auc"] - groups["groups"]["M"]["auc"])
    )
    assert "too few to report" in page


def test_calibration_slope_of_a_calibrated_and_an_inverted_prediction():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.9, 5000)
    y = (rng.random(5000) < p).astype(int)
    good = report.calibration(y, p)
    assert 0.8 <= good["slope"] <= 1.2 and abs(good["intercept"]) < 0.2
    assert good["warning"] is None
    bad = report.calibration(y, 1 - p)
    assert bad["slope"] < 0 and "倒置" in bad["warning"]["zh"]
    # too extreme: the logits doubled
    extreme = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert "过于极端" in report.calibration(y, extreme)["warning"]["zh"]


def test_the_minimum_group_count_is_configurable():
    rng = np.random.default_rng(3)
    values = np.array(["a"] * 40 + ["b"] * 400)
    y = np.r_[np.tile([0, 1], 20), (rng.random(400) < 0.3).astype(int)]
    p = np.clip(y * 0.3 + rng.uniform(0, 0.6, 440), 0, 1)
    default = report.group_report(values, y, p, 0.5)
    assert default["groups"]["a"]["suppressed"] and default["largest_gaps"]["auc"] is None
    assert default["groups"]["a"]["positives"] == default["groups"]["a"]["negatives"] == 20
    low = report.group_report(values, y, p, 0.5, min_count=20)
    assert not low["groups"]["a"]["suppressed"] and low["largest_gaps"]["auc"] is not None
