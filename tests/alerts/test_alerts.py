"""Alerts: raised once per cause by the sweep, resolved when the cause is gone, acknowledged,
resolved and dismissed by people in scope, escalated to the city, replayed by the stream."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from corrections.alerts import service as alerts
from corrections.alerts.models import Alert, AlertChange
from corrections.core.db import db
from corrections.supervision.models import Obligation
from tests.supervision.conftest import event
from tests.support.alerts import raise_alarm

# The tight person activated on 2026-11-27 owes a report by 2026-12-11 (14 days).
DAY_AFTER_REPORT_DUE = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)  # 10:00 Dec 12 Shanghai


def _alerts(api, **query):
    resp = api.get("/api/v1/alerts", query_string={"page_size": 200, **query})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _report_alerts(api, person_id):
    return [
        a
        for a in _alerts(api, person_id=person_id, kind="obligation_missed")["items"]
        if a["detail"]["obligation_kind"] == "report"
    ]


def test_a_missed_report_raises_one_alert_and_the_report_resolves_it(app, login, active, run_job):
    person = active()
    run = run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    assert run["status"] == "succeeded" and run["counts"]["alerts"] >= 1
    commander = login("commander-dongcheng")
    (alert,) = _report_alerts(commander, person["id"])
    assert alert["status"] == "open" and alert["severity"] == "warning"
    assert alert["kind_label_zh"] == "未按期履行" and alert["detail"]["due_on"] == "2026-12-11"
    total = _alerts(commander)["total"]

    again = run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE + timedelta(minutes=15))
    assert again["counts"]["alerts"] == 0 and _alerts(commander)["total"] == total

    officer = login("officer-dongcheng-1")
    resp = event(officer, person["id"], "report", occurred_at="2026-12-12T02:00:00Z")
    assert resp.status_code == 201, resp.get_json()
    (alert,) = _report_alerts(commander, person["id"])
    assert alert["status"] == "resolved" and alert["auto_resolved"] is True
    assert alert["closed_by"] == "system" and alert["close_note"]
    # The checks the person also missed are not answered by a report.
    open_checks = [
        a
        for a in _alerts(commander, person_id=person["id"], status="open")["items"]
        if a["detail"]["obligation_kind"] == "check"
    ]
    assert open_checks


def test_a_back_dated_report_for_the_missed_window_resolves_its_alert(app, login, active, run_job):
    person = active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    officer = login("officer-dongcheng-1")
    # Recorded late, dated inside the window that was marked missed.
    assert (
        event(officer, person["id"], "report", occurred_at="2026-12-10T02:00:00Z").status_code
        == 201
    )
    (alert,) = _report_alerts(officer, person["id"])
    assert alert["status"] == "resolved"


def test_after_a_three_day_outage_the_first_run_raises_every_alert_once(
    app, login, active, run_job
):
    person = active()
    run_job("sweep_obligations", at=datetime(2026, 12, 1, 2, tzinfo=UTC))
    # The scheduler is down from Dec 1 10:00 to Dec 4 10:00 (Shanghai).
    run = run_job("sweep_obligations", at=datetime(2026, 12, 4, 2, tzinfo=UTC))
    with app.app_context():
        missed = db.session.execute(
            select(Obligation.id, Obligation.kind, Obligation.due_on).where(
                Obligation.person_id == person["id"], Obligation.status == "missed"
            )
        ).all()
        raised = db.session.execute(
            select(Alert.subject_id, func.count())
            .where(Alert.kind == "obligation_missed")
            .group_by(Alert.subject_id)
        ).all()
        db.session.remove()
    # The check windows due Nov 30 and Dec 3 were both missed, one per run.
    assert sorted(str(d) for _, k, d in missed if k == "check") == ["2026-11-30", "2026-12-03"]
    assert dict(raised) == {ob_id: 1 for ob_id, _, _ in missed}
    assert run["counts"]["alerts"] == len([m for m in missed if str(m[2]) > "2026-11-30"])
    assert run_job("sweep_obligations")["counts"]["alerts"] == 0


def test_people_acknowledge_resolve_and_dismiss_within_scope(app, login, active, run_job):
    person = active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    commander = login("commander-dongcheng")
    alert = _report_alerts(commander, person["id"])[0]
    path = f"/api/v1/alerts/{alert['id']}"

    other = login("commander-xicheng")
    resp = other.post(f"{path}/acknowledge", json={})
    assert resp.status_code == 404  # another district's alert is not there at all
    # Analysts read the risk model's alerts only (model_drift), never a person's.
    assert login("analyst").get("/api/v1/alerts").get_json()["items"] == []

    resp = commander.post(f"{path}/acknowledge", json={"note": "已安排查找"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == "commander-dongcheng"
    assert body["ack_note"] == "已安排查找"
    assert commander.post(f"{path}/acknowledge", json={}).status_code == 409

    resp = commander.post(f"{path}/resolve", json={})
    assert resp.status_code == 422 and "note" in resp.get_json()["errors"]
    resp = commander.post(f"{path}/resolve", json={"note": "已电话联系，补报"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "resolved"
    assert commander.post(f"{path}/dismiss", json={"note": "误报"}).status_code == 409

    check = next(
        a
        for a in _alerts(commander, person_id=person["id"], status="open")["items"]
        if a["detail"]["obligation_kind"] == "check"
    )
    officer = login("officer-dongcheng-1")
    resp = officer.post(f"/api/v1/alerts/{check['id']}/dismiss", json={"note": "已豁免"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "dismissed"
    with app.app_context():
        changes = db.session.scalars(
            select(AlertChange.change)
            .where(AlertChange.alert_id == alert["id"])
            .order_by(AlertChange.id)
        ).all()
        db.session.remove()
    assert changes == ["raised", "acknowledged", "resolved"]


def test_list_filters_and_sorts_most_severe_then_oldest(app, login, active, run_job):
    person = active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    raise_alarm(app, person["id"], DAY_AFTER_REPORT_DUE + timedelta(hours=1))
    commander = login("commander-dongcheng")
    items = _alerts(commander)["items"]
    assert items[0]["kind"] == "monitor_alarm" and items[0]["severity"] == "critical"
    warnings = [a["raised_at"] for a in items if a["severity"] == "warning"]
    assert warnings == sorted(warnings)
    newest = [a["raised_at"] for a in _alerts(commander, order="newest")["items"][1:]]
    assert newest == sorted(newest, reverse=True)
    only = _alerts(commander, severity="critical")["items"]
    assert [a["kind"] for a in only] == ["monitor_alarm"]
    resp = commander.get("/api/v1/alerts", query_string={"kind": "no_such_kind"})
    assert resp.status_code == 422 and "query.kind" in resp.get_json()["errors"]


def test_unacknowledged_critical_alerts_escalate_to_the_city(app, login, active, run_job):
    person = active()
    start = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # the tests' "now"
    raise_alarm(app, person["id"], start, subject_ids=[1])
    city = login("city")
    assert _alerts(city)["total"] == 0  # not escalated: the district handles it
    run_job("alert_escalation", at=start + timedelta(minutes=29))
    assert _alerts(city)["total"] == 0
    run = run_job("alert_escalation", at=start + timedelta(minutes=31))
    assert run["counts"]["escalated"] == 1
    (alert,) = _alerts(city)["items"]
    assert alert["escalation_level"] == 1
    run_job("alert_escalation", at=start + timedelta(minutes=95))
    assert _alerts(city)["items"][0]["escalation_level"] == 3


def _stream(api, last_event_id=None, **query):
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    resp = api.get("/api/v1/alerts/stream", headers=headers, query_string={"timeout": 1, **query})
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    text = resp.get_data(as_text=True)
    return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")], text


def test_the_stream_replays_changes_after_last_event_id_in_scope(app, login, active, run_job):
    app.config["ALERT_STREAM_POLL_SECONDS"] = 0.05
    person = active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    commander = login("commander-dongcheng")
    ids, text = _stream(commander, last_event_id=0)
    with app.app_context():
        all_ids = db.session.scalars(select(AlertChange.id).order_by(AlertChange.id)).all()
        db.session.remove()
    assert ids == all_ids and "event: alert" in text and '"change":"raised"' in text
    # Resuming after the last one: nothing is sent twice.
    assert _stream(commander, last_event_id=all_ids[-1])[0] == []
    # Acknowledging is a new change, delivered to a client that resumes.
    alert = _report_alerts(commander, person["id"])[0]
    commander.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={})
    ids, text = _stream(commander, last_event_id=all_ids[-1])
    assert len(ids) == 1 and '"change":"acknowledged"' in text
    # Another district's command centre sees none of it.
    assert _stream(login("commander-xicheng"), last_event_id=0)[0] == []
    resp = commander.get("/api/v1/alerts/stream", headers={"Last-Event-ID": "abc"})
    assert resp.status_code == 422 and "Last-Event-ID" in resp.get_json()["errors"]


def test_concurrent_raises_of_one_cause_store_one_alert(app, active):
    person = active()
    barrier = threading.Barrier(8)
    results = []

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                results.append(
                    alerts.raise_one(
                        db.session,
                        person_id=person["id"],
                        kind="lost_contact",
                        subject_type="incident",
                        subject_id=7,
                        detail={},
                        now=DAY_AFTER_REPORT_DUE,
                    )
                )
                db.session.commit()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r is not None]) == 1
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Alert).where(Alert.kind == "lost_contact")
        )
        db.session.remove()
    assert count == 1


def test_a_stream_ends_when_its_token_is_revoked(app, login, active, run_job, monkeypatch):
    """Issue 12/13: no delivery on a sign-in that has ended (checked every 30 s; here at once)."""
    monkeypatch.setitem(app.config, "ALERT_STREAM_POLL_SECONDS", 0.05)
    monkeypatch.setitem(app.config, "ALERT_STREAM_TOKEN_CHECK_SECONDS", 0.0)
    active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    commander = login("commander-dongcheng")
    live = commander.get(
        "/api/v1/alerts/stream", headers={"Last-Event-ID": "0"}, query_string={"timeout": 2}
    )
    assert live.status_code == 200
    assert commander.delete("/api/v1/auth/token").status_code == 204  # signed out meanwhile
    text = live.get_data(as_text=True)
    assert "event: end" in text and "event: alert" not in text
    # A stream of a token still valid delivers as before.
    assert _stream(login("commander-dongcheng"), last_event_id=0)[0]
