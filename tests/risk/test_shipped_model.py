"""The model the package ships, on an installation (new-user review): a wheel install keeps its
models in a folder of its own, where the shipped model is not; ``corrections risk
activate-shipped`` copies, signs and activates it, once. Until a model is active the nightly
scoring says so in its run, the log and the deep health check, instead of a quiet "scored 0"."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlalchemy import select

from corrections.audit.models import AuditEntry
from corrections.cli import main
from corrections.core.db import db
from corrections.risk import service
from corrections.risk.models import RiskModel
from tests.conftest import TEST_NOW
from tests.support.org import CLI_ACTOR
from tests.support.risk_models import active_versions

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_activate_shipped_copies_signs_and_activates_the_packaged_model_once(
    app, runner, tmp_path, monkeypatch
):
    models = tmp_path / "var-lib-models"  # the installation's own folder, empty
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(models))
    result = runner.invoke(main, ["risk", "activate-shipped", "--by", "ops-li"])
    assert result.exit_code == 0, result.output
    assert f"已将 {service.DEFAULT_MODEL} 复制到 {models}" in result.output
    assert f"启用的模型：{service.DEFAULT_MODEL}" in result.output
    assert active_versions(app) == [service.DEFAULT_MODEL]
    copied = models / service.DEFAULT_MODEL
    shipped = REPO_MODELS / service.DEFAULT_MODEL
    for name in ("model.skops", "card.json"):
        assert (copied / name).read_bytes() == (shipped / name).read_bytes()
    assert not [p for p in models.iterdir() if p.name.startswith(".")]  # no half-copied folder
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("risk.model.%"))
        ).all()
        row = db.session.get(RiskModel, service.DEFAULT_MODEL)
        assert row.card["signature"]["signed_by"] == "cli:ops-li"
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("risk.model.%"))
        ).all()
        # Who typed it too (hostile review, issue 16), as the other --by commands record.
        assert {(e.actor_username, e.detail["operator"]) for e in entries} == {
            ("cli:ops-li", CLI_ACTOR)
        }
        db.session.remove()
    assert actions == ["risk.model.sign", "risk.model.activate"]

    # Again: nothing changes, and it says so.
    again = runner.invoke(main, ["risk", "activate-shipped"])
    assert again.exit_code == 0, again.output
    assert "已是启用的模型，未做更改" in again.output
    with app.app_context():
        count = len(
            db.session.scalars(
                select(AuditEntry.id).where(AuditEntry.action.like("risk.model.%"))
            ).all()
        )
        db.session.remove()
    assert count == 2


def test_activate_shipped_leaves_a_model_the_bureau_chose(app, runner, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(tmp_path / "models"))
    with app.app_context():
        db.session.add(
            RiskModel(
                version="bureau-2027.01",
                registered_at=TEST_NOW,
                active=True,
                sha256="0" * 64,
                card_sha256="0" * 64,
                card={},
                holdout_auc=0.8,
            )
        )
        db.session.commit()
        db.session.remove()
    result = runner.invoke(main, ["risk", "activate-shipped"])
    assert result.exit_code == 0, result.output
    assert "当前启用的模型是 bureau-2027.01" in result.output
    assert active_versions(app) == ["bureau-2027.01"]
    assert not (tmp_path / "models").exists()  # nothing copied either


def test_scoring_without_an_active_model_says_so_in_its_run_and_the_log(
    app, city, run_job, client, caplog
):
    with caplog.at_level(logging.WARNING, logger="corrections.scheduler.service"):
        run = run_job("risk_scoring")
    # Not a quiet "scored 0": the run is partial and its errors say what to do.
    assert run["status"] == "partial"
    assert run["counts"]["scored"] == 0 and run["counts"]["model"] is None
    assert "没有启用的风险模型" in run["errors"]["model"]
    assert "corrections risk activate-shipped" in run["errors"]["model"]
    assert any("no active risk model" in r.getMessage() for r in caplog.records)
    deep = client.get("/healthz?deep=1").get_json()
    assert deep["checks"]["risk_model"] == {"status": "none"}


def test_with_the_shipped_model_active_scoring_runs_and_health_names_it(
    app, city, runner, run_job, client, login
):
    assert runner.invoke(main, ["risk", "activate-shipped"]).exit_code == 0
    run = run_job("risk_scoring")
    assert run["status"] == "succeeded", run
    assert run["counts"]["model"] == service.DEFAULT_MODEL and not run["errors"]
    # Named to whom may read the system's state; a monitor without a token sees the status
    # only (hostile review, issue 16: anyone learnt which model scores whom).
    deep = login("commander-dongcheng").get("/healthz?deep=1").get_json()
    assert deep["checks"]["risk_model"] == {"status": "ok", "active": service.DEFAULT_MODEL}
    for api in (client, login("officer-dongcheng-1")):
        deep = api.get("/healthz?deep=1").get_json()
        assert deep["checks"]["risk_model"] == {"status": "ok"}
        assert service.DEFAULT_MODEL not in json.dumps(deep)
    (activated,) = [e for e in _audit(app, "risk.model.activate") if e.detail.get("signed_by")]
    assert "operator" not in activated.detail  # no --by: the actor is who typed it
