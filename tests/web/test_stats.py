"""Command-centre statistics: scoped counts and the in-control rate (在管在控率)."""

from __future__ import annotations

from datetime import UTC, datetime


def test_overview_counts_and_in_control_rate(app, login, active, run_job):
    first, _second = active(), active()
    xicheng = login("officer-xicheng-1")
    active(api=xicheng)  # another district
    officer = login("officer-dongcheng-1")
    resp = officer.post(
        f"/api/v1/persons/{first['id']}/incidents",
        json={"state": "lost_contact", "note": "电话关机，家属称不知去向"},
    )
    assert resp.status_code == 201
    commander = login("commander-dongcheng")
    body = commander.get("/api/v1/stats/overview").get_json()
    assert body["active_persons"] == 2
    assert body["lost_contact_now"] == 1 and body["absconded_now"] == 0
    assert body["in_open_incident"] == 1 and body["in_control_rate"] == 0.5
    grades = {c["key"]: c["count"] for c in body["by_grade"]}
    assert grades == {"tight": 1, "strict": 1}  # lost contact made the first strict
    levels = {c["key"]: (c["label_zh"], c["count"]) for c in body["by_level"]}
    assert levels == {"strict": ("严管", 2)}
    assert {c["key"]: c["count"] for c in body["by_category"]} == {"suspended_sentence": 2}
    assert [c["count"] for c in body["by_office"]] == [2]
    kinds = {c["key"]: c["count"] for c in body["open_alerts_by_kind"]}
    assert kinds == {"lost_contact": 1}
    assert {c["key"] for c in body["open_alerts_by_severity"]} == {"critical"}

    per_day = body["alerts_per_day"]
    assert len(per_day) == 30 and per_day[-1] == {"day": "2026-11-27", "count": 1}
    (episode,) = commander.get("/api/v1/incidents").get_json()
    assert episode["person_id"] == first["id"] and episode["state"] == "lost_contact"
    assert episode["hours_since_contact"] == 0  # activated (the intake report) just now
    # The list names who and where (the command centre's 失去联系 panel shows it).
    assert episode["person"]["name"] == first["name"]
    assert episode["person"]["office_code"] and episode["person"]["office_name_zh"]
    assert login("commander-xicheng").get("/api/v1/incidents").get_json() == []

    city = login("city").get("/api/v1/stats/overview").get_json()
    assert city["active_persons"] == 3 and city["in_control_rate"] == round(2 / 3, 4)
    analyst = login("analyst").get("/api/v1/stats/overview")
    assert analyst.status_code == 200 and analyst.get_json()["active_persons"] == 3
    assert login("auditor").get("/api/v1/stats/overview").status_code == 403

    run_job("sweep_obligations", at=datetime(2026, 12, 1, 2, tzinfo=UTC))
    commander = login("commander-dongcheng")
    body = commander.get("/api/v1/stats/overview").get_json()
    assert body["obligations_missed_this_month"] == 0  # the misses were due in November
