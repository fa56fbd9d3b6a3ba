"""Where supervision uses a statutory clock (rules/clocks.yaml): the monitoring period (Art. 29)
and the summary due before the term ends (实施办法 53, the term_endings job)."""

from __future__ import annotations

from sqlalchemy import select

from corrections.alerts.models import Alert
from corrections.core.db import db
from tests.conftest import TEST_NOW


def monitor(api, person_id, start, end):
    return api.post(
        f"/api/v1/persons/{person_id}/monitoring",
        json={
            "ground": "left_without_approval",
            "start_date": start,
            "end_date": end,
            "note": "未经批准离开本市",
        },
    )


def test_law_29_monitoring_period_ends_by_3_calendar_months(login, active):
    commander = login("commander-dongcheng")
    # From 27 Nov, the start day included: the last day is 26 Feb (91 days, not "90 days").
    ok = monitor(commander, active()["id"], "2026-11-27", "2027-02-26")
    assert ok.status_code == 201, ok.get_json()
    over = monitor(commander, active()["id"], "2026-11-27", "2027-02-27")
    assert over.status_code == 422
    message = over.get_json()["errors"]["end_date"][0]
    assert "3 个月" in message and "第二十九条" in message


def _term_ending_stages(app, person_id):
    with app.app_context():
        rows = db.session.scalars(
            select(Alert.subject_type).where(
                Alert.kind == "term_ending", Alert.person_id == person_id
            )
        ).all()
        db.session.remove()
    return set(rows)


def test_implementing_measures_53_summary_due_30_days_before_the_term_ends(app, active, run_job):
    # Today (Asia/Shanghai) is 27 Nov 2026: a term ending 27 Dec has reached its summary day.
    due = active(category="parole", term_end="2026-12-27")
    not_yet = active(category="parole", term_end="2026-12-28")
    run = run_job("term_endings", at=TEST_NOW)
    assert run["status"] == "succeeded", run
    assert _term_ending_stages(app, due["id"]) == {"summary_due"}
    assert _term_ending_stages(app, not_yet["id"]) == set()
