"""暂予监外执行's medical obligations (实施办法 24), the summary before the term ends (实施办法
53) and the pause while a person is held by another authority (社区矫正法 32): table tests named
after the article, on the injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select

from corrections.alerts.models import Alert
from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.incidents.models import Incident, IncidentProposal
from corrections.supervision.models import Obligation
from tests.conftest import TEST_NOW
from tests.supervision.conftest import event, obligations

TOC = "temporary_outside_custody"
REEXAM = {"hospital": "滨江市第一人民医院", "document_number": "复查2026-118"}


def _open(api, person_id, kind):
    rows = obligations(api, person_id, kind=kind, status="open")
    assert len(rows) <= 1, rows  # never a duplicate
    return rows[0] if rows else None


def _at(day: date, hour: int = 2) -> datetime:
    """``hour`` UTC on ``day`` (10:00 in Shanghai by default)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _alerts(app, person_id, kind="obligation_missed", status=None):
    with app.app_context():
        stmt = select(Alert).where(Alert.person_id == person_id, Alert.kind == kind)
        if status:
            stmt = stmt.where(Alert.status == status)
        rows = [(a.subject_id, a.status, a.detail) for a in db.session.scalars(stmt)]
        db.session.remove()
    return rows


def _rows(app, person_id, kind=None):
    with app.app_context():
        stmt = select(Obligation).where(Obligation.person_id == person_id)
        if kind:
            stmt = stmt.where(Obligation.kind == kind)
        rows = [
            (o.kind, o.opens_on.isoformat(), o.due_on.isoformat(), o.status)
            for o in db.session.scalars(stmt.order_by(Obligation.kind, Obligation.opens_on))
        ]
        db.session.remove()
    return rows


# --- 实施办法 24: the health report every month, the re-examination every three months ------


@pytest.mark.parametrize(
    ("activated", "category", "kind", "expected"),
    [
        # From the intake day, the day itself not counted: one calendar month, three.
        (date(2026, 11, 27), TOC, "health_report", ("2026-11-28", "2026-12-27")),
        (date(2026, 11, 27), TOC, "medical_reexam", ("2026-11-28", "2027-02-27")),
        # Calendar months clamp at the month's end (31 Jan + 1 month = 28 Feb).
        (date(2027, 1, 31), TOC, "health_report", ("2027-02-01", "2027-02-28")),
        (date(2026, 11, 30), TOC, "medical_reexam", ("2026-12-01", "2027-02-28")),
        # Only 暂予监外执行 owes them.
        (date(2026, 11, 27), "suspended_sentence", "health_report", None),
        (date(2026, 11, 27), "parole", "medical_reexam", None),
        (date(2026, 11, 27), "control_order", "health_report", None),
    ],
)
def test_art_24_monthly_health_report_falls_due(
    login, active, clock, activated, category, kind, expected
):
    clock.set(_at(activated))
    officer = login("officer-dongcheng-1")
    person = active(api=officer, category=category)
    ob = _open(officer, person["id"], kind)
    if expected is None:
        assert ob is None
        return
    assert (ob["opens_on"], ob["due_on"]) == expected
    assert ob["kind_label_zh"] in ("每月报告身体情况", "每三个月提交病情复查情况")


def test_art_24_the_last_window_ends_with_the_term(login, active):
    officer = login("officer-dongcheng-1")
    person = active(api=officer, category=TOC, term_end="2027-01-15")
    assert _open(officer, person["id"], "medical_reexam")["due_on"] == "2027-01-15"


@pytest.mark.parametrize(
    ("kind", "event_type", "payload", "on", "next_window"),
    [
        # Reported on 20 Dec: the next report is due a month after that day.
        ("health_report", "health_report", {"condition": "病情稳定"}, date(2026, 12, 20),
         ("2026-12-21", "2027-01-20")),
        ("medical_reexam", "medical_reexam", REEXAM, date(2027, 2, 10),
         ("2027-02-11", "2027-05-10")),
    ],
)  # fmt: skip
def test_art_24_a_submission_fulfils_the_window_and_plans_the_next(
    login, active, clock, kind, event_type, payload, on, next_window
):
    person = active(category=TOC)
    clock.set(_at(on))
    officer = login("officer-dongcheng-1")
    resp = event(officer, person["id"], event_type, _at(on, 1).isoformat(), payload=payload)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["type_label_zh"] in ("报告身体情况", "提交病情复查情况")
    (done,) = obligations(officer, person["id"], kind=kind, status="fulfilled")
    assert done["fulfilled_by_event_id"] == resp.get_json()["id"]
    nxt = _open(officer, person["id"], kind)
    assert (nxt["opens_on"], nxt["due_on"]) == next_window


