"""A decision queue offers each caller only what they may do, and a de-identified reader no
account names (hostile review 16b): an analyst's items carry no approval link and no
``officer-dongcheng-1`` (an account's name says its office)."""

from __future__ import annotations

import json

from tests.factories import juvenile_payload
from tests.support.queues import grade_proposal

MANUAL = {"to_grade": "strict", "reason": "与社会闲散人员交往密切"}


def _queue(app, login, intake) -> int:
    officer = login("officer-dongcheng-1")
    adult, juvenile = intake(officer), intake(officer, **juvenile_payload())
    proposed = grade_proposal(app, adult["id"])
    grade_proposal(app, juvenile["id"])
    manual = officer.post(f"/api/v1/persons/{juvenile['id']}/grade/decisions", json=MANUAL)
    assert manual.status_code == 201, manual.get_json()
    return proposed


def test_an_analyst_is_offered_no_action_and_no_staff_account_name(app, login, intake):
    proposed = _queue(app, login, intake)
    resp = login("analyst").get("/api/v1/grade-decisions")
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    assert proposed in {i["id"] for i in items if i["status"] == "proposed"}
    assert all(item["actions"] == [] for item in items)
    who = {item[key] for item in items for key in ("proposed_by", "decided_by")}
    assert who <= {"***", "system", None} and "***" in who
    assert "dongcheng" not in json.dumps(resp.get_json(), ensure_ascii=False)


def test_the_approval_links_go_to_whom_may_approve_only(app, login, intake):
    proposed = _queue(app, login, intake)
    for who, offered in (
        ("officer-dongcheng-1", []),  # an officer proposes; a commander decides
        ("commander-dongcheng", ["approve", "reject"]),
        ("city", ["approve", "reject"]),
    ):
        items = login(who).get("/api/v1/grade-decisions").get_json()["items"]
        (item,) = [i for i in items if i["id"] == proposed]
        assert [a["name"] for a in item["actions"]] == offered, who
        # Staff read the accounts' names as they are.
        assert {i["proposed_by"] for i in items} >= {"system", "officer-dongcheng-1"}
