"""Flagged control (挂牌管控): levels, monthly reviews, conversion by a same-level approver,
proposals from repeated sanctions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from corrections.core.db import db
from corrections.org.models import User
from tests.supervision.conftest import event, sanction


def _officer_id(app, username):
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        db.session.remove()
    return uid


def _flag(api, person_id, **body):
    return api.post(f"/api/v1/persons/{person_id}/flags", json=body)


def test_open_review_and_convert_a_township_flag(app, login, active, run_job):
    person = active()
    officer = login("officer-dongcheng-1")
    officer_id = _officer_id(app, "officer-dongcheng-1")
    resp = _flag(
        officer,
        person["id"],
        level="district",
        reason="多次违规",
        responsible_officer_id=officer_id,
    )
    assert resp.status_code == 403  # a district flag is the district's
    resp = _flag(officer, person["id"], level="office", reason="多次违规")
    assert resp.status_code == 422 and "responsible_officer_id" in resp.get_json()["errors"]
    other_office = _officer_id(app, "officer-xicheng-1")
    resp = _flag(
        officer,
        person["id"],
        level="office",
        reason="多次违规",
        responsible_officer_id=other_office,
    )
    assert resp.status_code == 422
    resp = _flag(
        officer, person["id"], level="office", reason="多次违规", responsible_officer_id=officer_id
    )
    assert resp.status_code == 201, resp.get_json()
    flag = resp.get_json()
    assert flag["status"] == "active" and flag["review_due_on"] == "2026-12-27"
    assert flag["level_label_zh"] == "司法所挂牌"
    again = _flag(
        officer, person["id"], level="office", reason="再次", responsible_officer_id=officer_id
    )
    assert again.status_code == 409

    # A month later the review is due: one alert, however often the job runs.
    run_job("flag_reviews", at=datetime(2026, 12, 27, 1, tzinfo=UTC))
    run_job("flag_reviews")
    commander = login("commander-dongcheng")
    due = commander.get(
        "/api/v1/alerts", query_string={"kind": "flag_review_due", "status": "open"}
    ).get_json()["items"]
    assert len(due) == 1 and due[0]["subject_id"] == flag["id"]
    officer = login("officer-dongcheng-1")
    path = f"/api/v1/persons/{person['id']}/flags/{flag['id']}"
    resp = officer.post(f"{path}/reviews", json={"note": "本月表现稳定，继续挂牌"})
    assert resp.status_code == 200, resp.get_json()
    reviewed = resp.get_json()
    assert reviewed["review_due_on"] == "2027-01-26" and len(reviewed["reviews"]) == 1
    alert = commander.get(f"/api/v1/alerts?person_id={person['id']}&kind=flag_review_due")
    assert alert.get_json()["items"][0]["status"] == "resolved"

    # Conversion: by the flag's level or above, but not by the one who opened it.
    resp = officer.post(f"{path}/conversion", json={"reason": "表现良好，予以转化"})
    assert resp.status_code == 403
    other_office = login("officer-dongcheng-2")
    assert other_office.post(f"{path}/conversion", json={"reason": "表现良好"}).status_code == 404
    assert commander.post(f"{path}/conversion", json={"reason": "x"}).status_code == 422
    resp = commander.post(f"{path}/conversion", json={"reason": "表现良好，予以转化"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "converted"
    listed = commander.get("/api/v1/flags", query_string={"status": "converted"}).get_json()
    assert [f["id"] for f in listed["items"]] == [flag["id"]]
    assert login("commander-xicheng").get("/api/v1/flags").get_json()["total"] == 0


def test_repeated_sanctions_propose_a_flag_once(app, login, active, run_job):
    person = active()
    officer = login("officer-dongcheng-1")
    commander = login("commander-dongcheng")
    evidence = event(officer, person["id"], "contact_attempt_failed", payload={"method": "phone"})
    ev = evidence.get_json()["id"]
    # 训诫 and 警告 are both the district's decisions (实施办法 34/35, issue 14 finding 4).
    for kind, api in (("admonition", commander), ("warning", commander)):
        resp = event(api, person["id"], kind, payload=sanction(kind, [ev]))
        assert resp.status_code == 201, resp.get_json()
    run = run_job("flag_reviews")
    assert run["counts"]["flags_proposed"] == 1
    assert run_job("flag_reviews")["counts"]["flags_proposed"] == 0
    proposed = commander.get("/api/v1/flags", query_string={"status": "proposed"}).get_json()
    (flag,) = proposed["items"]
    assert flag["person_id"] == person["id"] and flag["basis"] == "sanctions"
    # The district takes the proposal up: it becomes the flag.
    resp = _flag(
        commander,
        person["id"],
        level="district",
        reason="两次处罚，区级挂牌",
        responsible_officer_id=_officer_id(app, "officer-dongcheng-1"),
    )
    assert resp.status_code == 201 and resp.get_json()["id"] == flag["id"]
    assert resp.get_json()["level"] == "district"


def test_proposals_go_in_chunks_each_proposed_once(app, active, monkeypatch):
    """flag_reviews proposed 8,014 flags in one INSERT on a 148,000-person city: past
    PostgreSQL's 65,535 parameters (issue 18). The rows go in chunks; none is lost or doubled."""
    from corrections.incidents import flags
    from corrections.incidents.models import Flag

    persons = [active()["id"] for _ in range(5)]
    monkeypatch.setattr(flags, "_ROWS", 2)  # 3 chunks for 5 persons
    now = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    with app.app_context():
        proposed = flags.propose(db.session, persons, basis="risk", reason="测试", now=now)
        again = flags.propose(db.session, persons, basis="risk", reason="测试", now=now)
        db.session.commit()
        stored = db.session.scalars(select(Flag.person_id).where(Flag.status == "proposed")).all()
        db.session.remove()
    assert proposed == 5 and again == 0
    assert sorted(stored) == sorted(persons)