def test_art_24_the_re_examination_names_its_document(officer, active):
    person = active(category=TOC)
    bad = event(officer, person["id"], "medical_reexam", payload={"hospital": "滨江市第一人民医院"})
    assert bad.status_code == 422
    assert "payload.document_number" in bad.get_json()["errors"]
    # A person not on temporary execution has no re-examination to hand in (刑事诉讼法 265).
    other = active(category="parole")
    refused = event(officer, other["id"], "medical_reexam", payload=REEXAM)
    assert refused.status_code == 422 and "type" in refused.get_json()["errors"]
    assert obligations(officer, other["id"], kind="medical_reexam") == []


def test_art_24_a_missed_report_is_swept_alerted_and_chains_on(app, login, active, run_job):
    person = active(category=TOC)
    # 10:00 on 1 Mar 2027: the reports due 27 Dec, 27 Jan and 27 Feb were missed in a row.
    run = run_job("sweep_obligations", at=_at(date(2027, 3, 1)))
    assert run["status"] == "succeeded", run
    officer = login("officer-dongcheng-1")
    missed = obligations(officer, person["id"], kind="health_report", status="missed")
    assert sorted(o["due_on"] for o in missed) == ["2026-12-27", "2027-01-27", "2027-02-27"]
    assert _open(officer, person["id"], "health_report")["due_on"] == "2027-03-27"
    (reexam,) = obligations(officer, person["id"], kind="medical_reexam", status="missed")
    assert reexam["due_on"] == "2027-02-27"
    alerted = {d["obligation_kind"] for _, _, d in _alerts(app, person["id"])}
    assert {"health_report", "medical_reexam"} <= alerted
    # Sweeping again marks and plans nothing more.
    again = run_job("sweep_obligations", at=_at(date(2027, 3, 1), 3))
    assert again["counts"]["missed"] == 0 and again["counts"]["planned"] == 0


def test_art_24_an_excused_report_lets_the_chain_go_on(officer, active):
    person = active(category=TOC)
    report = _open(officer, person["id"], "health_report")
    url = f"/api/v1/persons/{person['id']}/obligations/{report['id']}/excuse"
    assert officer.post(url, json={"note": "住院治疗，医院证明"}).status_code == 200
    nxt = _open(officer, person["id"], "health_report")
    assert (nxt["opens_on"], nxt["due_on"]) == ("2026-12-28", "2027-01-27")


def test_art_24_a_person_supervised_before_the_rule_gets_the_chain(app, login, active, run_job):
    """The first sweep of a month plans the chains a person lacks (e.g. supervised before the
    medical obligations existed)."""
    person = active(category=TOC)
    with app.app_context():
        db.session.execute(
            delete(Obligation).where(
                Obligation.person_id == person["id"],
                Obligation.kind.in_(("health_report", "medical_reexam", "term_summary")),
            )
        )
        db.session.commit()
        db.session.remove()
    run = run_job("sweep_obligations", at=_at(date(2026, 12, 1)))
    assert run["counts"]["started"] == 3
    officer = login("officer-dongcheng-1")
    assert _open(officer, person["id"], "health_report")["due_on"] == "2027-01-01"
    assert _open(officer, person["id"], "term_summary")["due_on"] == "2028-10-01"


# --- 实施办法 53: the summary before the term ends ---------------------------------------------


@pytest.mark.parametrize(
    ("term_end", "due"),
    [
        ("2028-10-31", "2028-10-01"),  # 30 days before the last day
        ("2027-03-01", "2027-01-30"),
        ("2026-12-10", "2026-11-27"),  # the clock ran out before intake: due at once
    ],
)
def test_art_53_term_summary_falls_due_30_days_before_the_term_ends(officer, active, term_end, due):
    person = active(category="parole", term_end=term_end)
    ob = _open(officer, person["id"], "term_summary")
    assert (ob["opens_on"], ob["due_on"]) == ("2026-11-27", due)


