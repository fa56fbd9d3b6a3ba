"""Travel permits waiting for a decision across a district or the city
(GET /api/v1/travel-permits): each with its person, the rule and article that set its level,
and the URLs that decide it."""

from __future__ import annotations

from tests.factories import juvenile_payload
from tests.supervision.test_travel_monitoring_term import _ordinary, permit
from tests.support.queues import audited_persons

WAITING = {"status": "requested", "approval_level": "district"}


def _queue(api, **query):
    resp = api.get("/api/v1/travel-permits", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_ten_day_trip_waits_for_the_district_and_is_approved_from_its_link(
    app, login, officer, active
):
    person = active()
    _ordinary(app, person["id"])
    ten = permit(officer, person["id"], "2026-12-01", "2026-12-10").get_json()
    short = active(name="李四")
    _ordinary(app, short["id"])
    permit(officer, short["id"], "2026-12-01", "2026-12-03")  # the office's to decide
    commander = login("commander-dongcheng")
    resp = commander.get("/api/v1/travel-permits", query_string=WAITING)
    (item,) = resp.get_json()["items"]
    assert audited_persons(app, resp) == {person["id"]}
    assert item["id"] == ten["id"] and item["person"]["name"] == "张伟"
    assert item["person"]["office_name_zh"] == "东城区城关司法所"
    assert (item["decision_type_label_zh"], item["proposed_zh"]) == (
        "外出申请",
        "外出 10 天（2026-12-01 至 2026-12-10）",
    )
    assert (item["decided_at_level"], item["approval_level_label_zh"]) == (
        "district",
        "区司法局审批",
    )
    assert item["rules"] == [
        {
            "rule_id": "travel.office_max_days",
            "label_zh": "外出7日以内由司法所审批，30日以内由县级社区矫正机构审批",
            "article": "实施办法 26, 27 (UNVERIFIED)",
        }
    ]
    assert (item["proposed_by"], item["destination"]) == ("officer-dongcheng-1", "杭州市")
    approve, reject = item["actions"]
    assert approve["href"] == f"/api/v1/persons/{person['id']}/travel-permits/{ten['id']}/approve"
    assert (approve["body_schema"], reject["body_schema"]) == ("Note", "RequiredNote")
    done = commander.post(approve["href"], json={"note": "同意"})
    assert done.status_code == 200 and done.get_json()["status"] == "approved"
    assert _queue(commander, **WAITING)["total"] == 0
    assert _queue(commander, status="requested", approval_level="office")["total"] == 1
    (approved,) = _queue(commander, status="approved")["items"]
    assert approved["actions"] == []


def test_the_queue_is_scoped_and_masks_a_juvenile_for_the_city(app, login, officer, active):
    juvenile = active(**juvenile_payload())
    permit(officer, juvenile["id"], "2026-12-01", "2026-12-02")  # tight: the district's
    city_items = _queue(login("city"), **WAITING)["items"]
    assert [i["person"]["name"] for i in city_items] == ["王＊"]
    assert city_items[0]["destination"] == "***" and city_items[0]["reason"] == "***"
    assert _queue(login("commander-dongcheng"), **WAITING)["items"][0]["person"]["name"] == "王小红"
    assert _queue(login("commander-xicheng"), **WAITING)["total"] == 0
    assert _queue(login("officer-dongcheng-2"))["total"] == 0
    bad = login("city").get("/api/v1/travel-permits", query_string={"approval_level": "county"})
    assert bad.status_code == 422 and "approval_level" in str(bad.get_json()["errors"])
