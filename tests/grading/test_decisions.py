"""Grade decisions through the API: intake, forced stricter moves, proposals and approvals."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from corrections.core.auth import Actor, Role
from corrections.core.db import db
from corrections.grading import service
from corrections.grading.models import GradeDecision
from corrections.persons.models import Person
from corrections.supervision import events as supervision
from tests.factories import person_payload
from tests.support.queues import grade_proposal


def _officer_actor(app) -> Actor:
    from corrections.org.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "officer-dongcheng-1"))
        actor = Actor(user.id, user.username, Role.OFFICER, user.unit_id)
        db.session.remove()
    return actor


def set_grade(app, person_id: int, grade: str) -> None:
    """Test set-up: put a person in a grade through a recorded, effective decision."""
    actor = _officer_actor(app)
    with app.app_context():
        person = db.session.get(Person, person_id)
        service._record(
            db.session,
            person=person,
            actor=actor,
            kind="manual",
            to_grade=grade,
            reasons=[{"rule_id": "test_setup", "text_zh": "测试"}],
            inputs={},
            now=app.extensions["corrections.clock"].now(),
            effective=True,
        )
        db.session.commit()
        db.session.remove()


def record(app, person_id: int, kind: str, at: datetime | None = None, payload=None):
    """Test set-up: append an event through the service (bypassing the API's checks)."""
    actor = _officer_actor(app)
    with app.app_context():
        person = db.session.get(Person, person_id)
        at = at or app.extensions["corrections.clock"].now()
        supervision.record_event(
            db.session, actor=actor, person=person, type=kind, occurred_at=at, payload=payload
        )
        db.session.commit()
        db.session.remove()


def test_new_intake_is_in_the_strict_level_with_requirements(officer, intake):
    person = intake(officer)
    assert (person["grade"], person["level"], person["level_label_zh"]) == (
        "tight",
        "strict",
        "严管",
    )
    grade = officer.get(f"/api/v1/persons/{person['id']}/grade").get_json()
    assert grade["grade_label_zh"] == "从严"
    assert grade["requirements"]["report_interval_days"] == 14
    assert grade["requirements"]["education_hours_per_month"] == 10
    assert grade["next_review_date"] == "2027-02-27" and grade["review_overdue"] is False
    history = officer.get(f"/api/v1/persons/{person['id']}/grade/history").get_json()
    assert [(h["kind"], h["status"], h["to_grade"]) for h in history] == [
        ("intake", "effective", "tight")
    ]
    assert history[0]["rule_ids"] == ["intake_first_two_months_tight"]
    assert history[0]["rules_version"] == "grading-2026.2+assessment-2026.1"


def test_high_risk_intake_is_strict(officer):
    body = officer.post("/api/v1/persons", json=person_payload(intake_risk="high")).get_json()
    assert body["grade"] == "strict"


def test_warning_makes_an_ordinary_person_strict_at_once_naming_the_rule(app, officer, intake):
    person = intake(officer)
    set_grade(app, person["id"], "ordinary")
    record(app, person["id"], "warning")
    grade = officer.get(f"/api/v1/persons/{person['id']}/grade").get_json()
    assert grade["grade"] == "strict"
    last = officer.get(f"/api/v1/persons/{person['id']}/grade/history").get_json()[-1]
    assert (last["kind"], last["status"], last["from_grade"], last["to_grade"]) == (
        "automatic_stricter",
        "effective",
        "ordinary",
        "strict",
    )
    assert last["rule_ids"] == ["stricter_warning_strict"]
    assert last["inputs"]["event"] == "warning"
    assert last["basis"].startswith("event:")
    # The district command centre sees it among its district's decisions.
    commander_view = app.test_client()
    from tests.conftest import DEMO_PASSWORD

    token = commander_view.post(
        "/api/v1/auth/token", json={"username": "commander-dongcheng", "password": DEMO_PASSWORD}
    ).get_json()["access_token"]
    queue = commander_view.get(
        "/api/v1/grade-decisions?kind=automatic_stricter",
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    assert [d["person_id"] for d in queue["items"]] == [person["id"]]


def test_admonition_of_a_strict_person_changes_nothing(app, officer, intake):
    person = officer.post("/api/v1/persons", json=person_payload(intake_risk="high")).get_json()
    record(app, person["id"], "admonition")
    history = officer.get(f"/api/v1/persons/{person['id']}/grade/history").get_json()
    assert len(history) == 1


def test_manual_stricter_is_effective_at_once(officer, intake):
    person = intake(officer)
    resp = officer.post(
        f"/api/v1/persons/{person['id']}/grade/decisions",
        json={"to_grade": "strict", "reason": "家庭矛盾激化，加强管控"},
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "effective"
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "strict"


def test_manual_looser_refused_when_the_rules_do_not_allow_it(officer, intake):
    person = intake(officer)
    url = f"/api/v1/persons/{person['id']}/grade/decisions"
    resp = officer.post(url, json={"to_grade": "ordinary", "reason": "表现良好"})
    assert resp.status_code == 422
    messages = " ".join(resp.get_json()["errors"]["to_grade"])
    assert "looser_min_months_in_grade" in messages and "looser_good_assessments" in messages
    skip = officer.post(url, json={"to_grade": "relaxed", "reason": "表现良好"})
    assert skip.status_code == 422
    assert skip.get_json()["detail"] == "放宽管理等级须逐级进行：下一级为普通"
    assert officer.post(url, json={"to_grade": "golden", "reason": "x" * 3}).status_code == 422
    assert officer.post(url, json={"to_grade": "strict"}).status_code == 422  # no reason


def test_decisions_are_scoped(login, intake):
    person = intake(login("officer-dongcheng-1"))
    other = login("officer-xicheng-1")
    assert other.get(f"/api/v1/persons/{person['id']}/grade").status_code == 404
    assert (
        other.post(
            f"/api/v1/persons/{person['id']}/grade/decisions",
            json={"to_grade": "strict", "reason": "越权尝试"},
        ).status_code
        == 404
    )
    assert other.get("/api/v1/grade-decisions").get_json()["total"] == 0
    analyst = login("analyst")
    assert analyst.get(f"/api/v1/persons/{person['id']}/grade").status_code == 200
    assert (
        analyst.post(
            f"/api/v1/persons/{person['id']}/grade/decisions",
            json={"to_grade": "strict", "reason": "分析员"},
        ).status_code
        == 403
    )


def test_only_a_commander_of_the_district_approves(app, login, intake):
    officer = login("officer-dongcheng-1")
    person = intake(officer)
    did = grade_proposal(app, person["id"])
    base = f"/api/v1/persons/{person['id']}/grade/decisions/{did}"
    assert officer.post(f"{base}/approve", json={}).status_code == 403
    assert login("city").post(f"{base}/approve", json={}).status_code == 403
    assert login("commander-xicheng").post(f"{base}/approve", json={}).status_code == 404
    queue = login("commander-dongcheng").get("/api/v1/grade-decisions?status=proposed").get_json()
    assert [d["id"] for d in queue["items"]] == [did]
    resp = login("commander-dongcheng").post(f"{base}/approve", json={"note": "同意"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "effective"
    assert resp.get_json()["decided_by"] == "commander-dongcheng"
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "ordinary"
    # Deciding twice is a conflict.
    again = login("commander-dongcheng").post(f"{base}/reject", json={"note": "重复"})
    assert again.status_code == 409


def test_nobody_approves_their_own_proposal(app, login, intake, runner):
    officer = login("officer-dongcheng-1")
    person = intake(officer)
    commander = login("commander-dongcheng")
    with app.app_context():
        from corrections.org.models import User

        user = db.session.scalar(select(User).where(User.username == "commander-dongcheng"))
        actor = Actor(user.id, user.username, Role.COMMANDER, user.unit_id)
        from corrections.grading import engine

        evaluation = engine.LooserEvaluation(True, "ordinary", (), (), {})
        decision = service.propose_looser(
            db.session,
            actor=actor,
            person=db.session.get(Person, person["id"]),
            evaluation=evaluation,
            basis=None,
            kind="manual",
            now=app.extensions["corrections.clock"].now(),
        )
        db.session.commit()
        did = decision.id
        db.session.remove()
    resp = commander.post(f"/api/v1/persons/{person['id']}/grade/decisions/{did}/approve", json={})
    assert resp.status_code == 403 and resp.get_json()["detail"] == "不得审批本人提出的建议。"


def test_reject_needs_a_reason_and_keeps_the_grade(app, login, intake):
    officer = login("officer-dongcheng-1")
    person = intake(officer)
    did = grade_proposal(app, person["id"])
    commander = login("commander-dongcheng")
    base = f"/api/v1/persons/{person['id']}/grade/decisions/{did}"
    assert commander.post(f"{base}/reject", json={}).status_code == 422
    resp = commander.post(f"{base}/reject", json={"note": "近期表现有反复"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "tight"


def test_a_stricter_move_voids_an_open_proposal(app, login, intake):
    officer = login("officer-dongcheng-1")
    person = intake(officer)
    did = grade_proposal(app, person["id"])
    record(app, person["id"], "warning")
    with app.app_context():
        status = db.session.get(GradeDecision, did).status
        db.session.remove()
    assert status == "rejected"
    resp = login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/grade/decisions/{did}/approve", json={}
    )
    assert resp.status_code == 409


def test_current_grade_is_the_latest_effective_decision(app, officer, intake):
    person = intake(officer)
    set_grade(app, person["id"], "ordinary")
    record(app, person["id"], "admonition", datetime(2026, 11, 27, 1, tzinfo=UTC))
    with app.app_context():
        latest = db.session.scalars(
            select(GradeDecision.to_grade)
            .where(GradeDecision.person_id == person["id"], GradeDecision.status == "effective")
            .order_by(GradeDecision.effective_at.desc(), GradeDecision.id.desc())
        ).first()
        stored = db.session.get(Person, person["id"]).grade
        db.session.remove()
    assert latest == stored == "tight"


def test_two_simultaneous_decisions_on_one_proposal_one_wins(app, login, intake):
    import threading

    from tests.conftest import Api

    officer = login("officer-dongcheng-1")
    person = intake(officer)
    did = grade_proposal(app, person["id"])
    commander = login("commander-dongcheng")
    base = f"/api/v1/persons/{person['id']}/grade/decisions/{did}"
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def decide(action: str) -> None:
        api = Api(app.test_client(), commander.token, commander.username)
        barrier.wait()
        codes[action] = api.post(f"{base}/{action}", json={"note": "并发决定"}).status_code

    threads = [threading.Thread(target=decide, args=(a,)) for a in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [200, 409], codes
    history = officer.get(f"/api/v1/persons/{person['id']}/grade/history").get_json()
    final = next(h for h in history if h["id"] == did)
    expected_grade = "ordinary" if codes["approve"] == 200 else "tight"
    assert final["status"] == ("effective" if codes["approve"] == 200 else "rejected")
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == expected_grade


def test_review_is_overdue_three_months_after_the_last_decision(login, intake, clock):
    person = intake(login("officer-dongcheng-1"))
    clock.set(datetime(2027, 2, 27, 16, 0, tzinfo=UTC))  # 00:00 Feb 28 in Shanghai
    grade = login("officer-dongcheng-1").get(f"/api/v1/persons/{person['id']}/grade").get_json()
    assert grade["next_review_date"] == "2027-02-27" and grade["review_overdue"] is True