def test_art_53_the_summary_fulfils_it_and_the_reminder_resolves(app, login, active, run_job):
    person = active(category="parole", term_end="2026-12-27")
    run_job("term_endings", at=TEST_NOW)
    assert [s for _, s, _ in _alerts(app, person["id"], kind="term_ending")] == ["open"]
    officer = login("officer-dongcheng-1")
    done = event(officer, person["id"], "term_summary", payload={"document_number": "鉴定12号"})
    assert done.status_code == 201, done.get_json()
    (ob,) = obligations(officer, person["id"], kind="term_summary")
    assert ob["status"] == "fulfilled" and ob["fulfilled_by_event_id"] == done.get_json()["id"]
    assert _open(officer, person["id"], "term_summary") is None  # once per term
    run_job("term_endings", at=TEST_NOW)
    assert [s for _, s, _ in _alerts(app, person["id"], kind="term_ending")] == ["resolved"]


def test_art_53_a_summary_not_made_is_missed(login, active, run_job):
    person = active(category="parole", term_end="2027-01-10")  # due 11 Dec
    run_job("sweep_obligations", at=_at(date(2026, 12, 12)))
    officer = login("officer-dongcheng-1")
    (ob,) = obligations(officer, person["id"], kind="term_summary")
    assert (ob["due_on"], ob["status"]) == ("2026-12-11", "missed")


# --- 社区矫正法 32: held by another authority ------------------------------------------------


def _detain(api, person_id, start="2026-11-27", **fields):
    body = {
        "kind": "administrative_detention",
        "start_date": start,
        "authority": "滨江市公安局东城分局",
        "document_number": "东公(治)决字〔2026〕88号",
        **fields,
    }
    return api.post(f"/api/v1/persons/{person_id}/detentions", json=body)


def _release(api, person_id, detention_id, end):
    return api.post(
        f"/api/v1/persons/{person_id}/detentions/{detention_id}/release",
        json={"end_date": end, "note": "拘留期满释放"},
    )


def test_art_32_detention_suspends_obligations(app, login, active, run_job):
    person = active(category=TOC)
    officer = login("officer-dongcheng-1")
    resp = _detain(officer, person["id"])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["held"] is True and body["kind_label_zh"] == "行政拘留"
    assert body["article"].startswith("社区矫正法 32")
    # Everything that was open is excused, with the reason.
    assert _rows(app, person["id"]) and all(s == "excused" for *_, s in _rows(app, person["id"]))
    reasons = {o["closed_reason"] for o in obligations(officer, person["id"])}
    assert reasons == {f"依法被限制人身自由，期间暂停 [detention:{body['id']}]"}
    # A month and more later: nothing fell due, nothing was missed, no alert, no episode.
    for at in (_at(date(2026, 12, 1)), _at(date(2027, 1, 5))):
        sweep = run_job("sweep_obligations", at=at)
        assert sweep["counts"]["missed"] == 0 and sweep["counts"]["hour_windows"] == 0
        assert sweep["counts"]["started"] == 0
        detect = run_job("detect_lost_contact", at=at)
        assert detect["counts"]["opened"] == 0
    assert obligations(login("officer-dongcheng-1"), person["id"], status="open") == []
    assert _alerts(app, person["id"]) == []
    with app.app_context():
        assert (
            db.session.scalar(select(Incident.id).where(Incident.person_id == person["id"])) is None
        )
        db.session.remove()


