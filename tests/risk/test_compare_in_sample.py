"""Hostile review of 23bf944: a challenger trained on this database's own export with a random
hold-out (the `risk train` default: no --time-column) is compared on rows it was fitted on.
Measured: its AUC on the comparison 0.934 against its card's hold-out AUC 0.845 (the shipped
model 0.693), verdict "not shown worse", and `risk activate` activated it without --force and
without printing the caution. The days it was fitted on are unknown, so the comparison proves
nothing: activation must need --force --reason (and say why)."""

from __future__ import annotations

from sqlalchemy import select

from corrections.cli import main
from corrections.core.db import db
from corrections.risk import report, training
from corrections.risk.models import RiskModel
from tests.conftest import TEST_NOW
from tests.support.risk_models import sign_in_place


def _risk(runner, *args):
    return runner.invoke(main, ["risk", *args])


def test_a_model_fitted_on_unknown_days_of_this_database_needs_force(
    app, runner, tmp_path, monkeypatch
):
    from corrections.demo.generator import build_persons

    models = tmp_path / "models"
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(models))
    monkeypatch.setitem(app.config, "RISK_EXPORT_MIN_K", 2)
    monkeypatch.setitem(app.config, "RISK_COMPARE_BOOTSTRAP", 100)
    monkeypatch.setattr(report, "BOOTSTRAP", 20)
    with app.app_context():
        build_persons(db.session, count=2000, seed=5, now=TEST_NOW, history_months=12)
        db.session.commit()
        db.session.remove()
    assert _risk(runner, "activate-shipped").exit_code == 0
    table = tmp_path / "own.csv"
    result = _risk(
        runner, "export", "--from", "2025-12-01", "--to", "2026-08-28", "--out", str(table)
    )
    assert result.exit_code == 0, result.output
    spec = training.Spec(
        label="lost_contact_90d",
        drop=["subject", "gender", "as_of"],
        group=["gender_group", "age_group", "juvenile_group", "district"],
        time_column=None,  # stratified random hold-out: the days fitted on are not known
        version="own-export",
        candidates=["gradient_boosting_deep"],
    )
    trained = training.train(table, spec, models / "own-export")
    assert trained.card["data"]["rows_train"] >= app.config["RISK_MIN_TRAINING_ROWS"]
    sign_in_place(app, models / "own-export")
    result = _risk(runner, "activate", "own-export")
    assert result.exit_code == 1, result.output
    assert "own-export" in result.output  # the caution / refusal names it
    with app.app_context():
        active = db.session.scalars(select(RiskModel.version).where(RiskModel.active)).all()
        db.session.remove()
    assert active == ["default-2026.11"]
