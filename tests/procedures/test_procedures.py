"""The procedures routes: who may record and read them, bad input, versions (If-Match), the
checklist, and the hooks other domains call (grade changes, the end of a term)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.persons.models import Person
from corrections.procedures import service
from corrections.procedures.models import ExitBan
from tests.conftest import TEST_NOW
from tests.factories import juvenile_payload
from tests.procedures.support import (
    announcement_payload,
    assessment_payload,
    exit_ban_payload,
    member_payload,
    plan_payload,
)


def _base(person) -> str:
    return f"/api/v1/persons/{person['id']}"


def _steps(api, person) -> dict[str, dict]:
    resp = api.get(f"{_base(person)}/procedures")
    assert resp.status_code == 200, resp.get_json()
    return {s["kind"]: s for s in resp.get_json()["steps"]}


def _states(api, person) -> dict[str, str]:
    return {k: s["state"] for k, s in _steps(api, person).items()}


def _actions(app, person_id: int) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_id == str(person_id), AuditEntry.action.like("procedures.%"))
            .order_by(AuditEntry.id)
        ).all()
        db.session.remove()
    return list(rows)


# --- the checklist ---------------------------------------------------------------------------


def test_the_checklist_of_a_new_intake_lists_every_step_with_chinese_labels(intake, officer):
    person = intake()
    body = officer.get(f"{_base(person)}/procedures").get_json()
    assert body["status"] == "pending_intake" and body["complete"] is False
    assert body["rules_version"] == "procedures-2026.1"
    steps = {s["kind"]: s for s in body["steps"]}
    assert list(steps) == [
        "investigation_assessment",
        "intake_announcement",
        "correction_team",
        "correction_plan",
        "exit_ban_filing",
        "exit_ban_lifting",
        "discharge_announcement",
    ]
    assert steps["intake_announcement"] | {"reasons": []} == {
        "kind": "intake_announcement",
        "kind_label_zh": "入矫宣告",
        "state": "due",
        "state_label_zh": "待办理",
        "article": "社区矫正法 22; 实施办法 16 (UNVERIFIED)",
        "basis": "statute",
        "reasons": [],
    }
    assert steps["investigation_assessment"]["state"] == "not_applicable"
    assert steps["correction_team"]["reasons"] == [
        {"rule_id": "no_team_members", "rule_label_zh": "尚未确定矫正小组成员"}
    ]


def test_a_complete_intake_shows_every_step_done(active, officer):
    person = active()
    base = _base(person)
    assert officer.post(f"{base}/announcements", json=announcement_payload()).status_code == 201
    assert officer.post(f"{base}/correction-team/members", json=member_payload()).status_code == 201
    assert officer.post(f"{base}/correction-plans", json=plan_payload()).status_code == 201
    assert officer.post(f"{base}/exit-ban", json=exit_ban_payload()).status_code == 201
    body = officer.get(f"{base}/procedures").get_json()
    assert body["complete"] is True
    assert {s["kind"]: s["state"] for s in body["steps"]} == {
        "investigation_assessment": "not_applicable",
        "intake_announcement": "done",
        "correction_team": "done",
        "correction_plan": "done",
        "exit_ban_filing": "done",
        "exit_ban_lifting": "not_applicable",
        "discharge_announcement": "not_applicable",
    }


# --- announcements ---------------------------------------------------------------------------


def test_art_22_the_intake_announcement_is_recorded_once(app, active, officer):
    person = active()
    url = f"{_base(person)}/announcements"
    resp = officer.post(url, json=announcement_payload())
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["ETag"] == '"1"'
    body = resp.get_json()
    assert body["kind_label_zh"] == "入矫宣告" and body["held_at"] == "2026-11-27T01:00:00+00:00"
    assert [a["name"] for a in body["attendees"]] == ["李社工", "张父"]
    again = officer.post(url, json=announcement_payload(place="另一处"))
    assert again.status_code == 409 and "kind" in again.get_json()["errors"]
    assert [a["kind"] for a in officer.get(url).get_json()] == ["intake"]
    assert _actions(app, person["id"])[:1] == ["procedures.announcement.record"]


def test_shishi_banfa_54_the_discharge_announcement_follows_the_discharge(
    login, officer, active, clock
):
    person = active(category="control_order", term_start="2026-11-01", term_end="2027-01-31")
    url = f"{_base(person)}/announcements"
    early = officer.post(url, json=announcement_payload(kind="discharge"))
    assert early.status_code == 409 and "kind" in early.get_json()["errors"]
    assert _states(officer, person)["discharge_announcement"] == "not_applicable"
    clock.set(datetime(2027, 1, 31, 2, tzinfo=UTC))
    done = login("commander-dongcheng").post(
        f"{_base(person)}/discharge", json={"certificate_number": "东矫解〔2027〕1号"}
    )
    assert done.status_code == 201, done.get_json()
    api = login("officer-dongcheng-1")
    assert _states(api, person)["discharge_announcement"] == "due"
    before = api.post(
        url, json=announcement_payload(kind="discharge", held_at="2027-01-30T09:00:00+08:00")
    )
    assert before.status_code == 422 and "held_at" in before.get_json()["errors"]
    resp = api.post(
        url, json=announcement_payload(kind="discharge", held_at="2027-01-31T09:30:00+08:00")
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["kind_label_zh"] == "解矫宣告"
    assert _states(api, person)["discharge_announcement"] == "done"


def test_bad_input_is_422_naming_the_field(active, officer):
    person = active()
    url = f"{_base(person)}/announcements"
    cases = [
        ({"place": None}, "place"),
        ({"place": "   "}, "place"),
        ({"kind": "graduation"}, "kind"),
        ({"held_at": "2026-11-27T09:00:00"}, "held_at"),  # naive
        ({"held_at": "2026-11-28T09:00:00+08:00"}, "held_at"),  # in the future
        ({"held_at": "2026-10-01T09:00:00+08:00"}, "held_at"),  # before the judgment
        ({"held_at": "0001-01-01T00:00:00+14:00"}, "held_at"),  # not a 500
        ({"attendees": []}, "attendees"),
        ({"attendees": [{"capacity": "家属"}]}, "attendees"),
        ({"extra": 1}, "extra"),
    ]
    for change, field in cases:
        resp = officer.post(url, json=announcement_payload(**change))
        assert resp.status_code == 422, (change, resp.get_json())
        assert resp.content_type == "application/problem+json"
        assert field in resp.get_json()["errors"], (change, resp.get_json())
    members = f"{_base(person)}/correction-team/members"
    for change, field in (
        ({"phone": "call me"}, "phone"),
        ({"role": "astronaut"}, "role"),
        ({"gender": "x"}, "gender"),
        ({"name": ""}, "name"),
    ):
        resp = officer.post(members, json=member_payload(**change))
        assert resp.status_code == 422 and field in resp.get_json()["errors"], change


def test_a_correction_needs_the_version_read(active, officer):
    person = active()
    created = officer.post(f"{_base(person)}/announcements", json=announcement_payload())
    url = f"{_base(person)}/announcements/{created.get_json()['id']}"
    change = {"notes": "补充：已签署宣告书"}
    assert officer.patch(url, json=change).status_code == 428
    assert officer.patch(url, json=change, headers={"If-Match": '"7"'}).status_code == 412
    assert officer.patch(url, json=change, headers={"If-Match": '"abc"'}).status_code == 412
    assert officer.patch(url, json=change, headers={"If-Match": "abc"}).status_code == 400
    resp = officer.patch(url, json=change, headers={"If-Match": created.headers["ETag"]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["ETag"] == '"2"' and resp.get_json()["notes"] == change["notes"]
    stale = officer.patch(url, json=change, headers={"If-Match": created.headers["ETag"]})
    assert stale.status_code == 412
    other = officer.patch(
        f"{_base(person)}/announcements/999999", json=change, headers={"If-Match": '"1"'}
    )
    assert other.status_code == 404


# --- the correction team -----------------------------------------------------------------------


def test_art_25_a_womans_team_has_a_female_member(active, officer):
    person = active(gender="female", name="刘芳")
    base = _base(person)
    man = officer.post(
        f"{base}/correction-team/members",
        json=member_payload(role="officer", name="赵强", gender="male", organisation=None),
    )
    assert man.status_code == 201, man.get_json()
    team = officer.get(f"{base}/correction-team").get_json()
    assert team["complete"] is False
    assert team["requirements"] == [
        {
            "rule_id": "female_member",
            "rule_label_zh": "社区矫正对象为女性的，矫正小组中应有女性成员",
            "article": "社区矫正法 25",
            "basis": "statute",
            "met": False,
        }
    ]
    step = _steps(officer, person)["correction_team"]
    assert step["state"] == "missing" and [r["rule_id"] for r in step["reasons"]] == [
        "female_member"
    ]
    woman = officer.post(f"{base}/correction-team/members", json=member_payload())
    assert woman.status_code == 201
    member = woman.get_json()
    assert (member["role_label_zh"], member["gender_label_zh"]) == ("社会工作者", "女")
    team = officer.get(f"{base}/correction-team").get_json()
    assert team["complete"] is True and team["requirements"][0]["met"] is True
    assert _states(officer, person)["correction_team"] == "done"


def test_art_52_a_juveniles_team_has_someone_familiar_with_juveniles(officer):
    person = officer.post("/api/v1/persons", json=juvenile_payload()).get_json()
    base = _base(person)
    officer.post(f"{base}/correction-team/members", json=member_payload())
    team = officer.get(f"{base}/correction-team").get_json()
    met = {r["rule_id"]: r["met"] for r in team["requirements"]}
    assert met == {"female_member": True, "juvenile_expert": False}
    assert _states(officer, person)["correction_team"] == "due"  # before intake reporting
    officer.post(
        f"{base}/correction-team/members",
        json=member_payload(role="juvenile_expert", name="陈老师", gender="male"),
    )
    team = officer.get(f"{base}/correction-team").get_json()
    assert team["complete"] is True


def test_a_member_is_corrected_and_removed_with_if_match_and_the_record_stays(app, active, officer):
    person = active()
    created = officer.post(f"{_base(person)}/correction-team/members", json=member_payload())
    url = f"{_base(person)}/correction-team/members/{created.get_json()['id']}"
    changed = officer.patch(
        url, json={"phone": "13600001111"}, headers={"If-Match": created.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.get_json()["phone"] == "13600001111"
    assert officer.delete(url).status_code == 428
    assert officer.delete(url, headers={"If-Match": created.headers["ETag"]}).status_code == 412
    gone = officer.delete(url, headers={"If-Match": changed.headers["ETag"]})
    assert gone.status_code == 204
    assert officer.get(f"{_base(person)}/correction-team").get_json()["members"] == []
    assert officer.delete(url, headers={"If-Match": '"3"'}).status_code == 404
    with app.app_context():
        # The name and phone of a third party are encrypted at rest; the removed row stays.
        raw = db.session.execute(
            text("SELECT name, phone, removed_by FROM correction_team_members")
        ).one()
        db.session.remove()
    assert "李娜" not in raw.name and "13600001111" not in raw.phone
    assert raw.removed_by == "officer-dongcheng-1"
    assert [a for a in _actions(app, person["id"]) if a.startswith("procedures.team.")] == [
        "procedures.team.add",
        "procedures.team.update",
        "procedures.team.remove",
    ]


# --- the correction plan ---------------------------------------------------------------------


def test_art_24_a_new_version_supersedes_the_current_plan(active, officer):
    person = active()
    url = f"{_base(person)}/correction-plans"
    first = officer.post(url, json=plan_payload())
    assert first.status_code == 201, first.get_json()
    assert first.headers["ETag"] == '"1.1"'
    body = first.get_json()
    assert (body["number"], body["status_label_zh"]) == (1, "现行方案")
    assert body["next_review_on"] == "2027-02-27"  # rules/procedures.yaml plan.review_within
    assert body["review"]["due"] is False
    second = plan_payload(measures="每月就业指导两次", change_note="找到工作，调整措施")
    assert officer.post(url, json=second).status_code == 428
    assert officer.post(url, json=second, headers={"If-Match": '"1.2"'}).status_code == 412
    resp = officer.post(url, json=second, headers={"If-Match": first.headers["ETag"]})
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["ETag"] == '"2.1"'
    plans = officer.get(url).get_json()
    assert [(p["number"], p["status"]) for p in plans] == [(2, "current"), (1, "superseded")]
    assert plans[1]["superseded_by_id"] == plans[0]["id"]
    current = officer.get(f"{url}/current")
    assert current.headers["ETag"] == '"2.1"' and current.get_json()["number"] == 2


def test_art_24_the_review_day_is_within_the_rules_window(active, officer):
    person = active()
    url = f"{_base(person)}/correction-plans"
    for day in ("2026-11-27", "2027-02-28"):
        resp = officer.post(url, json=plan_payload(next_review_on=day))
        assert resp.status_code == 422 and "next_review_on" in resp.get_json()["errors"], day
    assert officer.post(url, json=plan_payload(next_review_on="2027-01-15")).status_code == 201
    assert officer.get(f"{url}/current").get_json()["next_review_on"] == "2027-01-15"


def test_art_24_plan_reviewed_when_grade_changes(app, active, officer):
    person = active()
    url = f"{_base(person)}/correction-plans"
    first = officer.post(url, json=plan_payload())
    decided = officer.post(
        f"{_base(person)}/grade/decisions", json={"to_grade": "strict", "reason": "多次未按时报到"}
    )
    assert decided.status_code == 201, decided.get_json()
    current = officer.get(f"{url}/current")
    review = current.get_json()["review"]
    assert review["due"] is True and review["kind"] == "grade_changed"
    assert review["kind_label_zh"] == "管理等级调整，矫正方案应相应调整"
    assert review["article"] == "社区矫正法 24"
    assert review["inputs"]["to_grade"] == "strict" and review["inputs"]["from_grade"]
    assert review["since"] == "2026-11-27T02:00:00+00:00"
    step = _steps(officer, person)["correction_plan"]
    assert step["state"] == "due" and step["reasons"][0]["rule_id"] == "grade_changed"
    assert "procedures.plan.review_due" in _actions(app, person["id"])
    # The mark changed the plan: the version read before it is stale.
    assert (
        officer.post(
            url, json=plan_payload(), headers={"If-Match": first.headers["ETag"]}
        ).status_code
        == 412
    )
    reviewed = officer.post(url, json=plan_payload(), headers={"If-Match": current.headers["ETag"]})
    assert reviewed.status_code == 201 and reviewed.get_json()["review"]["due"] is False
    assert _states(officer, person)["correction_plan"] == "done"


def test_on_grade_change_without_a_plan_or_a_change_does_nothing(app, active):
    person = active()
    with app.app_context():
        row = db.session.get(Person, person["id"])
        assert service.on_grade_change(db.session, row, "tight", "strict", TEST_NOW) is None
        db.session.rollback()
        db.session.remove()


# --- the investigation assessment --------------------------------------------------------------


def test_art_18_a_requested_assessment_is_missing_until_finished(app, active, officer):
    person = active()
    url = f"{_base(person)}/investigation-assessment"
    assert officer.get(url).status_code == 404
    created = officer.post(url, json=assessment_payload())
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["state_label_zh"] == "已委托，尚未完成"
    step = _steps(officer, person)["investigation_assessment"]
    assert step["state"] == "missing" and step["reasons"][0]["rule_id"] == "assessment_unfinished"
    etag = {"If-Match": created.headers["ETag"]}
    half = officer.patch(url, json={"conclusion": "suitable"}, headers=etag)
    assert half.status_code == 422 and "finished_on" in half.get_json()["errors"]
    early = officer.patch(
        url, json={"conclusion": "suitable", "finished_on": "2026-09-01"}, headers=etag
    )
    assert early.status_code == 422 and "finished_on" in early.get_json()["errors"]
    done = officer.patch(
        url,
        json={
            "conclusion": "suitable",
            "finished_on": "2026-09-30",
            "submitted_to": "滨江市东城区人民法院",
        },
        headers=etag,
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["conclusion_label_zh"] == "适宜社区矫正"
    assert _states(officer, person)["investigation_assessment"] == "done"
    assert officer.post(url, json=assessment_payload()).status_code == 409


# --- the exit ban ------------------------------------------------------------------------------


def test_exit_entry_law_12_the_exit_ban_is_lifted_after_the_term_ends(
    app, login, officer, active, clock
):
    person = active(category="control_order", term_start="2026-11-01", term_end="2027-01-31")
    base = _base(person)
    filed = officer.post(f"{base}/exit-ban", json=exit_ban_payload())
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["state_label_zh"] == "已报备"
    assert officer.post(f"{base}/exit-ban", json=exit_ban_payload()).status_code == 409
    lift = {"lifted_on": "2027-01-31", "document_number": "滨公出撤〔2027〕3号"}
    too_early = officer.post(f"{base}/exit-ban/lifting", json=lift, headers={"If-Match": '"1"'})
    assert too_early.status_code == 409 and "lifted_on" in too_early.get_json()["errors"]
    assert _states(officer, person)["exit_ban_lifting"] == "not_applicable"

    clock.set(datetime(2027, 1, 31, 2, tzinfo=UTC))
    discharged = login("commander-dongcheng").post(
        f"{base}/discharge", json={"certificate_number": "东矫解〔2027〕1号"}
    )
    assert discharged.status_code == 201
    # The end of the term (term/service.py end_case) opened the lifting.
    api = login("officer-dongcheng-1")
    read = api.get(f"{base}/exit-ban")
    body = read.get_json()
    assert body["state"] == "lift_due" and body["lifting"]["kind_label_zh"] == "期满解除矫正"
    assert _states(api, person)["exit_ban_lifting"] == "due"
    assert api.post(f"{base}/exit-ban/lifting", json=lift).status_code == 428
    done = api.post(
        f"{base}/exit-ban/lifting", json=lift, headers={"If-Match": read.headers["ETag"]}
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "lifted"
    assert _states(api, person)["exit_ban_lifting"] == "done"
    actions = _actions(app, person["id"])
    assert actions.index("procedures.exit_ban.lift_due") < actions.index("procedures.exit_ban.lift")


def test_exit_entry_law_12_on_term_end_opens_the_lifting_once(app, active, officer):
    person = active()
    officer.post(f"{_base(person)}/exit-ban", json=exit_ban_payload())
    with app.app_context():
        row = db.session.get(Person, person["id"])
        ban = service.on_term_end(db.session, row, "revocation", TEST_NOW)
        assert (ban.lift_due_kind, ban.lift_due_since) == ("revocation", TEST_NOW)
        version = ban.version
        # Called again (or for another end), nothing changes.
        later = service.on_term_end(db.session, row, "death", TEST_NOW + timedelta(days=1))
        assert (later.lift_due_kind, later.version) == ("revocation", version)
        db.session.commit()
        db.session.remove()
    body = officer.get(f"{_base(person)}/exit-ban").get_json()
    assert body["state_label_zh"] == "待撤销报备"
    assert body["lifting"]["kind_label_zh"] == "撤销缓刑、假释"
    assert _states(officer, person)["exit_ban_lifting"] == "due"
    assert "procedures.exit_ban.lift_due" in _actions(app, person["id"])


def test_on_term_end_without_a_filing_opens_nothing(app, active):
    person = active()
    with app.app_context():
        row = db.session.get(Person, person["id"])
        assert service.on_term_end(db.session, row, "death", TEST_NOW) is None
        assert db.session.scalar(select(ExitBan)) is None
        db.session.remove()


# --- who may do what ---------------------------------------------------------------------------


def test_the_owning_office_writes_the_district_and_city_read_analysts_see_no_names(login, active):
    officer = login("officer-dongcheng-1")
    person = active(api=officer)
    base = _base(person)
    assert officer.post(f"{base}/correction-team/members", json=member_payload()).status_code == 201
    other_office, other_district = login("officer-dongcheng-2"), login("commander-xicheng")
    for api in (other_office, other_district):
        assert api.get(f"{base}/procedures").status_code == 404
        assert api.get(f"{base}/correction-team").status_code == 404
    assert other_office.post(f"{base}/exit-ban", json=exit_ban_payload()).status_code == 404
    commander, city = login("commander-dongcheng"), login("city")
    for api in (commander, city):
        team = api.get(f"{base}/correction-team")
        assert team.status_code == 200 and team.get_json()["members"][0]["name"] == "李娜"
        assert api.post(f"{base}/exit-ban", json=exit_ban_payload()).status_code == 403
    analyst = login("analyst")
    member = analyst.get(f"{base}/correction-team").get_json()["members"][0]
    assert (member["name"], member["phone"], member["organisation"]) == (None, None, None)
    assert member["role"] == "social_worker"
    assert analyst.post(f"{base}/exit-ban", json=exit_ban_payload()).status_code == 403
    for role in ("auditor", "admin"):
        assert login(role).get(f"{base}/procedures").status_code == 403
