"""When a started scheduler first runs its interval jobs (new-user review): soon after the
start, not one whole interval later (a 15-minute sweep first ran 15 minutes after every
restart), unless a scheduler ran the job less than an interval before (``job_runs``). Cron
jobs keep their times."""

from __future__ import annotations

from datetime import timedelta

from corrections.core.db import db
from corrections.scheduler import process, service
from tests.conftest import TEST_NOW

TTL = timedelta(seconds=90)


def _next_runs(app) -> dict[str, object]:
    scheduler = process.build(app, "test-holder", background=True)  # built, not started
    return {
        job.id: getattr(job, "next_run_time", None)
        for job in scheduler.get_jobs()
        if job.id != "_lease"
    }


def test_interval_jobs_run_within_seconds_of_the_start(app, city, clock):
    clock.set(TEST_NOW)
    runs = _next_runs(app)
    for name in ("sweep_obligations", "detect_lost_contact", "alert_escalation", "audit_seal"):
        assert TEST_NOW <= runs[name] <= TEST_NOW + timedelta(seconds=10), (name, runs[name])
    # At most half the interval of a short one (every 1m: within 30 s anyway).
    assert runs["audit_seal"] <= TEST_NOW + timedelta(seconds=30)
    # Cron jobs are left to their trigger (APScheduler computes their time at the start).
    assert runs["backup"] is None and runs["monthly_assessment"] is None


def test_a_job_a_scheduler_ran_less_than_an_interval_ago_waits_for_its_interval(app, city, clock):
    """A restart (or the standby taking over) does not run at once what the leader ran a
    few minutes before: the next run is one interval after that run."""
    ran_at = TEST_NOW - timedelta(minutes=4)
    clock.set(ran_at)
    with app.app_context():
        service.run_job(db.session, "sweep_obligations", holder="old-leader", lease_ttl=TTL)
        service.release_lease(db.session, holder="old-leader")
        db.session.remove()
    clock.set(TEST_NOW)
    runs = _next_runs(app)
    assert runs["sweep_obligations"] == ran_at + timedelta(minutes=15)
    # Another job of the same interval that did not run lately starts soon.
    assert runs["detect_lost_contact"] <= TEST_NOW + timedelta(seconds=10)


def test_a_run_longer_ago_than_the_interval_does_not_delay_the_first_run(app, city, clock):
    clock.set(TEST_NOW - timedelta(hours=3))
    with app.app_context():
        service.run_job(db.session, "intake_deadlines", holder="old-leader", lease_ttl=TTL)
        service.release_lease(db.session, holder="old-leader")
        db.session.remove()
    clock.set(TEST_NOW)
    assert _next_runs(app)["intake_deadlines"] <= TEST_NOW + timedelta(seconds=10)


def test_first_run_time_is_the_later_of_soon_and_one_interval_after_the_last_run():
    every = timedelta(minutes=15)
    assert process.first_run_time(every, None, TEST_NOW, 3.0) == TEST_NOW + timedelta(seconds=3)
    last = TEST_NOW - timedelta(minutes=14)
    assert process.first_run_time(every, last, TEST_NOW) == last + every
    # exactly one interval ago: due now
    assert process.first_run_time(every, TEST_NOW - every, TEST_NOW) == TEST_NOW


def test_a_last_run_recorded_in_the_future_counts_as_unknown_and_is_logged(
    app, city, clock, caplog
):
    """Hostile review (issue 16): a standby whose clock ran a year ahead recorded its runs a
    year on; the leader, restarted, then postponed every interval job by a year."""
    import logging

    ran_at = TEST_NOW + timedelta(days=365)
    clock.set(ran_at)
    with app.app_context():
        service.run_job(db.session, "audit_seal", holder="standby-fast", lease_ttl=TTL)
        service.release_lease(db.session, holder="standby-fast")
        db.session.remove()
    clock.set(TEST_NOW)
    caplog.set_level(logging.WARNING, logger="corrections.scheduler.process")
    runs = _next_runs(app)
    assert TEST_NOW <= runs["audit_seal"] <= TEST_NOW + timedelta(seconds=30)
    (warning,) = [r for r in caplog.records if r.name == "corrections.scheduler.process"]
    assert warning.levelno == logging.WARNING
    assert "audit_seal" in warning.getMessage() and ran_at.isoformat() in warning.getMessage()
    # The pure rule: a start after now is unknown; one in the past still counts.
    every = timedelta(minutes=15)
    assert process.first_run_time(every, TEST_NOW + timedelta(days=1), TEST_NOW) == TEST_NOW
    recent = TEST_NOW - timedelta(minutes=5)
    assert process.first_run_time(every, recent, TEST_NOW) == recent + every
