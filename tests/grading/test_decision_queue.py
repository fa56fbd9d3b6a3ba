"""Grade proposals in a district's queue (GET /api/v1/grade-decisions?status=proposed): with
the person, what is proposed in Chinese, and the approval and rejection to follow."""

from __future__ import annotations

from tests.factories import juvenile_payload
from tests.support.queues import audited_persons, grade_proposal


def test_a_grade_proposal_is_listed_with_its_person_and_approved_from_its_link(app, login, intake):
    officer = login("officer-dongcheng-1")
    person = intake(officer)
    decision_id = grade_proposal(app, person["id"])
    commander = login("commander-dongcheng")
    resp = commander.get("/api/v1/grade-decisions", query_string={"status": "proposed"})
    (item,) = resp.get_json()["items"]
    assert audited_persons(app, resp) == {person["id"]}
    assert item["id"] == decision_id and item["office_code"] == "32990101"
    assert item["person"]["name"] == "张伟"
    assert (item["decision_type_label_zh"], item["proposed_zh"]) == (
        "等级调整建议",
        "由从严调整为普通",
    )
    assert item["decided_at_level"] == "district"
    assert item["rules"] == [
        {"rule_id": "looser_one_step", "label_zh": "逐级放宽", "article": None}
    ]
    approve, reject = item["actions"]
    base = f"/api/v1/persons/{person['id']}/grade/decisions/{decision_id}"
    assert (approve["href"], reject["href"]) == (f"{base}/approve", f"{base}/reject")
    assert (approve["body_schema"], reject["body_schema"]) == ("DecisionNote", "Reject")
    done = commander.post(approve["href"], json={"note": "同意放宽"})
    assert done.status_code == 200 and done.get_json()["status"] == "effective"
    assert commander.get("/api/v1/grade-decisions?status=proposed").get_json()["total"] == 0


def test_a_manual_reason_stays_masked_in_the_rules_of_a_juveniles_decision(app, login, intake):
    officer = login("officer-dongcheng-1")
    juvenile = intake(officer, **juvenile_payload())
    resp = officer.post(
        f"/api/v1/persons/{juvenile['id']}/grade/decisions",
        json={"to_grade": "strict", "reason": "与社会闲散人员交往密切"},
    )
    assert resp.status_code == 201, resp.get_json()
    items = login("city").get("/api/v1/grade-decisions?kind=manual").get_json()["items"]
    (item,) = items
    assert item["person"]["name"] == "王＊"
    assert item["reasons"] == [{"rule_id": "manual_stricter", "text_zh": "***"}]
    assert item["rules"] == [{"rule_id": "manual_stricter", "label_zh": None, "article": None}]
    assert "与社会闲散人员交往密切" not in str(items)
    assert item["actions"] == []  # effective at once: nothing to decide
