"""Issue 19, point 3: champion and challenger on the same data.

An analyst's model trained on the 300-person demo export replaced the shipped model (fitted
on 90,000 rows) without --force, because activation compared the hold-out AUCs of two cards
measured on different data. Activation now scores both models on this database's recent
snapshots whose 90-day outcomes are known, and refuses, with the figures side by side, a
challenger worse beyond the paired bootstrap interval, one fitted on fewer rows than
RISK_MIN_TRAINING_ROWS, or any when no comparison can be made, unless --force --reason."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import select, text

from corrections.audit.models import AuditEntry
from corrections.cli import main
from corrections.core.db import db
from corrections.core.i18n import Message
from corrections.risk import compare, report, service, training
from tests.conftest import TEST_NOW
from tests.support.risk_models import active_versions, copy_version, sign_in_place

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
DEMO = "demo-300"


def _risk(runner, *args):
    return runner.invoke(main, ["risk", *args])


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def _seed(app, count: int, seed: int) -> None:
    from corrections.demo.generator import build_persons

    with app.app_context():
        build_persons(db.session, count=count, seed=seed, now=TEST_NOW, history_months=12)
        db.session.commit()
        db.session.remove()


def _empty_but_the_city(app) -> None:
    """Every row but the city's units and accounts: another instance's persons next."""
    keep = {"units", "users"}
    Path(app.config["AUDIT_CHECKPOINT_PATH"]).unlink(missing_ok=True)  # a new trail
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in keep]
        with db.engine.begin() as conn:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
        db.session.remove()


@pytest.fixture
def instance(app, runner, tmp_path, monkeypatch):
    """The analyst's model, trained on the export of a 300-person demo city (a small model:
    logistic regression only, to keep the test fast) and signed here; then this instance's
    own city (1,200 persons, another seed, a year of history) with the shipped model
    active. Returns the models directory."""
    models = tmp_path / "models"
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(models))
    monkeypatch.setitem(app.config, "RISK_EXPORT_MIN_K", 2)  # 300 persons: few per class
    # Fewer resamples than the defaults (200): the per-group intervals take most of the time.
    monkeypatch.setitem(app.config, "RISK_COMPARE_BOOTSTRAP", 100)
    monkeypatch.setattr(report, "BOOTSTRAP", 40)
    _seed(app, 300, seed=1)
    table = tmp_path / "demo.csv"
    result = _risk(
        runner, "export", "--from", "2025-12-01", "--to", "2026-08-28", "--out", str(table)
    )
    assert result.exit_code == 0, result.output
    spec = training.Spec(
        label="lost_contact_90d",
        drop=["subject", "gender"],
        group=["gender_group", "age_group", "juvenile_group", "district"],
        time_column="as_of",
        version=DEMO,
        candidates=["logistic_regression"],
    )
    trained = training.train(table, spec, models / DEMO)
    sign_in_place(app, models / DEMO)
    assert trained.card["data"]["rows_train"] < app.config["RISK_MIN_TRAINING_ROWS"]
    _empty_but_the_city(app)
    _seed(app, 1200, seed=5)
    result = _risk(runner, "activate-shipped")
    assert result.exit_code == 0, result.output
    return models


def test_acceptance_a_model_trained_on_the_demo_export_does_not_replace_the_shipped_one(
    app, runner, instance
):
    # `risk compare`: both models' AUC and Brier with intervals, on the same snapshots.
    result = _risk(runner, "compare", service.DEFAULT_MODEL, DEMO)
    assert result.exit_code == 0, result.output
    assert "同一数据上的比较" in result.output
    (auc_line,) = [line for line in result.output.splitlines() if line.startswith("AUC ")]
    assert auc_line.count("[") == 3  # champion, challenger, difference: each with its interval
    assert f"{service.DEFAULT_MODEL}（当前启用）" in result.output
    assert f"{DEMO}（候选）" in result.output
    (compared,) = _audit(app, "risk.model.compare")
    figures = compared.detail["models"]
    assert figures["champion"]["version"] == service.DEFAULT_MODEL
    assert figures["challenger"]["version"] == DEMO
    # The analyst's export is left out where it could flatter it: the days from its
    # hold-out on only (its split is by snapshot month).
    snapshot = compared.detail["snapshot"]
    assert snapshot["not_before"] == "2026-07-01" and snapshot["from"] >= "2026-07-01"
    assert snapshot["positives"] >= app.config["RISK_COMPARE_MIN_POSITIVES"]

    # Activation over the shipped model: refused, with the figures side by side.
    result = _risk(runner, "activate", DEMO)
    assert result.exit_code == 1
    assert auc_line in result.output  # the same comparison, printed in the refusal
    assert f"{DEMO} 未启用" in result.output
    assert "RISK_MIN_TRAINING_ROWS" in result.output
    for reason in compared.detail["verdict"]["worse"]:  # what it found worse is a reason
        assert "version: " in result.output and reason in result.output
    assert active_versions(app) == [service.DEFAULT_MODEL]
    assert not [e for e in _audit(app, "risk.model.activate") if e.subject_id == DEMO]

    # --force --reason: activated, and the audit keeps the comparison and what was overridden.
    result = _risk(runner, "activate", DEMO, "--force", "--reason", "试点：仅限演示库")
    assert result.exit_code == 0, result.output
    assert active_versions(app) == [DEMO]
    # It says what was overridden, in Chinese, each reason as the refusal gave it.
    assert "已用 --force 强制启用" in result.output and "RISK_MIN_TRAINING_ROWS" in result.output
    (activated,) = [e for e in _audit(app, "risk.model.activate") if e.subject_id == DEMO]
    detail = activated.detail
    assert detail["forced"] is True and detail["previous"] == service.DEFAULT_MODEL
    assert detail["comparison"]["models"] == figures
    assert detail["comparison"]["difference"] == compared.detail["difference"]
    assert any("RISK_MIN_TRAINING_ROWS" in r for r in detail["refused_for"])


def test_a_model_fitted_on_too_few_rows_is_refused_even_as_the_first(
    app, runner, models_dir, monkeypatch
):
    monkeypatch.setitem(app.config, "RISK_MIN_TRAINING_ROWS", 5000)
    result = _risk(runner, "activate", "test-model")
    assert result.exit_code == 1
    assert "训练所用行数 2400，少于 5000（RISK_MIN_TRAINING_ROWS）" in result.output
    assert active_versions(app) == []
    result = _risk(runner, "activate", "test-model", "--force", "--reason", "复核过的小模型")
    assert result.exit_code == 0, result.output
    (entry,) = _audit(app, "risk.model.activate")
    assert entry.detail["refused_for"] == [
        "fitted on 2400 rows, fewer than 5000 (RISK_MIN_TRAINING_ROWS)"
    ]


def test_without_matured_outcomes_there_is_no_comparison_and_force_is_needed(
    app, runner, models_dir
):
    """A fresh installation: no snapshot whose outcomes are known. The cards' figures do not
    stand in for the comparison."""
    assert _risk(runner, "activate", "test-model").exit_code == 0
    shutil.copytree(REPO_MODELS / service.DEFAULT_MODEL, models_dir / service.DEFAULT_MODEL)
    assert _risk(runner, "sign", service.DEFAULT_MODEL, "--by", "reviewer").exit_code == 0
    result = _risk(runner, "activate", service.DEFAULT_MODEL)
    assert result.exit_code == 1
    assert "无法比较" in result.output and "RISK_COMPARE_MIN_POSITIVES" in result.output
    assert active_versions(app) == ["test-model"]
    result = _risk(runner, "compare", "test-model", service.DEFAULT_MODEL)
    assert result.exit_code == 1 and "无法比较" in result.output
    result = _risk(
        runner, "activate", service.DEFAULT_MODEL, "--force", "--reason", "新装，无历史数据"
    )
    assert result.exit_code == 0, result.output
    activated = _audit(app, "risk.model.activate")[-1]
    assert "comparison" not in activated.detail
    assert "no comparison" in activated.detail["refused_for"][0]


def test_the_same_model_file_under_another_name_needs_no_comparison(app, runner, models_dir):
    assert _risk(runner, "activate", "test-model").exit_code == 0
    copy_version(models_dir, "test-model", "renamed")
    sign_in_place(app, models_dir / "renamed")
    result = _risk(runner, "activate", "renamed")
    assert result.exit_code == 0, result.output
    assert active_versions(app) == ["renamed"]


def test_the_bootstraps_weighted_auc_is_the_auc():
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.2).astype(int)
    p = np.round(rng.random(500) * 0.5 + 0.3 * y, 2)  # ties included
    _unique, levels = np.unique(p, return_inverse=True)
    ones = np.ones(len(y))
    assert compare._weighted_auc(levels, len(_unique), y, ones) == pytest.approx(
        roc_auc_score(y, p)
    )
    counts = rng.integers(0, 3, len(y)).astype(float)  # a resample: rows repeated or left out
    expected = roc_auc_score(np.repeat(y, counts.astype(int)), np.repeat(p, counts.astype(int)))
    assert compare._weighted_auc(levels, len(_unique), y, counts) == pytest.approx(expected)


def _result(auc_interval, brier_interval) -> dict:
    model = {"auc": 0.75, "brier": 0.06}
    return {
        "models": {"champion": model, "challenger": model},
        "difference": {
            "auc": {"value": sum(auc_interval) / 2, "interval": auc_interval},
            "brier": {"value": sum(brier_interval) / 2, "interval": brier_interval},
        },
    }


@pytest.mark.parametrize(
    ("auc", "brier", "reasons"),
    [
        ([-0.08, -0.01], [-0.01, 0.01], ["AUC"]),  # the AUC interval below zero
        ([-0.08, 0.01], [-0.01, 0.01], []),  # spans zero: not shown worse
        ([-0.01, 0.02], [0.001, 0.01], ["Brier"]),  # the Brier interval above zero
        ([-0.09, -0.02], [0.002, 0.01], ["AUC", "Brier"]),
        ([0.01, 0.05], [-0.01, -0.001], []),  # better
    ],
)
def test_the_rule_worse_beyond_the_interval(auc, brier, reasons):
    found = compare.worse(_result(auc, brier))
    assert all(isinstance(m, Message) for m in found)
    assert [m.split()[0] for m in found] == reasons


def test_the_window_ends_ninety_days_back_and_skips_the_days_a_model_was_fitted_on():
    start, end = compare.window(TEST_NOW, months=6, every_days=30)
    assert end == date(2026, 8, 29) and start == date(2026, 3, 2)
    month = {"data": {"time_column": "as_of", "split": "time >= 2026-07"}}
    day = {"data": {"time_column": "as_of", "split": "time >= 2026-05-27"}}
    random_split = {"data": {"time_column": None, "split": "stratified random 20%"}}
    assert compare.fitted_before(month) == date(2026, 7, 1)
    assert compare.fitted_before(day) == date(2026, 5, 27)
    assert compare.fitted_before(random_split) is None
