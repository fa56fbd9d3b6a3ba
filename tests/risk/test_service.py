"""Activation, nightly scoring, alerts and flags, the person and model endpoints, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from corrections.alerts.models import Alert
from corrections.audit.models import AuditEntry
from corrections.cli import main
from corrections.core.db import db
from corrections.incidents.models import Flag
from corrections.persons.models import Person
from corrections.risk import service
from corrections.risk.models import RiskModel, RiskScore
from tests.conftest import TEST_NOW
from tests.risk.conftest import flip_byte
from tests.supervision.conftest import event
from tests.support.risk_models import copy_version, edit_card, read_card, sign_in_place


def _activate(runner, version="test-model", *extra):
    return runner.invoke(main, ["risk", "activate", version, *extra])


def _copy_with_auc(app, models_dir, version: str, auc: float, **card_changes):
    """Another version of the test model whose card claims ``auc`` (re-checksummed and signed
    here, as a model retrained on this instance would be)."""
    target = copy_version(models_dir, "test-model", version)
    metrics = {**read_card(target)["metrics"], "auc": auc}
    card = edit_card(target, metrics=metrics, **card_changes)
    sign_in_place(app, target)
    return card


def test_activate_is_audited_and_the_cards_auc_decides_nothing(app, runner, models_dir):
    """A card's hold-out AUC was measured on its own data: activation compares models on
    this database's snapshots instead (test_compare.py). The same model file under another
    name, whatever its card claims, has nothing to compare."""
    result = _activate(runner)
    assert result.exit_code == 0, result.output
    base = json.loads((models_dir / "test-model" / "card.json").read_text())["metrics"]["auc"]
    _copy_with_auc(app, models_dir, "worse", base - 0.05)
    result = _activate(runner, "worse", "--force")
    assert result.exit_code != 0 and "reason" in result.output
    result = _activate(runner, "worse", "--force", "--reason", "new data source, reviewed")
    assert result.exit_code == 0, result.output
    with app.app_context():
        active = db.session.scalars(select(RiskModel).where(RiskModel.active.is_(True))).all()
        assert [m.version for m in active] == ["worse"]
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "risk.model.activate")
        ).all()
        assert [e.subject_id for e in entries] == ["test-model", "worse"]
        assert entries[1].detail["forced"] is True
        db.session.remove()


def test_activate_refuses_a_model_whose_features_the_service_does_not_compute(
    app, runner, models_dir
):
    card = json.loads((models_dir / "test-model" / "card.json").read_text())
    features = [*card["features"], {"name": "shoe_size", "type": "numeric", "typical": 42}]
    _copy_with_auc(app, models_dir, "foreign", card["metrics"]["auc"], features=features)
    result = _activate(runner, "foreign")
    assert result.exit_code != 0 and "shoe_size" in result.output


def test_activate_refuses_a_flipped_byte(runner, models_dir):
    flip_byte(models_dir / "test-model" / "model.skops")
    result = _activate(runner)
    assert result.exit_code != 0 and "sha256" in result.output


def test_scoring_stores_scores_alerts_once_and_proposes_flags(
    app, runner, models_dir, active, officer, login, run_job
):
    assert run_job("risk_scoring")["counts"] == {
        "scored": 0,
        "model": None,
        "high": 0,
        "entered_high": 0,
        "alerts": 0,
        "flags_proposed": 0,
    }
    assert _activate(runner).exit_code == 0
    calm, risky = active(), active()
    for days_ago in range(1, 8):  # a week of failed checks, missed reports don't apply yet
        at = (TEST_NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
        assert (
            event(
                officer,
                risky["id"],
                "phone_check",
                occurred_at=at,
                payload={"success": False},
                channel="phone",
            ).status_code
            == 201
        )
    run = run_job("risk_scoring", at=TEST_NOW + timedelta(hours=1))
    assert run["status"] == "succeeded", run
    assert run["counts"]["scored"] == 2 and run["counts"]["model"] == "test-model"
    with app.app_context():
        scores = {s.person_id: s for s in db.session.scalars(select(RiskScore)).all()}
        assert scores[risky["id"]].probability > scores[calm["id"]].probability
        assert scores[risky["id"]].band == "high"
        top = scores[risky["id"]].reasons[0]
        assert top["feature"].startswith("failed_checks") or top["feature"].startswith("days_")
        alerts = db.session.scalars(select(Alert).where(Alert.kind == "high_risk")).all()
        assert [a.person_id for a in alerts] == [risky["id"]]
        assert alerts[0].detail["model_version"] == "test-model"
        # About the person (not "person #0"); the score that raised it is in the detail.
        assert (alerts[0].subject_type, alerts[0].subject_id) == ("person", risky["id"])
        assert alerts[0].detail["score_id"] == scores[risky["id"]].id
        flag = db.session.scalar(select(Flag).where(Flag.person_id == risky["id"]))
        assert flag.status == "proposed" and flag.basis == "risk_model"
        # advice only: the grade and status did not move
        person = db.session.get(Person, risky["id"])
        assert (person.grade, person.status) == ("tight", "active")
        db.session.remove()
    # the next night: still high, no second alert or flag
    run = run_job("risk_scoring", at=TEST_NOW + timedelta(days=1))
    assert run["counts"]["entered_high"] == 0
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Alert).where(Alert.kind == "high_risk")
            )
            == 1
        )
        assert db.session.scalar(select(func.count()).select_from(RiskScore)) == 4
        db.session.remove()

    # the person's risk: latest with reasons in Chinese and English, and history; audited
    api = login("officer-dongcheng-1")
    body = api.get(f"/api/v1/persons/{risky['id']}/risk").get_json()
    assert body["latest"]["band"] == "high" and body["latest"]["band_label_zh"] == "高"
    reason = body["latest"]["reasons"][0]
    assert reason["label_zh"] and reason["label_en"] and reason["effect"] > 0
    assert len(body["history"]) == 2
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "risk.read", AuditEntry.subject_id == str(risky["id"]))
            )
            == 1
        )
        db.session.remove()
    # out of scope: another district's officer cannot see it
    other = login("officer-xicheng-1")
    assert other.get(f"/api/v1/persons/{risky['id']}/risk").status_code == 404

    # An alert an earlier release raised about ("person", 0): while it is live, the person
    # entering the high band again (no earlier score) gets no second one beside it.
    with app.app_context():
        db.session.execute(update(Alert).where(Alert.kind == "high_risk").values(subject_id=0))
        db.session.execute(delete(RiskScore).where(RiskScore.person_id == risky["id"]))
        db.session.commit()
        db.session.remove()
    run = run_job("risk_scoring", at=TEST_NOW + timedelta(days=2))
    assert (run["counts"]["entered_high"], run["counts"]["alerts"]) == (1, 0)


def test_the_scoring_job_refuses_an_artifact_changed_after_activation(
    app, runner, models_dir, active, run_job
):
    active()
    assert _activate(runner).exit_code == 0
    service._cache.clear()
    flip_byte(models_dir / "test-model" / "model.skops")
    run = run_job("risk_scoring")
    assert run["status"] == "failed"
    assert "ArtifactError" in str(run)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskScore)) == 0
        db.session.remove()


def test_models_endpoint_lists_versions_and_the_active_one(runner, models_dir, login):
    assert _activate(runner).exit_code == 0
    body = login("analyst").get("/api/v1/risk/models").get_json()
    assert body["active"] == "test-model"
    model = body["models"][0]
    assert model["active"] and model["card"]["metrics"]["auc"] > 0.5
    assert "gender_group" in model["card"]["groups"]
    assert login("officer-dongcheng-1").get("/api/v1/risk/models").status_code == 403


def test_export_api_is_for_analysts_and_city_only_pseudonymised_and_audited(
    app, login, active, clock
):
    person = active(name="欧阳明", phone="13900001111")
    for _ in range(4):  # alike: every row is in a class of five persons
        active()
    clock.set(TEST_NOW + timedelta(days=200))
    body = {"from": "2026-11-28", "to": "2027-02-20", "every_days": 28, "note": "季度模型复核"}
    assert login("officer-dongcheng-1").post("/api/v1/risk/exports", json=body).status_code == 403
    resp = login("analyst").post("/api/v1/risk/exports", json=body)
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["as_of"] for r in rows} == {"2026-11", "2026-12", "2027-01", "2027-02"}
    # Five persons, four snapshots: every row has a pseudonym of its own (issue 12, finding 8).
    assert len(rows) == 20 and len({r["subject"] for r in rows}) == 20
    assert "欧阳明" not in text and "13900001111" not in text and person["id_number"] not in text
    assert "person_id" not in rows[0] and len(rows[0]["subject"]) == 24
    assert rows[0]["lost_contact_90d"] in ("0", "1")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "risk.export"))
        assert entry.actor_username == "analyst" and entry.detail["rows"] == len(rows)
        assert entry.detail["export_id"] == resp.headers["Export-Id"]
        assert entry.detail["k"] == int(resp.headers["Export-K"]) == 5
        db.session.remove()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"from": "2026-01-01", "to": "2025-01-01", "note": "x1"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-01", "every_days": 1, "note": "xx"}, "every_days"),
        ({"from": "2026-01-01", "to": "2026-02-01"}, "note"),
    ],
)
def test_export_api_rejects_bad_input_naming_the_field(login, body, field):
    resp = login("city").post("/api/v1/risk/exports", json=body)
    assert resp.status_code == 422
    assert resp.mimetype == "application/problem+json"
    assert field in json.dumps(resp.get_json()["errors"])
