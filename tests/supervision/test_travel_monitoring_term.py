"""Travel permits, electronic monitoring periods, and the end or transfer of a term."""

from __future__ import annotations

from datetime import UTC, datetime

from corrections.core.db import db
from corrections.supervision import worklist
from corrections.supervision.models import MonitoringPeriod, TravelPermit
from tests.conftest import count_rows
from tests.supervision.conftest import event, obligations


def permit(api, person_id, start, end, **kw):
    body = {
        "destination": "杭州市",
        "reason": "探望生病的母亲",
        "start_date": start,
        "end_date": end,
        **kw,
    }
    return api.post(f"/api/v1/persons/{person_id}/travel-permits", json=body)


def _ordinary(app, person_id):
    from tests.grading.test_decisions import set_grade

    set_grade(app, person_id, "ordinary")


# --- travel ------------------------------------------------------------------------------


def test_an_eight_day_permit_needs_the_district(app, login, officer, active):
    person = active()
    _ordinary(app, person["id"])
    p = permit(officer, person["id"], "2026-12-01", "2026-12-08").get_json()
    assert (p["days"], p["approval_level"], p["status"]) == (8, "district", "requested")
    url = f"/api/v1/persons/{person['id']}/travel-permits/{p['id']}"
    assert officer.post(f"{url}/approve", json={}).status_code == 403
    assert login("commander-xicheng").post(f"{url}/approve", json={}).status_code == 404
    ok = login("commander-dongcheng").post(f"{url}/approve", json={"note": "同意"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    assert (
        login("commander-dongcheng").post(f"{url}/reject", json={"note": "再议"}).status_code == 409
    )


def test_a_seven_day_permit_is_the_offices_for_an_ordinary_person(app, officer, active):
    person = active()
    _ordinary(app, person["id"])
    p = permit(officer, person["id"], "2026-12-01", "2026-12-07").get_json()
    assert p["approval_level"] == "office"
    url = f"/api/v1/persons/{person['id']}/travel-permits/{p['id']}"
    assert officer.post(f"{url}/approve", json={}).get_json()["status"] == "approved"


def test_grade_rules_raise_the_level_and_add_conditions(app, officer, active):
    # Issue 14 finding 3: the strict grade used to refuse travel; Art. 27 says a legitimate
    # trip is approved, the grade raises the level and adds conditions.
    person = active()  # tight: travel needs the district even for a short trip
    p = permit(officer, person["id"], "2026-12-01", "2026-12-02").get_json()
    assert p["approval_level"] == "district"
    strict = active(intake_risk="high", name="王五")
    resp = permit(officer, strict["id"], "2026-12-01", "2026-12-02")
    assert resp.status_code == 201, resp.get_json()
    shown = resp.get_json()
    assert shown["approval_level"] == "district"
    assert [c["kind"] for c in shown["conditions"]] == ["escort", "daily_check_in"]
    assert shown["rules_version"].startswith("supervision-")
    # ... and a shorter maximum (7 days on the strict grade) is refused with its rule.
    resp = permit(officer, strict["id"], "2026-12-10", "2026-12-20")
    assert resp.status_code == 422 and "end_date" in resp.get_json()["errors"]


def test_thirty_one_days_go_to_the_city_and_the_procuratorate_is_notified(app, officer, active):
    # Issue 14 finding 2: a single trip over 30 days used to be refused (the 2012 rule).
    person = active()
    _ordinary(app, person["id"])
    resp = permit(officer, person["id"], "2026-12-01", "2026-12-31")
    assert resp.status_code == 201, resp.get_json()
    p = resp.get_json()
    assert (p["days"], p["approval_level"], p["notify_procuratorate"]) == (31, "city", True)
    assert count_rows(app, TravelPermit) == 1


def test_overlapping_permits_conflict(app, officer, active):
    person = active()
    _ordinary(app, person["id"])
    assert permit(officer, person["id"], "2026-12-01", "2026-12-05").status_code == 201
    resp = permit(officer, person["id"], "2026-12-05", "2026-12-07")
    assert resp.status_code == 409 and "start_date" in resp.get_json()["errors"]
    assert permit(officer, person["id"], "2026-11-01", "2026-11-02").status_code == 422


def test_more_than_thirty_days_in_two_months_goes_to_the_city(app, login, officer, active):
    person = active()
    _ordinary(app, person["id"])
    first = permit(officer, person["id"], "2026-12-01", "2026-12-20").get_json()
    login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/travel-permits/{first['id']}/approve", json={}
    )
    second = permit(officer, person["id"], "2026-12-25", "2027-01-05").get_json()
    assert second["days"] == 12 and second["approval_level"] == "city"
    assert second["notify_procuratorate"] is True
    url = f"/api/v1/persons/{person['id']}/travel-permits/{second['id']}/approve"
    assert login("commander-dongcheng").post(url, json={}).status_code == 403
    assert login("city").post(url, json={}).status_code == 200


def test_departure_return_and_overdue(app, login, officer, active, clock):
    person = active()
    _ordinary(app, person["id"])
    p = permit(officer, person["id"], "2026-11-27", "2026-11-29").get_json()
    url = f"/api/v1/persons/{person['id']}/travel-permits/{p['id']}"
    assert (
        officer.post(f"{url}/depart", json={"occurred_at": "2026-11-27T01:00:00Z"}).status_code
        == 409
    )  # not approved yet
    officer.post(f"{url}/approve", json={})
    departed = officer.post(f"{url}/depart", json={"occurred_at": "2026-11-27T01:00:00Z"})
    assert departed.get_json()["status"] == "departed"
    types = [
        e["type"] for e in officer.get(f"/api/v1/persons/{person['id']}/events").get_json()["items"]
    ]
    assert types == ["travel_departure"]
    clock.set(datetime(2026, 11, 30, 1, tzinfo=UTC))  # the 30th: not back by the 29th
    with app.app_context():
        worklist.sweep(db.session)
        db.session.commit()
        db.session.remove()
    api = login("officer-dongcheng-1")
    listed = api.get(f"/api/v1/persons/{person['id']}/travel-permits").get_json()
    assert listed[0]["status"] == "overdue" and listed[0]["status_label_zh"] == "逾期未归"
    back = api.post(f"{url}/return", json={"occurred_at": "2026-11-30T00:30:00Z"})
    assert back.get_json()["status"] == "returned"


# --- electronic monitoring ---------------------------------------------------------------


def monitor(api, person_id, start, end, ground="left_without_approval"):
    return api.post(
        f"/api/v1/persons/{person_id}/monitoring",
        json={"ground": ground, "start_date": start, "end_date": end, "note": "未经批准离开本市"},
    )


def test_a_hundred_days_are_refused_ninety_with_a_ground_accepted(app, login, officer, active):
    person = active()
    commander = login("commander-dongcheng")
    long = monitor(commander, person["id"], "2026-11-27", "2027-03-06")  # 100 days
    assert long.status_code == 422 and "end_date" in long.get_json()["errors"]
    no_ground = commander.post(
        f"/api/v1/persons/{person['id']}/monitoring",
        json={"start_date": "2026-11-27", "end_date": "2027-02-24"},
    )
    assert no_ground.status_code == 422 and "ground" in no_ground.get_json()["errors"]
    assert monitor(officer, person["id"], "2026-11-27", "2027-02-24").status_code == 403
    assert count_rows(app, MonitoringPeriod) == 0
    ok = monitor(commander, person["id"], "2026-11-27", "2027-02-24")  # 90 days, ground (2)
    assert ok.status_code == 201, ok.get_json()
    body = ok.get_json()
    assert body["ground_number"] == 2 and body["active"] is True
    # Monitoring makes the grade strict at once.
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "strict"
    overlap = monitor(commander, person["id"], "2027-02-01", "2027-03-01")
    assert overlap.status_code == 409


def test_extension_is_a_new_period_and_removal_closes(login, active):
    person = active()
    commander = login("commander-dongcheng")
    first = monitor(commander, person["id"], "2026-11-27", "2027-02-24").get_json()
    base = f"/api/v1/persons/{person['id']}/monitoring/{first['id']}"
    too_long = commander.post(
        f"{base}/extend", json={"end_date": "2027-06-01", "reassessment_note": "仍需监管"}
    )
    assert too_long.status_code == 422
    ext = commander.post(
        f"{base}/extend",
        json={"end_date": "2027-05-24", "reassessment_note": "再评估：仍有脱管风险"},
    )
    assert ext.status_code == 201, ext.get_json()
    assert (ext.get_json()["start_date"], ext.get_json()["extends_id"]) == (
        "2027-02-25",
        first["id"],
    )
    assert (
        commander.post(
            f"{base}/extend", json={"end_date": "2027-05-24", "reassessment_note": "重复"}
        ).status_code
        == 409
    )
    removed = commander.post(f"{base}/remove", json={"note": "表现稳定，解除定位"})
    assert removed.status_code == 200 and removed.get_json()["active"] is False


# --- end and transfer of a term ----------------------------------------------------------


def test_discharge_only_at_term_end_and_closes_everything(app, login, officer, active, clock):
    # Issue 14 finding 4: discharge is the district's decision (Art. 44), not an officer's.
    person = active(category="control_order", term_start="2026-11-01", term_end="2027-01-31")
    early = login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/discharge",
        json={"certificate_number": "东矫解〔2027〕1号"},
    )
    assert early.status_code == 422
    clock.set(datetime(2027, 1, 31, 2, tzinfo=UTC))
    api = login("officer-dongcheng-1")
    refused = api.post(
        f"/api/v1/persons/{person['id']}/discharge",
        json={"certificate_number": "东矫解〔2027〕1号"},
    )
    assert refused.status_code == 403
    done = login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/discharge",
        json={"certificate_number": "东矫解〔2027〕1号"},
    )
    assert done.status_code == 201, done.get_json()
    assert api.get(f"/api/v1/persons/{person['id']}").get_json()["status"] == "discharged"
    assert obligations(api, person["id"], status="open") == []
    assert event(api, person["id"], "report", "2027-01-31T01:00:00Z").status_code == 409


