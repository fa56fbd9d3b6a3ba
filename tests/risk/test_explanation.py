"""Issue 19, point 6: the right to an explanation of a score (PIPL art. 24)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from corrections.audit.models import AuditEntry
from corrections.cli import main
from corrections.core.db import db
from tests.conftest import TEST_NOW
from tests.supervision.conftest import event


def test_the_explanation_names_model_date_factors_and_says_the_score_decides_nothing(
    app, runner, models_dir, active, officer, login, run_job
):
    assert runner.invoke(main, ["risk", "activate", "test-model"]).exit_code == 0
    risky, unscored = active(), None
    for days_ago in range(1, 8):
        at = (TEST_NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
        resp = event(
            officer,
            risky["id"],
            "phone_check",
            occurred_at=at,
            payload={"success": False},
            channel="phone",
        )
        assert resp.status_code == 201
    run = run_job("risk_scoring", at=TEST_NOW + timedelta(hours=1))
    assert run["status"] == "succeeded", run
    unscored = active()  # activated after the run: no score yet

    api = login("officer-dongcheng-1")
    resp = api.get(f"/api/v1/persons/{risky['id']}/risk/explanation")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["scored"] is True
    assert body["model_version"] == "test-model" and body["model_created_at"]
    assert body["scored_on"] == "2026-11-27"  # 11:00 in Asia/Shanghai
    assert body["band"] == "high" and body["band_label_zh"] == "高"
    factors = body["factors"]
    assert factors and len(factors) <= 3
    top = factors[0]
    assert top["label_zh"] and top["effect"] > 0
    assert top["value"] is not None and top["typical"] is not None
    assert top["typical_basis_zh"].startswith("训练数据")
    assert "不作决定" in body["statement_zh"]
    text = body["text_zh"]
    assert "test-model" in text and "2026年11月27日" in text and "不作决定" in text
    assert top["label_zh"] in text and "第二十四条" in text
    # the same as the person's risk shows
    latest = api.get(f"/api/v1/persons/{risky['id']}/risk").get_json()["latest"]
    assert [f["feature"] for f in factors] == [r["feature"] for r in latest["reasons"]]

    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "risk.explanation",
                AuditEntry.subject_type == "person",
                AuditEntry.subject_id == str(risky["id"]),
            )
        ).all()
        assert len(rows) == 1 and rows[0].actor_username == "officer-dongcheng-1"
        db.session.remove()

    # another office's officer: as if the person did not exist; nothing audited for them
    other = login("officer-xicheng-1")
    assert other.get(f"/api/v1/persons/{risky['id']}/risk/explanation").status_code == 404
    # an analyst (no risk:read) may not
    assert login("analyst").get(f"/api/v1/persons/{risky['id']}/risk/explanation").status_code in (
        403,
        404,
    )
    # no score yet: says so, and still that a score decides nothing
    body = api.get(f"/api/v1/persons/{unscored['id']}/risk/explanation").get_json()
    assert body["scored"] is False and "暂无" in body["text_zh"] and body["statement_zh"]


def test_the_explanation_is_documented_in_openapi(client):
    spec = client.get("/api/openapi.json").get_json()
    op = spec["paths"]["/api/v1/persons/{person_id}/risk/explanation"]["get"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("RiskExplanation")
    schema = spec["components"]["schemas"]["RiskExplanation"]["properties"]
    assert {"factors", "statement_zh", "text_zh", "model_version", "scored_on"} <= set(schema)
