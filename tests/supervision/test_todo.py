"""What is still to do (GET /api/v1/obligations?todo=true, the workbench's today list, and the
caseload's ``due`` filter): open obligations, and missed ones until answered (a late event),
or until a person closes their alert."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update

from corrections.core.db import db
from corrections.supervision.models import Obligation
from tests.supervision.conftest import event

DAY = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # 10:00 Dec 11 in Shanghai


def _missed_report(app, person_id, run_job) -> int:
    """The person's report window due on Dec 10, swept at DAY: missed, alerted."""
    with app.app_context():
        report = db.session.scalar(
            select(Obligation.id).where(
                Obligation.person_id == person_id, Obligation.kind == "report"
            )
        )
        db.session.execute(
            update(Obligation)
            .where(Obligation.id == report)
            .values(opens_on=date(2026, 11, 27), due_on=date(2026, 12, 10))
        )
        db.session.commit()
        db.session.remove()
    run_job("sweep_obligations", at=DAY)
    return report


def _todo(api, **query) -> dict[int, dict]:
    resp = api.get("/api/v1/obligations", query_string={"todo": "true", **query})
    assert resp.status_code == 200, resp.get_json()
    return {o["id"]: o for o in resp.get_json()["items"]}


def _caseload(api, due) -> set[int]:
    return {p["id"] for p in api.get(f"/api/v1/persons?due={due}").get_json()["items"]}


def test_a_missed_report_is_to_do_until_a_late_report_answers_it(
    app, clock, login, active, run_job
):
    person = active()
    report = _missed_report(app, person["id"], run_job)
    clock.set(DAY)
    officer = login("officer-dongcheng-1")
    todo = _todo(officer, due="week")
    assert todo[report]["status"] == "missed"
    assert (todo[report]["urgency"], todo[report]["urgency_label_zh"]) == ("overdue", "已逾期")
    assert "report" in todo[report]["event_types"]
    assert person["id"] in _caseload(officer, "overdue")
    # Without todo, status filters as before: the open ones only.
    opened = officer.get("/api/v1/obligations?status=open&page_size=200").get_json()["items"]
    assert report not in {o["id"] for o in opened}

    late = event(officer, person["id"], "report", occurred_at="2026-12-11T01:30:00Z")
    assert late.status_code == 201, late.get_json()
    assert report not in _todo(officer, due="week")
    missed = officer.get("/api/v1/obligations?status=missed&page_size=200").get_json()["items"]
    assert report in {o["id"] for o in missed}  # it was missed: that stays on the record


def test_a_missed_window_leaves_the_list_when_its_alert_is_closed_not_when_acknowledged(
    app, clock, login, active, run_job
):
    person = active()
    report = _missed_report(app, person["id"], run_job)
    clock.set(DAY)
    commander = login("commander-dongcheng")
    alert = next(
        a
        for a in commander.get(
            "/api/v1/alerts", query_string={"person_id": person["id"], "kind": "obligation_missed"}
        ).get_json()["items"]
        if a["subject_id"] == report
    )
    ack = commander.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"note": "已电话联系"})
    assert ack.status_code == 200, ack.get_json()
    officer = login("officer-dongcheng-1")
    assert report in _todo(officer)
    done = commander.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"note": "已当面核实"})
    assert done.status_code == 200, done.get_json()
    assert report not in _todo(officer)
    # Another office's officer sees none of it.
    assert report not in _todo(login("officer-xicheng-1"))
