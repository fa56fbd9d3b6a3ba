"""A district's decision queues of sanction proposals (GET /api/v1/proposals) and flag
proposals (GET /api/v1/flags): every person of the district in one paged list, each item with
its person as the role may see them, its ground and article, the records it rests on and the
URLs that decide it; the persons shown audited."""

from __future__ import annotations

from datetime import UTC, datetime

from corrections.core.db import db
from corrections.incidents import flags
from tests.factories import juvenile_payload
from tests.supervision.conftest import event
from tests.support.queues import audited_persons, sanction_proposal, statements


def _queue(api, path="/api/v1/proposals", **query):
    resp = api.get(path, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _world(app, login, active):
    """An adult and a juvenile of 东城 城关司法所 and an adult of 西城, each with a proposed
    warning (two admonitions not corrected)."""
    adult = active()
    juvenile = active(**juvenile_payload())
    west = active(login("officer-xicheng-1"), office_code="32990201", name="赵六")
    report = event(login("officer-dongcheng-1"), adult["id"], "report").get_json()
    ids = {
        "adult": sanction_proposal(app, adult["id"], event_ids=[report["id"]]),
        "juvenile": sanction_proposal(app, juvenile["id"]),
        "west": sanction_proposal(app, west["id"]),
    }
    return adult, juvenile, west, ids, report


def test_a_commander_lists_the_districts_pending_proposals_and_decides_one_from_its_link(
    app, login, active
):
    adult, juvenile, _west, ids, report = _world(app, login, active)
    commander = login("commander-dongcheng")
    resp = commander.get("/api/v1/proposals", query_string={"status": "proposed"})
    body = resp.get_json()
    assert body["total"] == 2  # not the other district's
    item = next(i for i in body["items"] if i["id"] == ids["adult"])
    assert item["person"] == {
        "id": adult["id"],
        "name": "张伟",
        "office_code": "32990101",
        "office_name_zh": "东城区城关司法所",
    }
    assert (item["decision_type"], item["decision_type_label_zh"]) == (
        "sanction_proposal",
        "处罚建议",
    )
    assert (item["kind"], item["proposed_zh"], item["status"]) == ("warning", "警告", "proposed")
    assert item["ground"] == "admonitions" and item["ground_label_zh"] == "受到训诫后仍不改正"
    assert item["rules"] == [
        {"rule_id": "admonitions", "label_zh": "受到训诫后仍不改正", "article": item["article"]}
    ]
    assert item["article"] == "实施办法 35 (UNVERIFIED)"
    assert (item["decided_at_level"], item["decided_at_level_label_zh"]) == ("district", "区司法局")
    assert item["proposed_by"] == "system" and item["proposed_at"]
    assert item["evidence_refs"] == [
        {"type": "event", "id": report["id"], "href": f"/api/v1/persons/{adult['id']}/events"}
    ]
    accept, decline = item["actions"]
    href = f"/api/v1/persons/{adult['id']}/proposals/{ids['adult']}"
    assert accept == {
        "name": "accept",
        "method": "POST",
        "href": href,
        "body_schema": "ProposalDecision",
        "body": {"decision": "accepted"},
    }
    assert decline["body"] == {"decision": "declined"}
    # The persons shown are audited with the response.
    assert audited_persons(app, resp) == {adult["id"], juvenile["id"]}

    done = commander.post(decline["href"], json={**decline["body"], "note": "证据不足，不予警告"})
    assert done.status_code == 200 and done.get_json()["status"] == "declined"
    left = _queue(commander, status="proposed")
    assert [i["id"] for i in left["items"]] == [ids["juvenile"]]
    declined = _queue(commander, status="declined")["items"]
    assert [(i["id"], i["actions"]) for i in declined] == [(ids["adult"], [])]


def test_a_juveniles_name_is_masked_for_the_city_and_whole_for_their_district(app, login, active):
    _adult, juvenile, west, _ids, _report = _world(app, login, active)
    names = {
        i["person"]["id"]: i["person"]["name"]
        for i in _queue(login("city"), status="proposed")["items"]
    }
    assert names[juvenile["id"]] == "王＊" and names[west["id"]] == "赵六"
    own = _queue(login("commander-dongcheng"), status="proposed")["items"]
    assert {i["person"]["name"] for i in own} == {"张伟", "王小红"}
    # The officer's office sees its own persons only, in full.
    assert _queue(login("officer-dongcheng-1"))["total"] == 2
    assert _queue(login("officer-dongcheng-2"))["total"] == 0


def test_the_queue_pages_filters_by_kind_and_costs_no_query_per_row(app, login, active):
    _world(app, login, active)
    city = login("city")
    first = _queue(city, status="proposed", page_size=2)
    assert (first["total"], len(first["items"])) == (3, 2)
    assert len(_queue(city, status="proposed", page=2, page_size=2)["items"]) == 1
    assert _queue(city, kind="revocation")["total"] == 0
    assert _queue(city, kind=["warning", "revocation"])["total"] == 3
    with statements(app) as seen:
        _queue(city, status="proposed")
    few = len(seen)
    for _ in range(4):
        person = active()
        sanction_proposal(app, person["id"])
    with statements(app) as seen:
        assert _queue(city, status="proposed")["total"] == 7
    assert len(seen) == few
    bad = city.get("/api/v1/proposals", query_string={"status": "pending-ish"})
    assert bad.status_code == 422 and "status" in str(bad.get_json()["errors"])
    assert login("analyst").get("/api/v1/proposals").status_code == 403


def test_an_episodes_revocation_proposal_is_listed_with_its_episode_and_decided_there(
    app, login, active, run_job
):
    person = active(category="parole")
    for at in (
        datetime(2026, 12, 1, 2, tzinfo=UTC),
        datetime(2026, 12, 2, 2, tzinfo=UTC),
        datetime(2027, 1, 2, 2, tzinfo=UTC),
    ):
        run_job("sweep_obligations", at=at)
        run_job("detect_lost_contact", at=at)
    commander = login("commander-dongcheng")
    (item,) = _queue(commander, status="proposed", kind="revocation")["items"]
    assert item["proposed_zh"] == "提请撤销缓刑/假释"
    assert item["ground_label_zh"] == "脱离监管"
    assert item["rules"][0]["article"].startswith("实施办法 47(1)")
    incident = {"type": "incident", "id": item["incident_id"]}
    assert {**incident, "href": f"/api/v1/persons/{person['id']}/incidents"} in item[
        "evidence_refs"
    ]
    accept = item["actions"][0]
    assert accept["href"] == (
        f"/api/v1/persons/{person['id']}/incidents/{item['incident_id']}/proposals/{item['id']}"
    )
    body = {
        **accept["body"],
        "note": "提请法院撤销假释",
        "statement_not_taken_reason": "本人下落不明，无法听取陈述申辩",
    }
    assert commander.post(accept["href"], json=body).get_json()["status"] == "accepted"


def test_flag_proposals_list_their_person_and_how_to_open_them(app, login, active):
    person = active()
    juvenile = active(**juvenile_payload())
    with app.app_context():
        flags.propose(
            db.session,
            [person["id"], juvenile["id"]],
            basis="sanctions",
            reason="180日内多次受到处罚，建议挂牌管控",
            now=app.extensions["corrections.clock"].now(),
        )
        db.session.commit()
        db.session.remove()
    commander = login("commander-dongcheng")
    resp = commander.get("/api/v1/flags", query_string={"status": "proposed"})
    items = resp.get_json()["items"]
    assert audited_persons(app, resp) == {person["id"], juvenile["id"]}
    item = next(i for i in items if i["person_id"] == person["id"])
    assert item["person"]["name"] == "张伟" and item["office_id"] is not None
    assert (item["decision_type"], item["proposed_zh"], item["decided_at_level"]) == (
        "flag",
        "司法所挂牌",
        "office",
    )
    assert item["rules"] == [
        {"rule_id": "sanctions", "label_zh": "一定期限内多次受到处罚", "article": None}
    ]
    open_, decline = item["actions"]
    assert decline["href"] == f"/api/v1/persons/{person['id']}/flags/{item['id']}/decline"
    assert open_["body_schema"] == "FlagIn"
    assert open_["choices"]["responsible_officer_id"] == (
        "/api/v1/units/32990101/staff?role=officer"
    )
    # The officer is chosen from the list the action names, the level from the reasons.
    (officer,) = commander.get(open_["choices"]["responsible_officer_id"]).get_json()
    levels = commander.get(open_["choices"]["level"]).get_json()
    assert [lv["code"] for lv in levels] == ["district", "office"]
    resp = commander.post(
        open_["href"],
        json={"level": "district", "reason": "多次违规", "responsible_officer_id": officer["id"]},
    )
    assert resp.status_code == 201 and resp.get_json()["status"] == "active"
    active_flags = _queue(commander, "/api/v1/flags", status="active")["items"]
    assert [a["name"] for a in active_flags[0]["actions"]] == ["review", "convert"]
    # The city sees the juvenile's proposal with the name masked.
    city_items = _queue(login("city"), "/api/v1/flags", status="proposed")["items"]
    assert [i["person"]["name"] for i in city_items] == ["王＊"]


def test_every_action_names_a_body_schema_the_api_documents(client):
    """The queues' actions name their body's schema (asserted per queue in its tests); each is
    in the OpenAPI document, where a page builds the form from it."""
    documented = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    named = {"ProposalDecision", "FlagIn", "FlagClose", "FlagReview", "DecisionNote", "Reject"}
    named |= {"Note", "RequiredNote"}
    assert named <= set(documented), named - set(documented)
    assert {"ReasonChoice", "Staff", "ProposalQueuePage", "PermitQueuePage"} <= set(documented)