@pytest.mark.parametrize(
    ("start", "release", "expected"),
    [
        # Held 27 Nov - 10 Dec: from the release day, as at intake (tight: report every 14
        # days, check every 3, visit every 30; the month's hours pro-rated from the 10th).
        (
            "2026-11-27",
            "2026-12-10",
            {
                "report": ("2026-12-11", "2026-12-24"),
                "check": ("2026-12-11", "2026-12-13"),
                "visit": ("2026-12-11", "2027-01-09"),
                "health_report": ("2026-12-11", "2027-01-10"),
                "medical_reexam": ("2026-12-11", "2027-03-10"),
                "education": ("2026-12-10", "2026-12-31"),
                "term_summary": ("2026-12-10", "2028-10-01"),
            },
        ),
        # Held and released the same day: the day's hours window opens again.
        (
            "2026-11-27",
            "2026-11-27",
            {
                "report": ("2026-11-28", "2026-12-11"),
                "education": ("2026-11-27", "2026-11-30"),
                "health_report": ("2026-11-28", "2026-12-27"),
            },
        ),
    ],
)
def test_art_32_release_replans_from_the_release_day(
    app, login, active, clock, start, release, expected
):
    person = active(category=TOC, has_guarantor=True)
    officer = login("officer-dongcheng-1")
    detention = _detain(officer, person["id"], start=start).get_json()
    clock.set(_at(date.fromisoformat(release)))
    officer = login("officer-dongcheng-1")
    resp = _release(officer, person["id"], detention["id"], release)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["held"] is False and resp.get_json()["end_date"] == release
    for kind, window in expected.items():
        ob = _open(officer, person["id"], kind)
        assert (ob["opens_on"], ob["due_on"]) == window, kind


def test_art_32_a_release_recorded_late_plans_each_month_since(app, login, active, clock):
    person = active(category="parole")
    officer = login("officer-dongcheng-1")
    detention = _detain(officer, person["id"]).get_json()
    clock.set(_at(date(2027, 1, 20)))
    officer = login("officer-dongcheng-1")
    assert _release(officer, person["id"], detention["id"], "2026-12-20").status_code == 200
    windows = [(o, d) for k, o, d, s in _rows(app, person["id"], "education") if s == "open"]
    assert windows == [("2026-12-20", "2026-12-31"), ("2027-01-01", "2027-01-31")]


def test_art_32_a_month_of_hours_ends_the_day_before_the_detention(app, login, active, clock):
    person = active(category="parole")  # tight: 10 h of education a month
    clock.set(_at(date(2026, 12, 21)))
    officer = login("officer-dongcheng-1")
    # Planned for December by the first sweep of the month, 10 h.
    with app.app_context():
        from corrections.supervision import obligations as obligation_rules

        obligation_rules.plan_month_windows(db.session, today=date(2026, 12, 1), now=TEST_NOW)
        db.session.commit()
        db.session.remove()
    done = event(officer, person["id"], "education", "2026-12-05T02:00:00Z",
                 payload={"hours": 6, "topic": "法治课"})  # fmt: skip
    assert done.status_code == 201
    assert _detain(officer, person["id"], start="2026-12-20").status_code == 201
    december = [o for o in obligations(officer, person["id"], kind="education")
                if o["opens_on"] == "2026-12-01"]  # fmt: skip
    # 1-19 Dec: 10 h x 19/31 = 6.1 h; 6 h done: still short, still open until the sweep.
    assert (december[0]["due_on"], december[0]["hours_required"]) == ("2026-12-19", 6.1)
    assert december[0]["status"] == "open"


def test_art_32_hours_done_before_a_late_notice_answer_the_shortened_month(
    app, login, active, run_job, clock
):
    person = active(category="parole")  # tight: 10 h of education a month
    run_job("sweep_obligations", at=_at(date(2026, 12, 1)))  # plans December's 10 h
    clock.set(_at(date(2026, 12, 6)))
    officer = login("officer-dongcheng-1")
    done = event(officer, person["id"], "education", "2026-12-05T02:00:00Z",
                 payload={"hours": 7, "topic": "法治课"})  # fmt: skip
    assert done.status_code == 201
    run_job("sweep_obligations", at=_at(date(2027, 1, 1)))  # 7 of 10 h: December missed
    december = next(
        i
        for i, _s, d in _alerts(app, person["id"])
        if (d["obligation_kind"], d["due_on"]) == ("education", "2026-12-31")
    )
    officer = login("officer-dongcheng-1")
    # Held since 20 Dec, the office told on 2 Jan: 1-19 Dec needed 6.1 h, 7 were done.
    assert _detain(officer, person["id"], start="2026-12-20").status_code == 201
    (ob,) = [o for o in obligations(officer, person["id"], kind="education") if o["id"] == december]
    assert (ob["due_on"], ob["hours_required"], ob["status"]) == ("2026-12-19", 6.1, "fulfilled")
    assert ob["fulfilled_by_event_id"] == done.get_json()["id"]
    assert [s for i, s, _ in _alerts(app, person["id"]) if i == december] == ["resolved"]


