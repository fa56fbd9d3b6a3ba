"""Lost contact and absconding: the episode's state machine, the person's status following
it, absence days in Asia/Shanghai, sanction proposals for people to decide."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from corrections.incidents.service import absence_days
from tests.supervision.conftest import event

REPORT_MISSED_AT = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)  # Dec 11 report missed; Dec 12 10:00


def _incidents(api, person_id):
    resp = api.get(f"/api/v1/persons/{person_id}/incidents")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _person(api, person_id):
    return api.get(f"/api/v1/persons/{person_id}").get_json()


def _detect(run_job, at):
    run_job("sweep_obligations", at=at)
    return run_job("detect_lost_contact", at=at)


def test_a_missed_check_opens_an_episode_that_becomes_lost_contact_after_24_hours(
    app, login, active, run_job
):
    person = active()
    run = _detect(run_job, datetime(2026, 12, 1, 2, tzinfo=UTC))  # Dec 1, 10:00 Shanghai
    assert run["counts"]["opened"] == 1
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    # The Nov 30 check was missed: overdue since the end of that day in Shanghai.
    assert incident["state"] == "overdue" and incident["trigger_type"] == "obligation"
    assert incident["overdue_since"] == "2026-11-30T16:00:00+00:00"
    assert _person(officer, person["id"])["status"] == "active"
    # 23:59 on Dec 1 in Shanghai: not yet 24 hours.
    _detect(run_job, datetime(2026, 12, 1, 15, 59, tzinfo=UTC))
    officer = login("officer-dongcheng-1")  # tokens last 12 hours: sign in again
    assert _incidents(officer, person["id"])[0]["state"] == "overdue"
    _detect(run_job, datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["state"] == "lost_contact" and incident["state_label_zh"] == "失去联系"
    body = _person(officer, person["id"])
    assert body["status"] == "lost_contact"
    assert body["grade"] == "strict"  # lost contact makes the grade strict at once
    commander = login("commander-dongcheng")
    lost = commander.get(
        "/api/v1/alerts", query_string={"kind": "lost_contact", "person_id": person["id"]}
    ).get_json()["items"]
    assert len(lost) == 1 and lost[0]["severity"] == "critical"
    assert lost[0]["subject_id"] == incident["id"]
    # Running again changes nothing.
    again = run_job("detect_lost_contact")
    assert again["counts"] == {"opened": 0, "lost_contact": 0, "closed": 0, "proposals": 0}


def test_a_contact_within_the_grace_time_closes_the_episode(app, login, active, run_job):
    person = active()
    at = datetime(2026, 12, 1, 2, tzinfo=UTC)  # the Nov 30 check was missed last night
    _detect(run_job, at)
    officer = login("officer-dongcheng-1")
    assert _incidents(officer, person["id"])[0]["state"] == "overdue"
    resp = event(
        officer,
        person["id"],
        "phone_check",
        occurred_at="2026-12-01T01:30:00Z",
        payload={"success": True},
    )
    assert resp.status_code == 201
    run = run_job("detect_lost_contact", at=at + timedelta(hours=2))
    assert run["counts"]["closed"] == 1
    (incident,) = _incidents(officer, person["id"])
    assert incident["state"] == "closed" and incident["close_reason"] == "returned"
    assert _person(officer, person["id"])["status"] == "active"
    assert incident["proposals"] == []  # overdue only, never lost: nothing to propose


def test_a_failed_search_contact_means_lost_contact_at_once(app, login, active, run_job):
    person = active()
    at = datetime(2026, 12, 1, 2, tzinfo=UTC)
    _detect(run_job, at)
    officer = login("officer-dongcheng-1")
    resp = event(
        officer,
        person["id"],
        "contact_attempt_failed",
        occurred_at="2026-12-01T01:45:00Z",
        payload={"method": "phone"},
    )
    assert resp.status_code == 201
    run_job("detect_lost_contact", at=at + timedelta(hours=1))
    assert _incidents(officer, person["id"])[0]["state"] == "lost_contact"


def test_absconding_is_confirmed_by_an_officer_and_closing_counts_the_absence(
    app, login, active, run_job
):
    person = active()
    officer = login("officer-dongcheng-1")
    assert (
        event(officer, person["id"], "talk", occurred_at="2026-11-27T01:00:00Z").status_code == 201
    )
    resp = officer.post(
        f"/api/v1/persons/{person['id']}/incidents",
        json={"state": "lost_contact", "note": "电话关机，家属称不知去向"},
    )
    assert resp.status_code == 201, resp.get_json()
    incident = resp.get_json()
    assert incident["state"] == "lost_contact"
    # The intake report at 02:00 (activation) came after the talk: it is the last contact.
    assert incident["last_contact_at"] == "2026-11-27T02:00:00+00:00"
    path = f"/api/v1/persons/{person['id']}/incidents/{incident['id']}"
    # A second open episode is refused.
    resp = officer.post(f"/api/v1/persons/{person['id']}/incidents", json={"note": "再次"})
    assert resp.status_code == 409

    resp = officer.post(f"{path}/absconded", json={})
    assert resp.status_code == 422 and "search_record" in resp.get_json()["errors"]
    resp = officer.post(
        f"{path}/absconded", json={"search_record": "走访居所、联系家属、通报派出所，均未找到"}
    )
    assert resp.status_code == 200 and resp.get_json()["state"] == "absconded"
    assert _person(officer, person["id"])["status"] == "absconded"

    other = login("officer-xicheng-1")
    assert other.post(f"{path}/close", json={"reason": "found"}).status_code == 404

    resp = officer.post(f"{path}/close", json={"reason": "found", "note": "派出所查找到"})
    assert resp.status_code == 200, resp.get_json()
    closed = resp.get_json()
    assert closed["state"] == "closed" and closed["absence_days"] == 0
    # Back within 10 days: an admonition is proposed, for a person to decide.
    assert [p["kind"] for p in closed["proposals"]] == ["admonition"]
    assert _person(officer, person["id"])["status"] == "active"
    commander = login("commander-dongcheng")
    live = commander.get(
        "/api/v1/alerts", query_string={"person_id": person["id"], "status": "open"}
    ).get_json()["items"]
    assert {a["kind"] for a in live} == {"sanction_proposed"}
    assert officer.post(f"{path}/close", json={"reason": "found"}).status_code == 409


def test_shishi_banfa_46_revocation_proposal_after_one_calendar_month(app, login, active, run_job):
    """Replaces the test that proposed revocation 31 days after the last contact: the month
    counts from when supervision was lost (the Nov 30 check missed: Dec 1 in Shanghai), in
    calendar months, and the decision needs the person's statement (实施办法 46(2), 47(1))."""
    person = active(category="parole")
    _detect(run_job, datetime(2026, 12, 1, 2, tzinfo=UTC))
    _detect(run_job, datetime(2026, 12, 2, 2, tzinfo=UTC))  # lost contact
    for at in (datetime(2026, 12, 28, 2, tzinfo=UTC), datetime(2027, 1, 1, 15, tzinfo=UTC)):
        run_job("detect_lost_contact", at=at)  # Jan 1 23:00 in Shanghai: exactly one month
        officer = login("officer-dongcheng-1")
        (incident,) = _incidents(officer, person["id"])
        assert [p["kind"] for p in incident["proposals"]] == ["warning"]
    run_job("detect_lost_contact", at=datetime(2027, 1, 1, 16, tzinfo=UTC))  # Jan 2
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["absence_days"] == 32
    assert incident["out_of_supervision_since"] == "2026-11-30T16:00:00+00:00"
    kinds = {p["kind"]: p for p in incident["proposals"]}
    assert set(kinds) == {"warning", "revocation"}
    revocation = kinds["revocation"]
    assert revocation["status"] == "proposed" and revocation["kind_label_zh"] == "提请撤销缓刑/假释"
    assert revocation["article"].startswith("实施办法 47(1)")
    assert revocation["rules_version"] == "incidents-2026.2+sanctions-2026.3"
    assert revocation["evidence"]["incident_id"] == incident["id"]
    assert revocation["evidence"]["trigger"] == f"obligation:{incident['trigger_id']}"
    assert revocation["evidence"]["out_of_supervision_since"] == "2026-12-01"
    # Proposals, never decisions: the person's status and term are untouched.
    assert _person(officer, person["id"])["status"] == "lost_contact"

    path = f"/api/v1/persons/{person['id']}/incidents/{incident['id']}/proposals/{revocation['id']}"
    assert officer.post(path, json={"decision": "accepted", "note": "同意"}).status_code == 403
    commander = login("commander-dongcheng")
    resp = commander.post(path, json={"decision": "accepted", "note": "提请法院撤销假释"})
    assert resp.status_code == 422 and "statement" in resp.get_json()["errors"]
    resp = commander.post(
        path,
        json={
            "decision": "accepted",
            "note": "提请法院撤销假释",
            "statement_not_taken_reason": "本人下落不明，无法听取陈述申辩",
        },
    )
    assert resp.status_code == 200 and resp.get_json()["status"] == "accepted"
    assert resp.get_json()["statement_not_taken_reason"].startswith("本人下落不明")
    assert commander.post(path, json={"decision": "declined", "note": "x" * 3}).status_code == 409

    # A person's proposals in one list (issue 14): both, newest first, with article and
    # evidence; filtered by state; in scope only.
    listed = officer.get(f"/api/v1/persons/{person['id']}/proposals").get_json()
    assert {p["kind"]: p["status"] for p in listed} == {
        "warning": "proposed",
        "revocation": "accepted",
    }
    assert [p["id"] for p in listed] == sorted((p["id"] for p in listed), reverse=True)
    accepted = officer.get(f"/api/v1/persons/{person['id']}/proposals?status=accepted")
    (only,) = accepted.get_json()
    assert only["id"] == revocation["id"] and only["article"] == revocation["article"]
    assert only["evidence"]["incident_id"] == incident["id"]
    bad = officer.get(f"/api/v1/persons/{person['id']}/proposals?status=done")
    assert bad.status_code == 422 and "query.status" in bad.get_json()["errors"]
    other = login("officer-xicheng-1").get(f"/api/v1/persons/{person['id']}/proposals")
    assert other.status_code == 404


