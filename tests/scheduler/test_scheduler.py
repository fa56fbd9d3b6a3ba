"""The scheduler: one leader by lease, every run recorded, per-person errors isolated,
concurrent schedulers never duplicating, triggers from configuration, the CLI and the API."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from corrections import create_app
from corrections.alerts.models import Alert
from corrections.config import ConfigError
from corrections.core.db import db
from corrections.org.models import Unit
from corrections.scheduler import service
from corrections.scheduler.models import JobRun
from corrections.scheduler.triggers import parse

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TTL = timedelta(seconds=90)


def test_one_holder_at_a_time_and_take_over_after_expiry(app, city):
    with app.app_context():
        s = db.session
        assert service.acquire_lease(s, holder="a", ttl=TTL, now=T0)
        assert not service.acquire_lease(s, holder="b", ttl=TTL, now=T0 + timedelta(seconds=30))
        # a renews: b still waits.
        assert service.acquire_lease(s, holder="a", ttl=TTL, now=T0 + timedelta(seconds=60))
        assert not service.acquire_lease(s, holder="b", ttl=TTL, now=T0 + timedelta(seconds=120))
        # a died: 90 s after its last renewal b takes over, and a is out.
        assert service.acquire_lease(s, holder="b", ttl=TTL, now=T0 + timedelta(seconds=151))
        assert not service.acquire_lease(s, holder="a", ttl=TTL, now=T0 + timedelta(seconds=152))
        lease = service.lease_holder(s)
        assert lease.holder == "b" and lease.acquired_at == T0 + timedelta(seconds=151)
        db.session.remove()


def test_a_run_is_recorded_and_a_standby_scheduler_does_not_run(app, active, run_job):
    active()
    run = run_job("sweep_obligations", at=T0, holder="leader")
    assert run["status"] == "succeeded" and run["holder"] == "leader"
    assert run["counts"]["missed"] == 3 and run["finished_at"] is not None
    assert run_job("sweep_obligations", holder="standby") is None
    with app.app_context():
        runs = db.session.scalars(select(JobRun.holder)).all()
        db.session.remove()
    assert runs == ["leader"]


def test_a_failing_job_is_recorded_without_its_message(app, city, run_job, monkeypatch):
    secret = "".join(["张", "三"])  # personal data must not reach the run record

    def boom(ctx):
        raise ValueError(f"bad row for {secret}")

    monkeypatch.setitem(service.JOBS, "term_endings", service.Job("term_endings", "x", boom))
    run = run_job("term_endings", at=T0)
    assert run["status"] == "failed"
    assert run["error"].startswith("ValueError at test_scheduler.py:")
    assert secret not in json.dumps(run, ensure_ascii=False, default=str)


def test_one_persons_bad_data_is_an_error_for_that_person_only(app, active, run_job, monkeypatch):
    first, second = active(), active()
    from corrections.incidents import service as incidents

    real = incidents.mark_lost_contact

    def flaky(session, incident, **kw):
        if incident.person_id == first["id"]:
            # A statement the database refuses: on PostgreSQL it would abort the whole
            # transaction, were each person's step not in a savepoint of its own.
            session.execute(insert(Unit).values(code=None))
        return real(session, incident, **kw)

    monkeypatch.setattr(incidents, "mark_lost_contact", flaky)
    run_job("sweep_obligations", at=datetime(2026, 12, 2, 2, tzinfo=UTC))
    run = run_job("detect_lost_contact")
    assert run["status"] == "partial"
    assert run["errors"] == {str(first["id"]): "IntegrityError"}
    assert run["counts"]["lost_contact"] == 1
    with app.app_context():
        from corrections.persons.models import Person

        statuses = dict(db.session.execute(select(Person.id, Person.status)).all())
        db.session.remove()
    assert statuses == {first["id"]: "active", second["id"]: "lost_contact"}


def test_two_schedulers_running_at_once_raise_each_alert_once(app, active, clock):
    """Both think they lead (the lease is bypassed): the unique index still decides."""
    for _ in range(3):
        active()
    clock.set(datetime(2026, 12, 12, 2, tzinfo=UTC))
    barrier = threading.Barrier(2)
    errors = []

    def scheduler(name):
        with app.app_context():
            try:
                barrier.wait()
                for job in ("sweep_obligations", "detect_lost_contact", "sweep_obligations"):
                    service.run_job(
                        db.session, job, holder=name, lease_ttl=TTL, require_lease=False
                    )
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in ("s1", "s2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        dupes = db.session.execute(
            select(Alert.person_id, Alert.kind, Alert.subject_type, Alert.subject_id)
            .group_by(Alert.person_id, Alert.kind, Alert.subject_type, Alert.subject_id)
            .having(func.count() > 1)
        ).all()
        total = db.session.scalar(select(func.count()).select_from(Alert))
        db.session.remove()
    assert dupes == [] and total > 0


def test_triggers_come_from_configuration_and_bad_ones_stop_start_up(tmp_path):
    assert parse("every 15m").interval == timedelta(minutes=15)
    cron = parse("cron 0 3 1 * *")
    nxt = cron.get_next_fire_time(None, datetime(2026, 11, 28, 2, tzinfo=UTC))
    assert nxt.isoformat() == "2026-12-01T03:00:00+08:00"  # 03:00 on the 1st, Shanghai
    base = {
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db"),
        "SECRET_KEY": "k" * 40,
    }
    from corrections.config import DEFAULTS

    bad = dict(DEFAULTS["SCHEDULER_TRIGGERS"], sweep_obligations="every now and then")
    with pytest.raises(ConfigError, match=r"SCHEDULER_TRIGGERS\.sweep_obligations"):
        create_app({**base, "SCHEDULER_TRIGGERS": bad})
    unknown = dict(DEFAULTS["SCHEDULER_TRIGGERS"], tea_break="every 1h")
    with pytest.raises(ConfigError, match=r"SCHEDULER_TRIGGERS\.tea_break: unknown job"):
        create_app({**base, "SCHEDULER_TRIGGERS": unknown})


def test_cli_list_and_run_once(app, runner, active):
    active()
    app.extensions["corrections.clock"].set(T0)
    result = runner.invoke(args=["scheduler", "run-once", "sweep_obligations"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["job"] == "sweep_obligations" and run["status"] == "succeeded"
    result = runner.invoke(args=["scheduler", "list"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("sweep_obligations"))
    assert "every 15m" in line and "succeeded" in line
    result = runner.invoke(args=["scheduler", "run-once", "nap"])
    assert result.exit_code != 0 and "unknown job" in result.output


def test_jobs_endpoint_shows_health_to_command_staff(app, login, active, run_job):
    active()
    run_job("sweep_obligations", at=T0)
    commander = login("commander-dongcheng")
    resp = commander.get("/api/v1/system/jobs")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    jobs = {j["name"]: j for j in body["jobs"]}
    assert set(jobs) == set(service.JOBS)
    assert jobs["sweep_obligations"]["last_run"]["status"] == "succeeded"
    assert jobs["sweep_obligations"]["next_run_at"] is not None
    assert jobs["monthly_assessment"]["last_run"] is None
    assert body["leader"] == "test-scheduler"
    assert login("officer-dongcheng-1").get("/api/v1/system/jobs").status_code == 403


def test_the_jobs_panel_shows_the_first_twenty_errors_of_a_run_and_counts_them_all(
    app, city, login
):
    """Hostile review (issue 16): a run that kept an error per person (100,000) was
    translated whole on every request of every commander's panel (seconds of CPU each). The
    panel gets the first 20 and how many there are; a person's error (an exception's class
    name under their id) is not looked up in the catalogue."""
    with app.app_context():
        errors = {"signature": "the manifest is not signed"}
        errors.update({str(i): "OperationalError" for i in range(1, 5000)})
        db.session.add(
            JobRun(
                job="monthly_assessment",
                status="partial",
                started_at=T0,
                finished_at=T0,
                holder="t",
                counts={},
                errors=errors,
            )
        )
        db.session.commit()
        db.session.remove()
    for language, signature in (("zh", "备份清单没有签名"), ("en", "the manifest is not signed")):
        resp = login("commander-dongcheng").get(
            "/api/v1/system/jobs", headers={"Accept-Language": language}
        )
        assert resp.status_code == 200
        (job,) = [j for j in resp.get_json()["jobs"] if j["name"] == "monthly_assessment"]
        shown = job["last_run"]["errors"]
        assert len(shown) == 20 and job["last_run"]["errors_total"] == 5000
        assert shown["signature"] == signature and shown["1"] == "OperationalError"
        assert len(resp.data) < 5000


def test_the_first_sweep_of_a_month_plans_its_hour_windows(app, login, active, run_job):
    person = active()
    assert run_job("sweep_obligations", at=T0)["counts"]["hour_windows"] == 2  # December's
    # Later sweeps of the month do not look at every person again.
    later = run_job("sweep_obligations", at=T0 + timedelta(days=3))
    assert later["counts"]["hour_windows"] == 0
    officer = login("officer-dongcheng-1")
    windows = officer.get(
        f"/api/v1/persons/{person['id']}/obligations", query_string={"kind": "education"}
    ).get_json()
    assert [w["opens_on"] for w in windows] == ["2026-12-01", "2026-11-27"]
    january = run_job("sweep_obligations", at=datetime(2027, 1, 1, 2, tzinfo=UTC))
    assert january["counts"]["hour_windows"] == 2


# --- issue 13 finding 11: the lease is released on a clean stop and after run-once ---------


def test_finding_11_run_once_releases_the_lease_it_took(app, runner, active):
    active()
    app.extensions["corrections.clock"].set(T0)
    for _ in range(2):  # the second within the lease period, as an operator would
        result = runner.invoke(args=["scheduler", "run-once", "sweep_obligations"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["status"] == "succeeded"
    with app.app_context():
        assert service.lease_holder(db.session) is None
        # A scheduler started right after leads at once instead of waiting out the lease.
        assert service.acquire_lease(db.session, holder="restarted", ttl=TTL, now=T0)
        db.session.remove()


def test_finding_11_run_once_leaves_a_running_schedulers_lease_alone(app, runner, city):
    app.extensions["corrections.clock"].set(T0)
    with app.app_context():
        assert service.acquire_lease(db.session, holder="leader", ttl=TTL, now=T0)
        db.session.remove()
    result = runner.invoke(args=["scheduler", "run-once", "sweep_obligations"])
    assert result.exit_code != 0 and "scheduler leader holds the leader lease" in result.output
    result = runner.invoke(args=["scheduler", "run-once", "audit_seal", "--ignore-lease"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert service.lease_holder(db.session).holder == "leader"
        db.session.remove()


def test_finding_11_sigterm_stops_the_scheduler_and_releases_its_lease(app, city, database_url):
    """A real ``corrections scheduler run`` process on the test database: it takes the lease,
    SIGTERM stops it cleanly, and the lease is gone (no 90 s wait for the next scheduler)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(
        os.environ,
        CORRECTIONS_DATABASE_URL=database_url,
        CORRECTIONS_INSTANCE_PATH=app.instance_path,
        CORRECTIONS_SECRET_KEY=app.config["SECRET_KEY"],
        CORRECTIONS_LOG_LEVEL="WARNING",
        CORRECTIONS_SCHEDULER_LEASE_SECONDS="3",
    )
    command = [sys.executable, "-c", "from corrections.cli import main; main()"]
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, no outside input
        [*command, "scheduler", "run", "--holder", "sigterm-test"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        holder = None
        for _ in range(300):  # up to 30 s for the process to start and take the lease
            with app.app_context():
                lease = service.lease_holder(db.session)
                holder = lease.holder if lease else None
                db.session.remove()
            if holder or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert holder == "sigterm-test", proc.stdout.read() if proc.poll() is not None else ""
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    with app.app_context():
        assert service.lease_holder(db.session) is None
        db.session.remove()
