"""A failed backup or drill raises a system alert (issue 16): no person, one live per job
however often it fails, resolved by the job's next success; the city and the administrators
see it (list, acknowledge, resolve, live stream, statistics), officers and commanders do not;
the metrics count it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from corrections.alerts import service as alerts
from corrections.alerts.models import Alert, AlertChange
from corrections.audit.models import AuditEntry
from corrections.core.auth import Actor, Role
from corrections.core.db import db
from corrections.scheduler import service as scheduler
from tests.conftest import TEST_NOW
from tests.support.alerts import raise_alarm

TTL = timedelta(seconds=90)
METRICS_TOKEN = "metrics-token-for-the-backup-alert-tests"


def _run(app, job: str, **options) -> dict:
    with app.app_context():
        run = scheduler.run_job(
            db.session, job, holder="test", lease_ttl=TTL, require_lease=False, options=options
        )
        view = scheduler.run_view(run)
        db.session.remove()
    return view


def _system_alerts(app) -> list[Alert]:
    with app.app_context():
        rows = db.session.scalars(
            select(Alert).where(Alert.person_id.is_(None)).order_by(Alert.id)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def _fail_backup(app, tmp_path) -> dict:
    """A backup into a folder that cannot be made (a file stands in its way)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    run = _run(app, "backup", out=str(blocker / "backups"))
    assert run["status"] == "failed"
    return run


def _fail_drill(app, tmp_path) -> dict:
    """A drill with no backup to rehearse."""
    empty = tmp_path / "no-backups"
    empty.mkdir(exist_ok=True)
    run = _run(app, "backup_drill", source=str(empty))
    assert run["status"] == "failed"
    return run


def _alerts(api, **query) -> dict:
    resp = api.get("/api/v1/alerts", query_string={"page_size": 200, **query})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# --- raising and resolving ---------------------------------------------------------------