def test_shishi_banfa_35_warning_only_after_10_days_out_of_supervision(app, login, active, run_job):
    """Replaces the test that counted 15 days from the last contact (Nov 27): the Nov 30 check
    missed, supervision was lost on Dec 1; day 10 (Dec 11) proposes nothing, day 11 a warning
    (实施办法 35(2)); no return to custody before more than a calendar month (49)."""
    person = active(category="temporary_outside_custody", has_guarantor=True)
    officer = login("officer-dongcheng-1")
    event(officer, person["id"], "report", occurred_at="2026-11-27T01:00:00Z")
    # Opened and lost contact at once (the miss is 10 days old): day 10, nothing proposed.
    _detect(run_job, datetime(2026, 12, 11, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["state"] == "lost_contact" and incident["absence_days"] == 10
    assert incident["proposals"] == []
    run_job("detect_lost_contact", at=datetime(2026, 12, 12, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["absence_days"] == 11
    assert [p["kind"] for p in incident["proposals"]] == ["warning"]
    assert incident["proposals"][0]["article"].startswith("实施办法 35(2)")
    run_job("detect_lost_contact", at=datetime(2026, 12, 28, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert [p["kind"] for p in incident["proposals"]] == ["warning"]
    run_job("detect_lost_contact", at=datetime(2027, 1, 2, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert [p["kind"] for p in incident["proposals"]] == ["warning", "return_to_custody"]
    assert incident["proposals"][1]["article"].startswith("实施办法 49(2)")


def test_shishi_banfa_34_no_proposal_while_an_episode_is_only_overdue(app, login, active):
    """An episode opened by hand 31 days after the last contact is overdue: nothing proposed
    (replaces the test that proposed revocation here)."""
    person = active(category="parole")
    officer = login("officer-dongcheng-1")
    event(officer, person["id"], "report", occurred_at="2026-11-27T01:00:00Z")
    resp = officer.post(
        f"/api/v1/persons/{person['id']}/incidents", json={"note": "电话关机，家属称不知去向"}
    )
    assert resp.status_code == 201 and resp.get_json()["proposals"] == []


def test_a_failed_contact_before_the_miss_starts_the_absence(app, clock, login, active, run_job):
    """Supervision is lost at the first failed contact when it comes before the missed
    obligation's due time (实施办法 35: 脱离监管 counts from when it was lost)."""
    person = active(category="parole")
    clock.set(datetime(2026, 11, 28, 3, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    resp = event(
        officer,
        person["id"],
        "contact_attempt_failed",
        occurred_at="2026-11-28T02:00:00Z",
        payload={"method": "phone"},
    )
    assert resp.status_code == 201
    _detect(run_job, datetime(2026, 12, 1, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["state"] == "lost_contact"
    assert incident["out_of_supervision_since"] == "2026-11-28T02:00:00+00:00"
    run_job("detect_lost_contact", at=datetime(2026, 12, 9, 2, tzinfo=UTC))  # day 11
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert [p["kind"] for p in incident["proposals"]] == ["warning"]


def test_an_old_answered_miss_does_not_hide_a_new_one(app, login, active, run_job):
    """A miss a later contact answered (no episode opened for it) must not stop a new miss
    from opening an episode: today's code took the earliest miss on record, saw it answered
    and skipped the person for good."""
    person = active()
    run_job("sweep_obligations", at=datetime(2026, 12, 1, 2, tzinfo=UTC))  # Nov 30 check missed
    officer = login("officer-dongcheng-1")
    resp = event(
        officer,
        person["id"],
        "phone_check",
        occurred_at="2026-12-01T01:30:00Z",
        payload={"success": True},
    )
    assert resp.status_code == 201
    run = run_job("detect_lost_contact", at=datetime(2026, 12, 1, 2, tzinfo=UTC))
    assert run["counts"]["opened"] == 0  # answered before the detection ran
    opened_on = None
    for day in range(2, 32):
        run = _detect(run_job, datetime(2026, 12, day, 2, tzinfo=UTC))
        if run["counts"]["opened"]:
            opened_on = day
            break
    assert opened_on is not None, "the later miss never opened an episode"
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["trigger_type"] == "obligation"
    assert incident["overdue_since"] > "2026-12-01T16:00:00+00:00"


@pytest.mark.parametrize(
    ("last", "today", "days"),
    [
        # 23:30 on Nov 27 in Shanghai, then Dec 7: ten days.
        (datetime(2026, 11, 27, 15, 30, tzinfo=UTC), date(2026, 12, 7), 10),
        # 00:30 on Nov 28 in Shanghai (still Nov 27 in UTC): nine days.
        (datetime(2026, 11, 27, 16, 30, tzinfo=UTC), date(2026, 12, 7), 9),
        (None, date(2026, 12, 7), 36),  # no contact ever: from the term's start (Nov 1)
    ],
)
def test_absence_days_count_asia_shanghai_calendar_days(last, today, days):
    assert absence_days(last, date(2026, 11, 1), today) == days


def test_law_32_proposals_withdrawn_when_the_absence_was_a_detention(app, login, active, run_job):
    """A hostile review found a revocation accepted for a person who was, as a late notice
    showed, held by the police the whole time: the episode closes as detained, and its
    proposals that the absence up to the detention does not ground are withdrawn."""
    person = active()
    for at in (datetime(2026, 12, 20, 2, tzinfo=UTC), datetime(2027, 1, 20, 2, tzinfo=UTC)):
        run_job("sweep_obligations", at=at)
        run_job("detect_lost_contact", at=at)
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    kinds = {p["kind"]: p for p in incident["proposals"]}
    assert {"warning", "revocation"} <= set(kinds)
    held = officer.post(
        f"/api/v1/persons/{person['id']}/detentions",
        json={
            "kind": "administrative_detention",
            "start_date": "2026-11-28",
            "authority": "城关派出所",
        },
    )
    assert held.status_code == 201, held.get_json()
    run_job("detect_lost_contact", at=datetime(2027, 1, 21, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (incident,) = _incidents(officer, person["id"])
    assert incident["state"] == "closed" and incident["close_reason"] == "detained"
    statuses = {p["kind"]: p["status"] for p in incident["proposals"]}
    assert statuses["revocation"] == "declined" and statuses["warning"] == "declined"
    path = (
        f"/api/v1/persons/{person['id']}/incidents/{incident['id']}"
        f"/proposals/{kinds['revocation']['id']}"
    )
    resp = login("commander-dongcheng").post(
        path,
        json={"decision": "accepted", "note": "同意", "statement_not_taken_reason": "下落不明"},
    )
    assert resp.status_code == 409