def test_termination_by_revocation(login, officer, active):
    # Issue 14 finding 4: termination is the district's, on the court ruling's number.
    person = active()
    body = {"kind": "revocation", "reason": "法院裁定撤销缓刑", "ended_on": "2026-11-26"}
    url = f"/api/v1/persons/{person['id']}/termination"
    commander = login("commander-dongcheng")
    missing = commander.post(url, json=body)
    assert missing.status_code == 422 and "document_number" in missing.get_json()["errors"]
    body["document_number"] = "（2026）东刑执字第12号"
    assert officer.post(url, json=body).status_code == 403
    resp = commander.post(url, json=body)
    assert resp.status_code == 201 and resp.get_json()["status"] == "terminated"
    assert resp.get_json()["document_number"] == "（2026）东刑执字第12号"
    history = officer.get(f"/api/v1/persons/{person['id']}/status-changes").get_json()
    assert history[-1]["to_status"] == "terminated"
    future = commander.post(
        f"/api/v1/persons/{person['id']}/termination",
        json={
            "kind": "death",
            "reason": "x" * 3,
            "ended_on": "2026-11-28",
            "document_number": "d1",
        },
    )
    assert future.status_code == 409  # already ended


def test_transfer_within_the_city_moves_the_person_and_brings_the_report_forward(
    login, officer, active
):
    person = active()
    assert (
        obligations(officer, person["id"], kind="report", status="open")[0]["due_on"]
        == "2026-12-11"
    )
    body = {
        "to_office_code": "32990201",
        "reason": "迁居西城区",
        "document_number": "东矫变〔2026〕3号",
    }
    url = f"/api/v1/persons/{person['id']}/transfers"
    assert officer.post(url, json=body).status_code == 403  # the district decides (Art. 27)
    resp = login("commander-dongcheng").post(url, json=body)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["from_office_code"], body["to_office_code"], body["report_by"]) == (
        "32990101",
        "32990201",
        "2026-12-04",
    )
    assert officer.get(f"/api/v1/persons/{person['id']}").status_code == 404  # out of scope
    new_office = login("officer-xicheng-1")
    moved = new_office.get(f"/api/v1/persons/{person['id']}").get_json()
    assert moved["office_code"] == "32990201" and moved["status"] == "active"
    assert (
        obligations(new_office, person["id"], kind="report", status="open")[0]["due_on"]
        == "2026-12-04"
    )


def test_transfer_out_of_the_city_closes_the_record(login, officer, active):
    person = active()
    commander = login("commander-dongcheng")
    resp = commander.post(
        f"/api/v1/persons/{person['id']}/transfers",
        json={"destination": "浙江省杭州市西湖区", "reason": "户籍迁出", "document_number": "d-1"},
    )
    assert resp.status_code == 201 and resp.get_json()["status"] == "transferred"
    assert obligations(officer, person["id"], status="open") == []
    both = commander.post(
        f"/api/v1/persons/{person['id']}/transfers",
        json={"destination": "x" * 3, "to_office_code": "32990201", "reason": "xx"},
    )
    assert both.status_code == 422
