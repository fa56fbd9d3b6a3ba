"""Obligations derived from the grade, matched by events, re-planned, swept."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from corrections.core.db import db
from corrections.supervision import worklist
from corrections.supervision.models import Obligation
from tests.supervision.conftest import event, obligations, sanction


def _open(api, person_id, kind):
    rows = obligations(api, person_id, kind=kind, status="open")
    assert len(rows) == 1, rows  # never a duplicate
    return rows[0]


def _sweep(app, at: datetime):
    app.extensions["corrections.clock"].set(at)
    with app.app_context():
        result = worklist.sweep(db.session)
        db.session.commit()
        # What this run marked missed: (person id, kind, due day), in due order.
        result.rows = db.session.execute(
            select(Obligation.person_id, Obligation.kind, Obligation.due_on)
            .where(Obligation.missed_at == at)
            .order_by(Obligation.due_on, Obligation.id)
        ).all()
        db.session.remove()
    assert result.missed == len(result.rows)
    return result


def test_activation_plans_what_the_grade_requires(officer, active):
    person = active()  # tight, reported for intake on 2026-11-27
    report, check, visit = (_open(officer, person["id"], k) for k in ("report", "check", "visit"))
    assert (report["opens_on"], report["due_on"]) == ("2026-11-28", "2026-12-11")  # 14 days
    assert check["due_on"] == "2026-11-30"  # 3 days
    assert visit["due_on"] == "2026-12-27"  # 30 days
    education = _open(officer, person["id"], "education")
    # 10 h a month, pro-rated for Nov 27-30: 4 of 30 days.
    assert (education["opens_on"], education["due_on"]) == ("2026-11-27", "2026-11-30")
    assert education["hours_required"] == 1.3 and education["hours_done"] == 0
    assert education["kind_label_zh"] == "教育学习" and education["status_label_zh"] == "待履行"


def test_next_report_is_due_interval_days_after_the_last_one(login, officer, active, clock):
    person = active()
    clock.set(datetime(2026, 11, 28, 3, tzinfo=UTC))
    officer = login("officer-dongcheng-1")  # a new day, a new token
    resp = event(officer, person["id"], "report", "2026-11-27T01:00:00Z")
    # Reported on the 27th again: nothing was due that day (the window opens on the 28th).
    assert _open(officer, person["id"], "report")["due_on"] == "2026-12-11"
    assert resp.status_code == 201
    done = event(officer, person["id"], "report", "2026-11-27T16:30:00Z").get_json()  # 28th, 00:30
    fulfilled = obligations(officer, person["id"], kind="report", status="fulfilled")
    assert [o["fulfilled_by_event_id"] for o in fulfilled] == [done["id"]]
    nxt = _open(officer, person["id"], "report")
    assert (nxt["opens_on"], nxt["due_on"]) == ("2026-11-29", "2026-12-12")  # 28th + 14


def test_a_warning_replans_the_open_report_to_seven_days(login, officer, active):
    person = active()
    assert _open(officer, person["id"], "report")["due_on"] == "2026-12-11"
    evidence = event(officer, person["id"], "note").get_json()["id"]
    commander = login("commander-dongcheng")
    assert (
        event(
            commander, person["id"], "warning", payload=sanction("warning", [evidence])
        ).status_code
        == 201
    )
    report = _open(officer, person["id"], "report")
    assert report["due_on"] == "2026-12-04"  # last report 27th + 7 days (strict)
    assert report["grade"] == "strict"
    assert _open(officer, person["id"], "check")["due_on"] == "2026-11-29"  # every 2 days
    education = _open(officer, person["id"], "education")
    assert education["hours_required"] == 1.6  # 12 h a month for 4 of 30 days


def test_sweep_marks_missed_and_plans_the_next_window(app, login, active):
    person = active()
    result = _sweep(app, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # 08:00 Dec 1 Shanghai
    kinds = sorted(k for pid, k, _ in result.rows if pid == person["id"])
    assert kinds == ["check", "education", "service"]
    api = login("officer-dongcheng-1")
    missed_check = obligations(api, person["id"], kind="check", status="missed")
    assert [o["due_on"] for o in missed_check] == ["2026-11-30"]
    assert _open(api, person["id"], "check")["due_on"] == "2026-12-03"
    december = _open(api, person["id"], "education")
    assert (december["opens_on"], december["due_on"], december["hours_required"]) == (
        "2026-12-01",
        "2026-12-31",
        10.0,
    )
    # Sweeping again changes nothing.
    again = _sweep(app, datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    assert again.missed == 0 and again.planned == 0 and again.hour_windows == 0


def test_sweep_catches_up_after_an_outage(app, login, active):
    person = active()
    result = _sweep(app, datetime(2026, 12, 10, 2, tzinfo=UTC))  # nothing swept for 13 days
    checks = [d for pid, k, d in result.rows if pid == person["id"] and k == "check"]
    # Check windows due Nov 30, Dec 3, Dec 6, Dec 9: each missed once.
    assert [d.isoformat() for d in checks] == [
        "2026-11-30",
        "2026-12-03",
        "2026-12-06",
        "2026-12-09",
    ]
    api = login("officer-dongcheng-1")
    assert _open(api, person["id"], "check")["due_on"] == "2026-12-12"


def test_a_back_dated_report_still_fulfils_its_window(app, login, active):
    person = active()
    _sweep(app, datetime(2026, 12, 12, 2, tzinfo=UTC))  # the Dec 11 report was missed
    api = login("officer-dongcheng-1")
    assert (
        obligations(api, person["id"], kind="report", status="missed")[0]["due_on"] == "2026-12-11"
    )
    late_entry = event(api, person["id"], "report", "2026-12-10T02:00:00Z").get_json()
    fulfilled = obligations(api, person["id"], kind="report", status="fulfilled")
    assert [o["fulfilled_by_event_id"] for o in fulfilled] == [late_entry["id"]]
    assert obligations(api, person["id"], kind="report", status="missed") == []
    # The chain re-anchors on the real report: next due 14 days after Dec 10.
    assert _open(api, person["id"], "report")["due_on"] == "2026-12-24"


def test_a_failed_check_fulfils_nothing(login, officer, active, clock):
    person = active()
    clock.set(datetime(2026, 11, 28, 3, tzinfo=UTC))
    officer = login("officer-dongcheng-1")  # a new day, a new token
    event(officer, person["id"], "phone_check", payload={"success": False})
    event(officer, person["id"], "phone_check", "2026-11-27T16:10:00Z", payload={"success": False})
    assert obligations(officer, person["id"], kind="check", status="fulfilled") == []
    event(
        officer, person["id"], "location_check", "2026-11-27T16:20:00Z", payload={"success": True}
    )
    assert len(obligations(officer, person["id"], kind="check", status="fulfilled")) == 1


def test_hours_accumulate_and_corrections_count(officer, active):
    person = active()
    first = event(officer, person["id"], "education", payload={"hours": 1}).get_json()
    assert _open(officer, person["id"], "education")["hours_done"] == 1
    second = event(
        officer, person["id"], "education", "2026-11-27T01:30:00Z", payload={"hours": 0.5}
    ).get_json()
    done = obligations(officer, person["id"], kind="education", status="fulfilled")
    assert done[0]["hours_done"] == 1.5 and done[0]["fulfilled_by_event_id"] == second["id"]
    # The first entry was wrong: 0.2 h, not 1 h. The month is short again.
    event(officer, person["id"], "education", payload={"hours": 0.2}, corrects_id=first["id"])
    reopened = _open(officer, person["id"], "education")
    assert reopened["hours_done"] == 0.7 and reopened["fulfilled_by_event_id"] is None


def _window_in(session, person_id):
    return tuple(
        session.execute(
            select(
                Obligation.hours_done,
                Obligation.status,
                Obligation.fulfilled_by_event_id,
                Obligation.fulfilled_at,
            ).where(Obligation.person_id == person_id, Obligation.kind == "education")
        ).one()
    )


def _education_window(app, person_id):
    with app.app_context():
        row = _window_in(db.session, person_id)
        db.session.remove()
    return row


def test_hours_added_up_in_the_insert_statement_agree_with_a_recount(
    app, login, officer, active, clock
):
    """On PostgreSQL an hour entry is added up inside its INSERT statement; recounting the
    window the other way (the path corrections take) must change nothing, whatever the order
    in which entries arrive."""
    from corrections.persons.models import Person
    from corrections.supervision import obligations as obl

    person = active()  # 1.6 h of education due by Nov 30
    clock.set(datetime(2026, 11, 29, 4, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    steps = [
        ("2026-11-29T01:00:00Z", 0.5),
        ("2026-11-27T09:00:00Z", 0.5),  # back-dated: earlier than the first entry
        ("2026-11-28T23:00:00Z", 0.75),  # 07:00 on Nov 29 in Shanghai: reaches 1.75 h
        ("2026-11-28T02:00:00Z", 0.5),  # back-dated again: now the third in order fulfils
    ]
    for occurred_at, hours in steps:
        resp = event(officer, person["id"], "education", occurred_at, payload={"hours": hours})
        assert resp.status_code == 201, resp.get_json()
        stored = _education_window(app, person["id"])
        with app.app_context():
            subject = db.session.get(Person, person["id"])
            obl.recompute_hours(db.session, subject, "education", date(2026, 11, 29), clock.now())
            recount = _window_in(db.session, person["id"])
            db.session.rollback()
            db.session.remove()
        assert stored == recount
    hours_done, status, by_event, at = _education_window(app, person["id"])
    assert (hours_done, status) == (2.25, "fulfilled")
    third = obligations(officer, person["id"], kind="education", status="fulfilled")[0]
    assert third["fulfilled_by_event_id"] == by_event and at.isoformat().startswith("2026-11-28T23")


def test_a_remote_report_counts_only_while_away_on_a_permit(login, officer, active, clock):
    person = active()
    clock.set(datetime(2026, 11, 28, 3, tzinfo=UTC))
    officer = login("officer-dongcheng-1")  # a new day, a new token
    phone = event(officer, person["id"], "report", "2026-11-27T16:30:00Z", channel="phone")
    assert phone.status_code == 201
    assert obligations(officer, person["id"], kind="report", status="fulfilled") == []
    permit = officer.post(
        f"/api/v1/persons/{person['id']}/travel-permits",
        json={
            "destination": "上海市",
            "reason": "探亲",
            "start_date": "2026-11-28",
            "end_date": "2026-11-30",
        },
    ).get_json()
    login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/travel-permits/{permit['id']}/approve", json={}
    )
    video = event(officer, person["id"], "report", "2026-11-27T16:40:00Z", channel="video")
    fulfilled = obligations(officer, person["id"], kind="report", status="fulfilled")
    assert [o["fulfilled_by_event_id"] for o in fulfilled] == [video.get_json()["id"]]


def test_nothing_is_planned_past_the_end_of_the_term(login, officer, active, clock):
    person = active(category="control_order", term_start="2026-11-01", term_end="2027-01-31")
    clock.set(datetime(2026, 11, 28, 3, tzinfo=UTC))
    officer = login("officer-dongcheng-1")  # a new day, a new token
    assert _open(officer, person["id"], "visit")["due_on"] == "2026-12-27"
    done = event(officer, person["id"], "field_visit", "2026-11-27T16:00:00Z").get_json()
    assert done["id"]
    # A visit on the 28th would make the next one due Dec 28; still inside the term.
    assert _open(officer, person["id"], "visit")["due_on"] == "2026-12-28"


def test_leap_day_month_window(app, login, clock):
    from tests.factories import person_payload

    clock.set(datetime(2028, 2, 28, 2, tzinfo=UTC))
    api = login("officer-dongcheng-1")
    person = api.post(
        "/api/v1/persons",
        json=person_payload(
            judgment_date="2028-02-20",
            judgment_effective_date="2028-02-27",
            term_start="2028-02-28",
            term_end="2029-02-27",
            offence_date="2027-10-01",
        ),
    ).get_json()
    api.post(
        f"/api/v1/persons/{person['id']}/status-changes",
        json={"to_status": "active", "reason": "按期报到"},
    )
    education = _open(api, person["id"], "education")
    # Feb 28-29 of a leap year: 2 of 29 days of 10 h.
    assert (education["opens_on"], education["due_on"], education["hours_required"]) == (
        "2028-02-28",
        "2028-02-29",
        0.7,
    )
    _sweep(app, datetime(2028, 2, 29, 16, 0, tzinfo=UTC))  # 00:00 Mar 1 in Shanghai
    api = login("officer-dongcheng-1")
    march = _open(api, person["id"], "education")
    assert (march["opens_on"], march["due_on"]) == ("2028-03-01", "2028-03-31")


def test_work_list_is_scoped_and_filtered(login, officer, active):
    mine = active()
    other_api = login("officer-xicheng-1")
    active(api=other_api)
    rows = officer.get("/api/v1/obligations?status=open&due_before=2026-11-30").get_json()
    assert {o["person_id"] for o in rows["items"]} == {mine["id"]}
    assert {o["kind"] for o in rows["items"]} == {"check", "education", "service"}
    assert all(o["office_code"] == "32990101" for o in rows["items"])
    commander = login("commander-xicheng").get("/api/v1/obligations?kind=report").get_json()
    assert commander["total"] == 1
    assert officer.get("/api/v1/obligations?due_before=soon").status_code == 422


def test_sweep_command(app, runner, active, clock):
    active()
    clock.set(datetime(2026, 12, 1, 1, tzinfo=UTC))
    result = runner.invoke(args=["supervision", "sweep"])
    assert result.exit_code == 0, result.output
    assert "3 项义务标记为未履行" in result.output  # missed
    assert "排定教育/公益活动时段 2 个" in result.output  # hour windows
    again = runner.invoke(args=["supervision", "sweep"])
    assert "0 项义务标记为未履行，新排 0 项，排定教育/公益活动时段 0 个" in again.output


def test_an_obligation_can_be_excused_with_a_reason(login, officer, active):
    person = active()
    check = _open(officer, person["id"], "check")
    url = f"/api/v1/persons/{person['id']}/obligations/{check['id']}/excuse"
    assert officer.post(url, json={}).status_code == 422  # a reason is required
    assert login("officer-xicheng-1").post(url, json={"note": "住院"}).status_code == 404
    resp = officer.post(url, json={"note": "住院治疗，医院证明在案"})
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["status"], resp.get_json()["closed_reason"]) == (
        "excused",
        "住院治疗，医院证明在案",
    )
    # The chain goes on from the excused window's due day: one open check, due 3 days later.
    assert _open(officer, person["id"], "check")["due_on"] == "2026-12-03"
    assert officer.post(url, json={"note": "再次"}).status_code == 409
