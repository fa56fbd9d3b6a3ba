"""The monthly assessment job: month boundaries, idempotency, proposals, isolation of errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from corrections.core.db import db
from corrections.grading import engine
from corrections.grading.jobs import db_month_inputs, run_monthly_assessment
from corrections.grading.models import GradeDecision, MonthlyAssessment
from corrections.persons.models import Person
from corrections.supervision.models import SupervisionEvent
from tests.factories import person_payload
from tests.grading.test_decisions import record


def _october_intake(api) -> dict:
    """A person whose term began on 2026-10-01, so October and November are assessed."""
    resp = api.post(
        "/api/v1/persons",
        json=person_payload(
            judgment_date="2026-09-20",
            judgment_effective_date="2026-09-30",
            term_start="2026-10-01",
            term_end="2028-09-30",
        ),
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _activate(api, person_id):
    resp = api.post(
        f"/api/v1/persons/{person_id}/status-changes",
        json={"to_status": "active", "reason": "按期报到"},
    )
    assert resp.status_code == 201


def _compliant(session, person_ids, month):
    """Inputs of a fully compliant month: every obligation fulfilled."""
    return {
        pid: engine.MonthInputs(
            month=month,
            obligations=(
                engine.ObligationOutcome("report", "fulfilled"),
                engine.ObligationOutcome("check", "fulfilled"),
                engine.ObligationOutcome(
                    "education", "fulfilled", hours_required=10, hours_done=10
                ),
            ),
        )
        for pid in person_ids
    }


def _run(app, month: date, provider=db_month_inputs):
    with app.app_context():
        run = run_monthly_assessment(
            db.session,
            month=month,
            now=app.extensions["corrections.clock"].now(),
            inputs_provider=provider,
        )
        db.session.remove()
    return run


def _assessments(app, person_id):
    with app.app_context():
        rows = db.session.execute(
            select(
                MonthlyAssessment.month,
                MonthlyAssessment.score,
                MonthlyAssessment.rating,
                MonthlyAssessment.id,
                MonthlyAssessment.computed_at,
            )
            .where(MonthlyAssessment.person_id == person_id)
            .order_by(MonthlyAssessment.month)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def test_month_boundaries_follow_asia_shanghai_midnight(app, officer, clock):
    person = _october_intake(officer)
    _activate(officer, person["id"])
    # 23:59 on Oct 31 in Shanghai is October; 00:00 on Nov 1 in Shanghai is November,
    # although both are October 31 in UTC.
    late = {"late": True}
    record(app, person["id"], "report", datetime(2026, 10, 31, 15, 59, tzinfo=UTC), late)
    record(app, person["id"], "report", datetime(2026, 10, 31, 16, 0, tzinfo=UTC), late)
    record(app, person["id"], "report", datetime(2026, 10, 31, 16, 1, tzinfo=UTC), late)
    with app.app_context():
        october = db_month_inputs(db.session, [person["id"]], date(2026, 10, 1))
        november = db_month_inputs(db.session, [person["id"]], date(2026, 11, 1))
        db.session.remove()
    assert [e.on for e in october[person["id"]].events] == [date(2026, 10, 31)]
    assert [e.on for e in november[person["id"]].events] == [date(2026, 11, 1)] * 2
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # 08:00 Dec 1 in Shanghai
    _run(app, date(2026, 10, 1))
    _run(app, date(2026, 11, 1))
    late = {}
    with app.app_context():
        for row in db.session.scalars(
            select(MonthlyAssessment).where(MonthlyAssessment.person_id == person["id"])
        ):
            late[row.month] = next(
                (d["count"] for d in row.deductions if d["rule_id"] == "deduct_late_report"), 0
            )
        db.session.remove()
    assert late == {date(2026, 10, 1): 1, date(2026, 11, 1): 2}


def test_a_month_that_has_not_ended_is_refused(app, clock):
    clock.set(datetime(2026, 10, 31, 15, 59, tzinfo=UTC))  # 23:59 Oct 31 in Shanghai
    with pytest.raises(ValueError, match="not ended"):
        _run(app, date(2026, 10, 1))


def test_cli_assess_twice_stores_the_same_results(app, runner, officer):
    ids = [_october_intake(officer)["id"] for _ in range(3)]
    for pid in ids:
        _activate(officer, pid)
    record(app, ids[0], "admonition", datetime(2026, 10, 10, 2, tzinfo=UTC))
    first = runner.invoke(args=["grading", "assess", "--month", "2026-10"])
    assert first.exit_code == 0, first.output
    assert "assessed=3" in first.output
    stored = {pid: _assessments(app, pid) for pid in ids}
    second = runner.invoke(args=["grading", "assess", "--month", "2026-10"])
    assert second.exit_code == 0, second.output
    assert "assessed=0" in second.output and "already_assessed=3" in second.output
    assert {pid: _assessments(app, pid) for pid in ids} == stored
    assert stored[ids[0]][0][1:3] == (80, "fail")
    bad = runner.invoke(args=["grading", "assess", "--month", "2026-13"])
    assert bad.exit_code != 0 and "--month" in bad.output


def test_three_good_months_in_tight_produce_a_proposal_for_the_district(app, login, clock):
    officer = login("officer-dongcheng-1")
    clock.set(datetime(2026, 7, 1, 2, tzinfo=UTC))
    person = officer.post(
        "/api/v1/persons",
        json=person_payload(
            judgment_date="2026-06-20",
            judgment_effective_date="2026-06-30",
            term_start="2026-07-01",
            term_end="2028-06-30",
            offence_date="2026-01-05",
        ),
    ).get_json()
    assert person["grade"] == "tight"
    _activate(officer, person["id"])
    for month, now in (
        (date(2026, 7, 1), datetime(2026, 8, 1, 1, tzinfo=UTC)),
        (date(2026, 8, 1), datetime(2026, 9, 1, 1, tzinfo=UTC)),
    ):
        clock.set(now)
        run = _run(app, month, _compliant)
        assert run.proposals == 0  # not yet three months in the grade
    clock.set(datetime(2026, 10, 1, 1, tzinfo=UTC))
    run = _run(app, date(2026, 9, 1), _compliant)
    assert run.proposals == 1
    with app.app_context():
        proposal = db.session.scalar(
            select(GradeDecision).where(
                GradeDecision.person_id == person["id"], GradeDecision.status == "proposed"
            )
        )
        did = proposal.id
        assert (proposal.kind, proposal.from_grade, proposal.to_grade) == (
            "proposed_looser",
            "tight",
            "ordinary",
        )
        assert proposal.basis == "assessment:2026-09"
        assert {r["rule_id"] for r in proposal.reasons} >= {
            "looser_min_months_in_grade",
            "looser_good_assessments",
            "looser_sanction_free",
            "looser_one_step",
        }
        db.session.remove()
    # Re-running the month proposes nothing new.
    assert _run(app, date(2026, 9, 1), _compliant).proposals == 0
    base = f"/api/v1/persons/{person['id']}/grade/decisions/{did}"
    officer = login("officer-dongcheng-1")
    assert officer.post(f"{base}/approve", json={}).status_code == 403
    assert login("commander-xicheng").post(f"{base}/approve", json={}).status_code == 404
    resp = login("commander-dongcheng").post(f"{base}/approve", json={"note": "同意放宽"})
    assert resp.status_code == 200, resp.get_json()
    grade = officer.get(f"/api/v1/persons/{person['id']}/grade").get_json()
    assert (grade["grade"], grade["level"]) == ("ordinary", "ordinary")
    assert grade["requirements"]["report_interval_days"] == 30


def test_a_rejected_proposal_is_not_raised_again_for_the_same_month(app, login, clock):
    officer = login("officer-dongcheng-1")
    clock.set(datetime(2026, 7, 1, 2, tzinfo=UTC))
    person = officer.post(
        "/api/v1/persons",
        json=person_payload(
            judgment_date="2026-06-20",
            judgment_effective_date="2026-06-30",
            term_start="2026-07-01",
            term_end="2028-06-30",
            offence_date="2026-01-05",
        ),
    ).get_json()
    _activate(officer, person["id"])
    for month in (7, 8, 9):
        clock.set(datetime(2026, month + 1, 1, 1, tzinfo=UTC))
        _run(app, date(2026, month, 1), _compliant)
    commander = login("commander-dongcheng")
    queue = commander.get("/api/v1/grade-decisions?status=proposed").get_json()
    did = queue["items"][0]["id"]
    commander.post(
        f"/api/v1/persons/{person['id']}/grade/decisions/{did}/reject",
        json={"note": "再观察一个月"},
    )
    assert _run(app, date(2026, 9, 1), _compliant).proposals == 0
    assert commander.get("/api/v1/grade-decisions?status=proposed").get_json()["total"] == 0


def test_months_without_supervision_records_give_no_proposal(app, login, clock):
    """Nothing recorded is no evidence of good conduct (虚管 is no merit): the planned hours
    stand unfulfilled and the months are not good."""
    officer = login("officer-dongcheng-1")
    clock.set(datetime(2026, 7, 1, 2, tzinfo=UTC))
    person = officer.post(
        "/api/v1/persons",
        json=person_payload(
            judgment_date="2026-06-20",
            judgment_effective_date="2026-06-30",
            term_start="2026-07-01",
            term_end="2028-06-30",
            offence_date="2026-01-05",
        ),
    ).get_json()
    _activate(officer, person["id"])
    for month in (7, 8, 9):
        clock.set(datetime(2026, month + 1, 1, 1, tzinfo=UTC))
        assert _run(app, date(2026, month, 1)).proposals == 0
    rows = officer.get(f"/api/v1/persons/{person['id']}/assessments").get_json()
    assert [r["month"] for r in rows] == ["2026-09", "2026-08", "2026-07"]
    assert all(r["complete"] and r["rating"] == "fail" for r in rows), rows
    assert {d["rule_id"] for d in rows[0]["deductions"]} == {
        "deduct_missed_report",
        "deduct_missed_check",
        "deduct_education_hours_short",
        "deduct_service_hours_short",
    }


def test_job_applies_a_missed_stricter_move_once(app, login, officer, intake, clock):
    from tests.grading.test_decisions import set_grade

    person = intake(officer)
    _activate(officer, person["id"])
    set_grade(app, person["id"], "ordinary")
    # An event that reached the log without grading reacting (e.g. imported).
    with app.app_context():
        db.session.add(
            SupervisionEvent(
                person_id=person["id"],
                type="warning",
                occurred_at=datetime(2026, 11, 20, 2, tzinfo=UTC),
                recorded_at=datetime(2026, 11, 20, 2, tzinfo=UTC),
                recorded_by="import",
                payload={},
            )
        )
        db.session.commit()
        db.session.remove()
    clock.set(datetime(2026, 12, 1, 1, tzinfo=UTC))
    assert _run(app, date(2026, 11, 1)).stricter == 1
    assert _run(app, date(2026, 11, 1)).stricter == 0
    fresh = login("officer-dongcheng-1")  # the clock moved past the first token's expiry
    assert fresh.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "strict"


def test_one_persons_bad_data_does_not_stop_the_run(app, officer, clock):
    ids = [_october_intake(officer)["id"] for _ in range(3)]
    for pid in ids:
        _activate(officer, pid)

    def provider(session, person_ids, month):
        inputs = _compliant(session, person_ids, month)
        inputs[ids[1]] = engine.MonthInputs(
            month,
            obligations=(engine.ObligationOutcome("education", "missed", hours_required=None),),
        )
        return inputs

    run = _run(app, date(2026, 10, 1), provider)
    assert run.assessed == 2 and list(run.errors) == [ids[1]]
    assert _assessments(app, ids[1]) == []
    assert len(_assessments(app, ids[0])) == 1


def test_only_supervised_persons_are_assessed(app, officer, intake):
    pending = _october_intake(officer)  # pending_intake: not yet under supervision
    active = _october_intake(officer)
    later = intake(officer)  # term starts 2026-11-01: nothing to assess in October
    _activate(officer, later["id"])
    _activate(officer, active["id"])
    with app.app_context():
        assert db.session.get(Person, pending["id"]).status == "pending_intake"
        db.session.remove()
    run = _run(app, date(2026, 10, 1))
    assert run.assessed == 1
    assert _assessments(app, pending["id"]) == []
    assert _assessments(app, later["id"]) == []
