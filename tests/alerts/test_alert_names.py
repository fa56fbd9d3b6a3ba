"""Alerts name who and where (issue 17): the person's name as the role may see it, the office
and district in Chinese, and what happened in one Chinese line; joined in the list's one
statement, the same in the live stream, and audited like every view of a person."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import update

from corrections.alerts.models import Alert
from corrections.core.db import db
from tests.alerts.test_alerts import DAY_AFTER_REPORT_DUE, _alerts, _report_alerts
from tests.factories import juvenile_payload
from tests.support.alerts import raise_alarm
from tests.support.queues import audited_persons, statements

STREAM = "/api/v1/alerts/stream"


def _escalate(app) -> None:
    """Every alert escalated to the city (which sees nothing else)."""
    with app.app_context():
        db.session.execute(update(Alert).values(escalation_level=1))
        db.session.commit()
        db.session.remove()


def test_a_missed_report_names_the_person_office_district_and_what_happened(
    app, login, active, run_job
):
    person = active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    commander = login("commander-dongcheng")
    resp = commander.get("/api/v1/alerts", query_string={"person_id": person["id"]})
    assert audited_persons(app, resp) == {person["id"]}
    (alert,) = _report_alerts(commander, person["id"])
    assert alert["person_name"] == "张伟"
    assert (alert["office_code"], alert["office_name_zh"]) == ("32990101", "东城区城关司法所")
    assert alert["district_name_zh"] == "东城区司法局"
    assert alert["summary_zh"] == "2026-12-11 报到未按期履行"


def test_lost_contact_says_since_when_in_beijing_days(app, login, active, run_job):
    person = active()
    for at in (datetime(2026, 12, 1, 2, tzinfo=UTC), datetime(2026, 12, 2, 2, tzinfo=UTC)):
        run_job("sweep_obligations", at=at)
        run_job("detect_lost_contact", at=at)
    (alert,) = _alerts(login("commander-dongcheng"), kind="lost_contact")["items"]
    # The Nov 30 check was missed: overdue from 2026-11-30T16:00Z, Dec 1 in Shanghai.
    assert alert["summary_zh"] == "失去联系（2026-12-01 起）"
    assert alert["person_id"] == person["id"] and alert["person_name"] == "张伟"


def test_a_juveniles_name_is_masked_for_the_city_and_whole_for_their_district(app, login, active):
    juvenile = active(**juvenile_payload())
    raise_alarm(
        app, juvenile["id"], datetime(2026, 11, 27, 3, tzinfo=UTC), detail={"alarm": "boundary"}
    )
    _escalate(app)
    (seen,) = _alerts(login("city"))["items"]
    assert seen["person_name"] == "王＊"
    assert seen["office_name_zh"] == "东城区城关司法所"
    assert seen["summary_zh"] == "2026-11-27 电子定位报警：离开允许活动区域"
    (own,) = _alerts(login("commander-dongcheng"))["items"]
    assert own["person_name"] == "王小红"
    # The stream masks as the list does.
    app.config["ALERT_STREAM_POLL_SECONDS"] = 0.05
    try:
        text = (
            login("city")
            .get(STREAM, query_string={"timeout": 1, "last_event_id": 0})
            .get_data(as_text=True)
        )
    finally:
        app.config.pop("ALERT_STREAM_POLL_SECONDS", None)
    views = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert views and {v["person_name"] for v in views} == {"王＊"}
    assert "王小红" not in text
    assert {v["district_name_zh"] for v in views} == {"东城区司法局"}


def test_each_kind_says_what_happened(app, login, active):
    person = active()
    at = datetime(2026, 11, 27, 3, tzinfo=UTC)
    for kind, subject_type, subject_id, detail, line in (
        ("intake_overdue", "person", person["id"], {"intake_deadline": "2026-11-10"},
         "逾期未报到（漏管风险），报到期限 2026-11-10"),
        ("travel_overdue", "permit", 1, {"end_date": "2026-11-25"},
         "外出逾期未归，应于 2026-11-25 返回"),
        ("term_ending", "discharge_due", person["id"],
         {"stage": "discharge_due", "term_end": "2026-11-26"},
         "矫正期已于 2026-11-26 届满，应办理解除矫正"),
        ("grade_approval_due", "grade_decision", 1, {"to_grade": "ordinary"},
         "分级审批待办：拟调整为普通"),
        ("sanction_proposed", "proposal", 1,
         {"proposal": "warning", "article": "实施办法 35(2) (UNVERIFIED)", "ground": "absence"},
         "建议处罚待决定：警告（实施办法 35(2)（条号待核实））"),
        ("high_risk", "person", person["id"], {"probability": 0.8312, "model_version": "m"},
         "脱管风险高（概率 83%）"),
        ("absconded", "incident", 1, {"incident_id": 1}, "脱管（2026-11-27 认定）"),
        # An alert whose detail is not what this release writes: its kind's label.
        ("flag_review_due", "flag", 1, {"something": "else"}, "挂牌管控待复核"),
    ):  # fmt: skip
        raise_alarm(
            app, person["id"], at, kind=kind, subject_type=subject_type,
            subject_ids=[subject_id], detail=detail,
        )  # fmt: skip
        (alert,) = _alerts(login("commander-dongcheng"), kind=kind)["items"]
        assert alert["summary_zh"] == line, kind


def test_a_system_alert_names_nobody(app, login):
    with app.app_context():
        from corrections.alerts import service as alerts

        alerts.raise_one(
            db.session,
            person_id=None,
            kind="backup_failed",
            subject_type="job",
            subject_id=0,
            detail={"job": "backup", "run_id": 7, "errors": ["pg_dump"]},
            now=datetime(2026, 11, 27, 3, tzinfo=UTC),
        )
        db.session.commit()
        db.session.remove()
    (alert,) = _alerts(login("city"))["items"]
    assert "person_name" not in alert and alert["office_name_zh"] is None
    assert alert["summary_zh"] == "备份失败（运行 #7）"


def test_the_list_costs_no_query_per_alert(app, login, active):
    at = datetime(2026, 11, 27, 3, tzinfo=UTC)
    raise_alarm(app, active()["id"], at)
    commander = login("commander-dongcheng")
    with statements(app) as one:
        assert _alerts(commander)["total"] == 1
    for n in range(5):
        raise_alarm(app, active(name=f"李{n}")["id"], at)
    with statements(app) as six:
        page = _alerts(commander)
    assert page["total"] == 6 and len(six) == len(one)
    assert {a["person_name"] for a in page["items"]} >= {"李0", "李4"}
