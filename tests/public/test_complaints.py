"""The complaints register (投诉登记): who registers, who sees, who answers; bad input is a
422 naming the field and stores nothing; every write is audited."""

from __future__ import annotations

from sqlalchemy import select

from corrections.audit.models import AuditEntry
from corrections.complaints.models import Complaint
from corrections.core.db import db
from tests.conftest import count_rows

DONGCHENG, XICHENG = "329901", "329902"
BODY = {"received_on": "2026-11-20", "channel": "letter", "summary": "反映报到排队时间过长"}


def _problem(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    return resp.get_json()


def _audit(app, action):
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        db.session.remove()
        return rows


def test_an_officer_registers_for_their_own_district_and_it_is_audited(app, officer):
    resp = officer.post("/api/v1/complaints", json=BODY)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["district_code"] == DONGCHENG
    assert body["district_name_zh"] == "东城区司法局"
    assert body["channel_label_zh"] == "来信"
    assert body["status"] == "open" and body["answered_on"] is None
    assert body["created_by"] == "officer-dongcheng-1"
    (row,) = _audit(app, "complaint.create")
    assert row.actor_username == "officer-dongcheng-1"
    assert (row.subject_type, row.subject_id) == ("complaint", str(body["id"]))
    assert "反映" not in str(row.detail)  # the summary stays out of the trail


def test_the_city_must_name_the_district(app, login):
    city = login("city")
    body = _problem(city.post("/api/v1/complaints", json=BODY), 422)
    assert "district_code" in body["errors"]
    body = _problem(
        city.post("/api/v1/complaints", json={**BODY, "district_code": "32990101"}), 422
    )
    assert "district_code" in body["errors"]  # an office is not a district
    assert count_rows(app, Complaint) == 0
    resp = city.post("/api/v1/complaints", json={**BODY, "district_code": XICHENG})
    assert resp.status_code == 201 and resp.get_json()["district_code"] == XICHENG


def test_a_commander_cannot_register_for_another_district(app, login):
    commander = login("commander-dongcheng")
    body = _problem(
        commander.post("/api/v1/complaints", json={**BODY, "district_code": XICHENG}), 422
    )
    assert "district_code" in body["errors"]
    assert count_rows(app, Complaint) == 0


def test_bad_input_names_the_field_and_stores_nothing(app, officer):
    cases = [
        ({**BODY, "channel": "carrier_pigeon"}, "channel"),
        ({**BODY, "received_on": "2026-12-01"}, "received_on"),  # tomorrow and later
        ({**BODY, "received_on": "not a day"}, "received_on"),
        ({**BODY, "summary": "   "}, "summary"),
        ({**BODY, "summary": "x" * 2001}, "summary"),
        ({k: v for k, v in BODY.items() if k != "channel"}, "channel"),
        ({**BODY, "surprise": 1}, "surprise"),
    ]
    for payload, field in cases:
        body = _problem(officer.post("/api/v1/complaints", json=payload), 422)
        assert field in body["errors"], (field, body)
    assert count_rows(app, Complaint) == 0
    assert _audit(app, "complaint.create") == []


def test_the_list_is_scoped_to_the_district_and_the_city_sees_all(app, login, officer):
    officer.post("/api/v1/complaints", json=BODY)
    login("commander-xicheng").post("/api/v1/complaints", json={**BODY, "channel": "phone"})
    other_officer = login("officer-dongcheng-2")  # another office, the same district
    assert other_officer.get("/api/v1/complaints").get_json()["total"] == 1
    xicheng = login("commander-xicheng").get("/api/v1/complaints").get_json()
    assert [c["channel"] for c in xicheng["items"]] == ["phone"]
    city = login("city")
    assert city.get("/api/v1/complaints").get_json()["total"] == 2
    only = city.get(f"/api/v1/complaints?district_code={XICHENG}").get_json()
    assert only["total"] == 1
    assert _audit(app, "complaint.list")
    for role in ("analyst", "auditor", "admin"):
        assert login(role).get("/api/v1/complaints").status_code == 403


def test_the_district_commander_answers_once(app, login, officer):
    made = officer.post("/api/v1/complaints", json=BODY).get_json()
    path = f"/api/v1/complaints/{made['id']}/answer"
    answer = {"answer_note": "已调整报到时段并书面答复", "answered_on": "2026-11-25"}
    assert officer.post(path, json=answer).status_code == 403  # officers register, not answer
    assert login("commander-xicheng").post(path, json=answer).status_code == 404  # not theirs
    body = _problem(
        login("commander-dongcheng").post(path, json={**answer, "answered_on": "2026-11-19"}),
        422,
    )
    assert "answered_on" in body["errors"]  # before it was received
    resp = login("commander-dongcheng").post(path, json=answer)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "answered"
    assert resp.get_json()["answered_by"] == "commander-dongcheng"
    assert login("city").post(path, json=answer).status_code == 409
    (row,) = _audit(app, "complaint.answer")
    assert row.actor_username == "commander-dongcheng"
    missing = _problem(login("city").post("/api/v1/complaints/999999/answer", json=answer), 404)
    assert missing["status"] == 404


def test_no_token_no_complaints(client):
    assert client.get("/api/v1/complaints").status_code == 401
    assert client.post("/api/v1/complaints", json=BODY).status_code == 401