def test_art_32_a_detention_recorded_late_excuses_what_was_missed_while_held(
    app, login, active, run_job
):
    person = active(category="parole")
    run_job("sweep_obligations", at=_at(date(2026, 12, 1)))  # the 30 Nov check missed
    (missed,) = obligations(login("officer-dongcheng-1"), person["id"], kind="check",
                            status="missed")  # fmt: skip
    assert [s for i, s, _ in _alerts(app, person["id"]) if i == missed["id"]] == ["open"]
    officer = login("officer-dongcheng-1")
    # The police say: held since 29 Nov.
    assert _detain(officer, person["id"], start="2026-11-29").status_code == 201
    check = next(o for o in obligations(officer, person["id"], kind="check")
                 if o["id"] == missed["id"])  # fmt: skip
    assert check["status"] == "excused"
    assert [s for i, s, _ in _alerts(app, person["id"]) if i == missed["id"]] == ["resolved"]


def test_art_32_a_window_missed_before_the_detention_stays_missed(app, login, active, clock):
    person = active(category="parole")
    clock.set(_at(date(2026, 12, 2)))  # the 30 Nov check is overdue, not yet swept
    officer = login("officer-dongcheng-1")
    assert _detain(officer, person["id"], start="2026-12-02").status_code == 201
    (check,) = obligations(officer, person["id"], kind="check")
    assert (check["due_on"], check["status"]) == ("2026-11-30", "missed")
    # ... with its alert, like the month's hours due that day.
    alerted = sorted(d["obligation_kind"] for _, _, d in _alerts(app, person["id"]))
    assert alerted == ["check", "education", "service"]


def test_art_32_an_open_episode_closes_when_the_person_is_found_held(app, login, active, run_job):
    person = active(category="parole")
    run_job("sweep_obligations", at=_at(date(2026, 12, 1)))
    run_job("detect_lost_contact", at=_at(date(2026, 12, 1)))
    run_job("detect_lost_contact", at=_at(date(2026, 12, 2)))  # lost contact since 1 Dec
    officer = login("officer-dongcheng-1")
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["status"] == "lost_contact"
    # Taken into custody on 4 Dec (3 days out of supervision), the office told on the 5th.
    run_job("sweep_obligations", at=_at(date(2026, 12, 5)))
    officer = login("officer-dongcheng-1")
    assert _detain(officer, person["id"], start="2026-12-04").status_code == 201
    run = run_job("detect_lost_contact", at=_at(date(2026, 12, 5), 3))
    assert run["counts"]["closed"] == 1
    officer = login("officer-dongcheng-1")
    (incident,) = officer.get(f"/api/v1/persons/{person['id']}/incidents").get_json()
    assert incident["state"] == "closed" and incident["close_reason"] == "detained"
    assert incident["close_reason_label_zh"] == "依法被限制人身自由"
    assert incident["absence_days"] == 3
    # Back within 10 days: an admonition is proposed (实施办法 34(1)), nothing more.
    assert [p["kind"] for p in incident["proposals"]] == ["admonition"]
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["status"] == "active"
    # While held no episode opens, not even by hand.
    manual = officer.post(
        f"/api/v1/persons/{person['id']}/incidents", json={"state": "overdue", "note": "电话关机"}
    )
    assert manual.status_code == 409


