"""A person's alerts follow the person (hostile review of 23bf944): the alert list, the
single alert and its actions are scoped by the office and district the alert carries
(migration 0028); a change of the place of supervision within the city (term/service.py
transfer) must take the person's alerts to the new office and district, as an office moving
district takes its alerts along (org/structure.py move_office)."""

from __future__ import annotations

from datetime import UTC, datetime

from corrections.alerts import service as alerts
from corrections.core.db import db

RAISED = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_a_transferred_persons_alerts_move_to_the_new_office(app, login, officer, active):
    person = active()
    with app.app_context():
        alert_id = alerts.raise_one(
            db.session, person_id=person["id"], kind="lost_contact", subject_type="obligation",
            subject_id=1, detail={}, now=RAISED,
        )  # fmt: skip
        db.session.commit()
        db.session.remove()
    moved = login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/transfers",
        json={"to_office_code": "32990201", "reason": "迁居西城区", "document_number": "d-1"},
    )
    assert moved.status_code == 201, moved.get_json()
    mine = {"person_id": person["id"]}
    new_office, new_district = login("officer-xicheng-1"), login("commander-xicheng")
    assert [
        a["id"] for a in new_office.get("/api/v1/alerts", query_string=mine).get_json()["items"]
    ] == [alert_id]
    assert new_district.get("/api/v1/alerts", query_string=mine).get_json()["total"] == 1
    # The office the person left neither lists nor acts on it.
    assert officer.get("/api/v1/alerts", query_string=mine).get_json()["total"] == 0
    assert (
        login("commander-dongcheng").get("/api/v1/alerts", query_string=mine).get_json()["total"]
        == 0
    )
    assert officer.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}).status_code == 404
    assert new_office.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}).status_code == 200
