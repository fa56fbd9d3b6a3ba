"""What a wall display shows and for how long (hostile review 16b): its one-line summary says no
more than its filtered detail; it stops with its district; and a wall polling all day names
each person it shows once per use and day in the trail, not once per read."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from corrections.audit.models import AuditEntry
from corrections.core.clock import business_date
from corrections.core.db import db
from corrections.org.displays import USE_GAP
from corrections.org.models import DisplayToken, Unit
from tests.conftest import TEST_NOW
from tests.factories import juvenile_payload
from tests.org.test_displays import BOARD, DONGCHENG, Display
from tests.support.alerts import raise_alarm


@pytest.fixture
def wall(client, login):
    """A display of ``district`` made by ``by`` (test_displays.wall)."""

    def _make(district: str = DONGCHENG, by: str = "commander-dongcheng", name="东城区大屏"):
        resp = login(by).post(
            "/api/v1/display-tokens", json={"name": name, "district_code": district}
        )
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        return Display(client, body["token"], body)

    return _make


def _rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def _named(row: AuditEntry) -> set[int]:
    if row.subject_ids:
        return {int(i) for i in row.subject_ids.split(",") if i}
    return {int(row.subject_id)}


# --- the summary line ----------------------------------------------------------------------


def test_the_wall_summary_says_nothing_its_filtered_detail_does_not(app, active, wall):
    adult, juvenile = active(), active(**juvenile_payload())
    for person in (adult, juvenile):
        raise_alarm(
            app,
            person["id"],
            TEST_NOW,
            kind="high_risk",
            subject_type="risk",
            detail={"probability": 0.87, "model_version": "v1", "score_id": 5},
        )
    raise_alarm(
        app,
        juvenile["id"],
        TEST_NOW,
        kind="sanction_proposed",
        subject_type="proposal",
        detail={"proposal": "revocation", "article": "刑法第77条", "ground": "x"},
    )
    raise_alarm(app, adult["id"], TEST_NOW, detail={"alarm": "tamper"})
    items = wall().get(f"{BOARD}/alerts").get_json()["items"]
    by_kind: dict[str, list[dict]] = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item)
    assert len(by_kind["high_risk"]) == 2
    for item in by_kind["high_risk"] + by_kind["sanction_proposed"]:
        # The kind's label alone: the probability and the article stay off the wall.
        assert item["summary_zh"] == item["kind_label_zh"], item
        assert "%" not in item["summary_zh"] and "刑法" not in item["summary_zh"]
    (sanction,) = by_kind["sanction_proposed"]
    assert sanction["detail"] == {"proposal": "revocation"}
    # A line built from the coded detail the wall shows is still said in full.
    (alarm,) = by_kind["monitor_alarm"]
    assert alarm["summary_zh"] != alarm["kind_label_zh"] and alarm["detail"] == {"alarm": "tamper"}


def test_staff_still_read_the_full_summary(app, login, active):
    person = active()
    raise_alarm(
        app,
        person["id"],
        TEST_NOW,
        kind="high_risk",
        subject_type="risk",
        detail={"probability": 0.87, "model_version": "v1", "score_id": 5},
    )
    items = login("officer-dongcheng-1").get("/api/v1/alerts").get_json()["items"]
    (item,) = [i for i in items if i["kind"] == "high_risk"]
    assert "87%" in item["summary_zh"]


# --- a district made inactive ----------------------------------------------------------------


def test_a_display_of_a_district_made_inactive_opens_nothing(app, active, wall):
    """However the district was made inactive (here in the database itself)."""
    display = wall()
    assert display.get(f"{BOARD}/alerts").status_code == 200
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.code == DONGCHENG).values(active=False))
        db.session.commit()
        db.session.remove()
    try:
        assert display.get(f"{BOARD}/alerts").status_code == 401
        assert display.get(f"{BOARD}/me").status_code == 401
    finally:
        with app.app_context():
            db.session.execute(update(Unit).where(Unit.code == DONGCHENG).values(active=True))
            db.session.commit()
            db.session.remove()
    assert display.get(f"{BOARD}/alerts").status_code == 200


def test_making_a_district_inactive_revokes_its_displays_audited(app, login, wall):
    admin = login("admin")
    created = admin.post(
        "/api/v1/admin/units",
        json={
            "code": "329909",
            "name_zh": "新城区司法局",
            "kind": "district",
            "parent_code": "3299",
        },
    )
    assert created.status_code == 201, created.get_json()
    display = wall(district="329909", by="admin", name="新城区大屏")
    other = wall()  # another district's: untouched
    assert display.get(f"{BOARD}/me").status_code == 200
    # A display is no history that keeps a district active.
    path = "/api/v1/admin/units/329909"
    retired = admin.patch(path, json={"active": False}, headers={"If-Match": '"1"'})
    assert retired.status_code == 200, retired.get_json()
    assert display.get(f"{BOARD}/me").status_code == 401
    assert other.get(f"{BOARD}/me").status_code == 200
    with app.app_context():
        row = db.session.get(DisplayToken, display.body["id"])
        assert row.revoked_at is not None and row.revoked_by == "admin"
        assert db.session.get(DisplayToken, other.body["id"]).revoked_at is None
        db.session.remove()
    (revoked,) = _rows(app, "display.revoke")
    assert revoked.subject_id == str(display.body["id"]) and revoked.actor_username == "admin"
    assert revoked.detail == {"district": "329909", "reason": "unit_deactivated"}
    # Made active again, the district does not bring its old displays back.
    again = admin.patch(path, json={"active": True}, headers={"If-Match": '"2"'})
    assert again.status_code == 200, again.get_json()
    assert display.get(f"{BOARD}/me").status_code == 401


# --- the trail of what a wall showed ---------------------------------------------------------


def test_a_polling_wall_names_each_person_once_per_use_and_day(app, active, wall, clock):
    first, second = active(), active()
    raise_alarm(app, first["id"], TEST_NOW, detail={"alarm": "tamper"})
    display = wall()
    for _ in range(20):
        assert display.get(f"{BOARD}/alerts").status_code == 200
    (row,) = _rows(app, "response.disclosed")
    assert _named(row) == {first["id"]} and row.actor_username == f"display:{display.body['id']}"
    # Someone new on the wall: a row naming them (and only them).
    raise_alarm(app, second["id"], TEST_NOW, detail={"alarm": "boundary"})
    for _ in range(5):
        clock.advance(seconds=30)
        display.get(f"{BOARD}/alerts")
    rows = _rows(app, "response.disclosed")
    assert [_named(r) for r in rows] == [{first["id"]}, {second["id"]}]
    # A pause of USE_GAP: a new use, in which the wall names whom it shows again.
    clock.advance(USE_GAP + USE_GAP / 10)
    display.get(f"{BOARD}/alerts")
    display.get(f"{BOARD}/alerts")
    rows = _rows(app, "response.disclosed")
    assert len(rows) == 3 and _named(rows[-1]) == {first["id"], second["id"]}
    # A wall that never pauses (a read every 9 minutes: one use) names them again the next
    # day (Asia/Shanghai), once.
    day = business_date(clock.now())
    while business_date(clock.now()) == day:
        clock.advance(minutes=9)
        display.get(f"{BOARD}/alerts")
    for _ in range(3):
        clock.advance(minutes=9)
        display.get(f"{BOARD}/alerts")
    rows = _rows(app, "response.disclosed")
    assert len(rows) == 4 and _named(rows[-1]) == {first["id"], second["id"]}
    assert len(_rows(app, "display.use_start")) == 2