def test_art_32_who_records_and_what_is_refused(app, login, active):
    person = active()
    officer = login("officer-dongcheng-1")
    assert _detain(login("officer-dongcheng-2"), person["id"]).status_code == 404
    assert _detain(officer, person["id"], start="2026-11-28").status_code == 422  # future
    assert _detain(officer, person["id"], start="2026-10-01").status_code == 422  # pre-judgment
    bad = _detain(officer, person["id"], kind="holiday")
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]
    first = _detain(officer, person["id"])
    assert first.status_code == 201
    assert _detain(officer, person["id"]).status_code == 409  # already held
    detention_id = first.get_json()["id"]
    assert _release(officer, person["id"], detention_id, "2026-11-26").status_code == 422
    assert _release(officer, person["id"], detention_id, "2026-11-27").status_code == 200
    assert _release(officer, person["id"], detention_id, "2026-11-27").status_code == 409
    # A new detention may not start before the last release.
    assert _detain(officer, person["id"], start="2026-11-26").status_code in (409, 422)
    listed = officer.get(f"/api/v1/persons/{person['id']}/detentions").get_json()
    assert [d["id"] for d in listed] == [detention_id]
    assert listed[0]["authority"] == "滨江市公安局东城分局"
    city = login("city").get(f"/api/v1/persons/{person['id']}/detentions")
    assert city.status_code == 200
    with app.app_context():
        actions = set(
            db.session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("detention.%"))
            )
        )
        db.session.remove()
    assert actions == {"detention.record", "detention.release", "detention.list"}


# --- 实施办法 49: return to custody -------------------------------------------------------


def _custody_proposals(app, person_id, ground):
    """(kind, article, evidence) of the person's proposals on a ground of custody_grounds (the
    late intake of the test persons proposes its own)."""
    with app.app_context():
        rows = [
            (p.kind, p.article, p.evidence)
            for p in db.session.scalars(
                select(IncidentProposal).where(IncidentProposal.person_id == person_id)
            )
            if p.evidence.get("ground") == ground
        ]
        db.session.remove()
    return rows


def test_art_49_release_condition_ended_proposes_return_to_custody(app, login, active, run_job):
    person = active(category=TOC)
    officer = login("officer-dongcheng-1")
    ended = event(
        officer,
        person["id"],
        "release_condition_ended",
        payload={"reason": "病情已痊愈", "document_number": "诊断2026-77"},
    )
    assert ended.status_code == 201, ended.get_json()
    other = active(category="parole")
    refused = event(officer, other["id"], "release_condition_ended", payload={"reason": "误录"})
    assert refused.status_code == 422 and "type" in refused.get_json()["errors"]
    run = run_job("detect_lost_contact", at=TEST_NOW)
    assert run["status"] == "succeeded", run
    ((kind, article, evidence),) = _custody_proposals(app, person["id"], "condition_ended")
    assert kind == "return_to_custody" and article.startswith("实施办法 49(6)")
    assert "刑事诉讼法 268(3)" in article and evidence["article"] == article
    assert evidence["event_ids"] == [ended.get_json()["id"]]
    assert _custody_proposals(app, other["id"], "condition_ended") == []  # 暂予监外执行 only
    # Proposed once.
    assert run_job("detect_lost_contact", at=TEST_NOW)["counts"]["proposals"] == 0


def test_art_49_reexam_not_submitted_after_a_warning_proposes_return_to_custody(
    app, login, active, run_job
):
    person = active(category=TOC)
    run_job("sweep_obligations", at=_at(date(2027, 3, 1)))  # the 27 Feb re-exam missed
    commander = login("commander-dongcheng")
    note = event(commander, person["id"], "note", "2027-03-01T01:00:00Z").get_json()["id"]
    warning = event(
        commander,
        person["id"],
        "warning",
        "2027-03-01T01:30:00Z",
        payload={
            "legal_ground": "《社区矫正法实施办法》第三十五条",
            "evidence_event_ids": [note],
        },
    )
    assert warning.status_code == 201, warning.get_json()
    # Nothing yet: the warning has not been answered by another missed re-exam.
    run_job("detect_lost_contact", at=_at(date(2027, 3, 2)))
    assert _custody_proposals(app, person["id"], "reexam_not_submitted") == []
    # The next one (due 27 May, three months from 27 Feb) is missed too.
    run_job("sweep_obligations", at=_at(date(2027, 5, 28)))
    run_job("detect_lost_contact", at=_at(date(2027, 5, 28)))
    ((kind, article, evidence),) = _custody_proposals(app, person["id"], "reexam_not_submitted")
    assert kind == "return_to_custody" and article.startswith("实施办法 49(5)")
    assert evidence["event_ids"] == [warning.get_json()["id"]]
    missed = obligations(login("officer-dongcheng-1"), person["id"], kind="medical_reexam")
    assert evidence["obligation_ids"] == sorted(o["id"] for o in missed if o["status"] == "missed")