def test_a_backup_failing_twice_raises_one_live_alert_and_the_next_backup_resolves_it(
    app, city, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    first = _fail_backup(app, tmp_path)
    second = _fail_backup(app, tmp_path)
    assert first["id"] != second["id"]
    (alert,) = _system_alerts(app)
    assert (alert.kind, alert.severity, alert.status) == ("backup_failed", "critical", "open")
    assert (alert.subject_type, alert.subject_id) == ("job", 0)
    # The job, the first failed run and the error kinds: no path, no message.
    assert alert.detail == {
        "job": "backup",
        "run_id": first["id"],
        "errors": [first["error"].split(" ")[0]],
    }
    assert alert.detail["errors"][0] in ("FileExistsError", "NotADirectoryError")

    good = _run(app, "backup", out=str(tmp_path / "backups"), prune=False)
    assert good["status"] == "succeeded", good
    (resolved,) = _system_alerts(app)
    assert resolved.status == "resolved" and resolved.auto_resolved
    assert resolved.closed_by == "system" and f"运行 {good['id']}" in resolved.close_note

    # Failing again is a new cause episode: a new live alert beside the resolved one.
    _fail_backup(app, tmp_path)
    assert [(a.kind, a.status) for a in _system_alerts(app)] == [
        ("backup_failed", "resolved"),
        ("backup_failed", "open"),
    ]


def test_a_drill_failing_twice_raises_one_alert_and_a_passing_drill_resolves_it(
    app, city, tmp_path, monkeypatch
):
    first = _fail_drill(app, tmp_path)
    # The operator's command runs the same job: it alerts too, and does not duplicate.
    failed = app.test_cli_runner().invoke(
        args=["backup", "drill", "--from", str(tmp_path / "no-backups")]
    )
    assert failed.exit_code == 1
    (alert,) = _system_alerts(app)
    assert alert.kind == "backup_drill_failed" and alert.status == "open"
    assert alert.detail["job"] == "backup_drill" and alert.detail["run_id"] == first["id"]
    assert alert.detail["errors"] == sorted(first["errors"])

    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    assert _run(app, "backup", prune=False)["status"] == "succeeded"
    passed = _run(app, "backup_drill")
    assert passed["status"] == "succeeded", passed
    (resolved,) = _system_alerts(app)
    assert resolved.status == "resolved" and resolved.auto_resolved
    assert resolved.close_note == f"恢复演练已通过（运行 {passed['id']}）"


def test_a_failed_backup_does_not_resolve_the_drills_alert_nor_the_other_way(
    app, city, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    _fail_drill(app, tmp_path)
    _fail_backup(app, tmp_path)
    assert _run(app, "backup", out=str(tmp_path / "backups"), prune=False)["status"] == (
        "succeeded"
    )
    states = {a.kind: a.status for a in _system_alerts(app)}
    assert states == {"backup_drill_failed": "open", "backup_failed": "resolved"}


def test_a_backup_or_drill_elsewhere_leaves_the_nightly_alert_live(
    app, city, tmp_path, monkeypatch
):
    """Hostile review (issue 16): `backup create --out /elsewhere` (a USB stick) resolved the
    alert of the failing nightly backup into BACKUP_DIR, and `drill --from` another backup the
    failing drill's. Only a success where the schedule works resolves it: BACKUP_DIR, however
    spelled."""
    backups = tmp_path / "backups"
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(backups))
    _fail_backup(app, tmp_path)
    _fail_drill(app, tmp_path)
    elsewhere = tmp_path / "usb-stick"
    made = app.test_cli_runner().invoke(args=["backup", "create", "--out", str(elsewhere)])
    assert made.exit_code == 0, made.output
    drilled = app.test_cli_runner().invoke(args=["backup", "drill", "--from", str(elsewhere)])
    assert drilled.exit_code == 0, drilled.output
    states = {a.kind: a.status for a in _system_alerts(app)}
    assert states == {"backup_failed": "open", "backup_drill_failed": "open"}
    # Into BACKUP_DIR (named through a "." here), then its drill: both resolved.
    assert _run(app, "backup", out=f"{tmp_path}/./backups", prune=False)["status"] == "succeeded"
    assert _run(app, "backup_drill")["status"] == "succeeded"
    states = {a.kind: a.status for a in _system_alerts(app)}
    assert states == {"backup_failed": "resolved", "backup_drill_failed": "resolved"}


def test_an_alert_that_cannot_be_raised_still_leaves_the_failed_run_and_its_error_line(
    app, city, tmp_path, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(alerts, "raise_one", broken)
    with caplog.at_level(logging.ERROR, logger="corrections.backup.jobs"):
        run = _fail_backup(app, tmp_path)
    assert run["error"].startswith(("FileExistsError", "NotADirectoryError"))
    messages = [r.getMessage() for r in caplog.records]
    assert any("backup failed" in m for m in messages)
    assert "backup: its alert could not be raised: RuntimeError" in messages
    assert _system_alerts(app) == []


# --- who sees it -------------------------------------------------------------------------


def test_the_city_and_administrators_see_and_act_on_it_officers_and_commanders_do_not(
    app, login, active, tmp_path
):
    person = active()
    raise_alarm(app, person["id"], TEST_NOW, subject_ids=[1])  # a person's, not escalated
    _fail_backup(app, tmp_path)
    (alert,) = _system_alerts(app)
    city, admin = login("city"), login("admin")
    for api in (city, admin):
        # The person's alert is not the administrator's, nor (not escalated) the city's.
        (seen,) = _alerts(api)["items"]
        assert seen["id"] == alert.id and seen["person_id"] is None
        assert seen["kind_label_zh"] == "备份失败" and seen["severity_label_zh"] == "紧急"
        assert seen["office_id"] is None and seen["district_id"] is None
    for username in ("officer-dongcheng-1", "commander-dongcheng"):
        api = login(username)
        items = _alerts(api)["items"]
        assert [a["kind"] for a in items] == ["monitor_alarm"]
        refused = api.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={})
        assert refused.status_code == 404

    # Reading it shows nobody's record: no disclosure is audited.
    with app.app_context():
        disclosed = db.session.scalars(
            select(AuditEntry.actor_username).where(AuditEntry.action == "response.disclosed")
        ).all()
        db.session.remove()
    assert "city" not in disclosed and "admin" not in disclosed

    acked = city.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "已通知运维"})
    assert acked.status_code == 200, acked.get_json()
    assert acked.get_json()["status"] == "acknowledged" and acked.get_json()["person_id"] is None
    done = admin.post(f"/api/v1/alerts/{alert.id}/resolve", json={"note": "磁盘已清理，已重新备份"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "resolved" and done.get_json()["closed_by"] == "admin"
    with app.app_context():
        acts = db.session.execute(
            select(AuditEntry.actor_username, AuditEntry.action)
            .where(AuditEntry.subject_type == "alert", AuditEntry.subject_id == str(alert.id))
            .order_by(AuditEntry.id)
        ).all()
        db.session.remove()
    assert [tuple(a) for a in acts] == [("city", "alert.acknowledge"), ("admin", "alert.resolve")]


def _stream(api, last_event_id: int = 0) -> str:
    resp = api.get(
        "/api/v1/alerts/stream",
        headers={"Last-Event-ID": str(last_event_id)},
        query_string={"timeout": 1},
    )
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_the_live_stream_delivers_it_to_the_city_and_administrators_only(
    app, login, active, run_job, tmp_path
):
    app.config["ALERT_STREAM_POLL_SECONDS"] = 0.05
    _fail_backup(app, tmp_path)
    # Unacknowledged and critical: it escalates like any other (the city sees it anyway).
    escalated = run_job("alert_escalation", at=TEST_NOW + timedelta(minutes=31))
    assert escalated["counts"]["escalated"] == 1
    for username in ("city", "admin"):
        text = _stream(login(username))
        assert '"kind":"backup_failed"' in text and '"person_id":null' in text
        assert '"change":"raised"' in text and '"change":"escalated"' in text
    for username in ("commander-dongcheng", "officer-dongcheng-1"):
        assert "event: alert" not in _stream(login(username))

    # What a process's listener fetches once for all its streams, each keeping its own.
    with app.app_context():
        changes = alerts.changes_since(db.session, after=0)
        db.session.remove()
    assert [c.change for c in changes] == ["raised", "escalated"]
    assert all(c.person is None and c.office_id is None for c in changes)
    readers = {role: Actor(user_id=1, username=role.value, role=role, unit_id=1) for role in Role}
    seen = {role for role, actor in readers.items() if alerts.in_scope(actor, changes[0])}
    assert seen == {Role.CITY, Role.ADMIN}


def test_a_stream_batch_of_system_alerts_audits_no_disclosure(app, login, tmp_path):
    _fail_backup(app, tmp_path)
    city = login("city")
    assert '"kind":"backup_failed"' in _stream(city)
    with app.app_context():
        streamed = db.session.scalars(
            select(AuditEntry.id).where(AuditEntry.action == "alert.stream")
        ).all()
        changes = db.session.scalars(select(AlertChange.person_id)).all()
        db.session.remove()
    assert streamed == [] and changes == [None]


# --- counted -----------------------------------------------------------------------------


def test_the_city_statistics_count_it_and_the_districts_do_not(app, login, tmp_path):
    _fail_drill(app, tmp_path)
    by_kind = login("city").get("/api/v1/stats/overview").get_json()["open_alerts_by_kind"]
    assert {"key": "backup_drill_failed", "label_zh": "备份恢复演练失败", "count": 1} in by_kind
    district = login("commander-dongcheng").get("/api/v1/stats/overview").get_json()
    assert district["open_alerts_by_kind"] == []


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    yield lambda: client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    app.config["METRICS_TOKEN"] = None


def test_the_metrics_count_open_system_alerts_by_severity(app, city, scrape, tmp_path):
    _fail_backup(app, tmp_path)
    _fail_backup(app, tmp_path)
    text = scrape().get_data(as_text=True)
    assert 'corrections_alerts_open{kind="backup_failed",severity="critical"} 1.0' in text
    assert 'corrections_job_runs_total{job="backup",status="failed"} 2.0' in text
