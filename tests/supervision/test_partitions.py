"""The event log by month (issue 18, province scale): partitions created ahead by a job and
detached for the archive on PostgreSQL; its unique keys (a retried request, one correction per
event) held by the database across months, on every database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from corrections.audit.models import AuditEntry
from corrections.core.auth import Actor, Role
from corrections.core.db import db
from corrections.core.errors import Conflict, NotFound
from corrections.persons.models import Person
from corrections.supervision import partitions
from corrections.supervision.events import record_event
from corrections.supervision.models import SupervisionEvent, SupervisionEventKey
from corrections.supervision.partitions_cli import detach_events_cmd, partitions_cmd
from tests.conftest import TEST_NOW, count_rows
from tests.supervision.conftest import event

NEXT_MONTH = TEST_NOW + timedelta(days=10)  # 2026-12-07, another month of recording


def _postgres(app) -> bool:
    return app.config["DATABASE_URL"].startswith("postgresql")


@pytest.fixture
def postgres_only(app):
    if not _postgres(app):
        pytest.skip("the event log is partitioned on PostgreSQL only")


def _partition_of(app, event_id: int) -> str | None:
    if not _postgres(app):
        return None
    with app.app_context():
        name = db.session.scalar(
            text("SELECT tableoid::regclass::text FROM supervision_events WHERE id = :id"),
            {"id": event_id},
        )
        db.session.remove()
    return name


def test_a_retry_a_month_later_still_finds_the_first_event(app, login, officer, active, clock):
    person = active()
    headers = {"Idempotency-Key": "tablet-7:2026-11-27:0042"}
    first = event(officer, person["id"], "report", headers=headers)
    assert first.status_code == 201
    clock.set(NEXT_MONTH)
    officer = login(officer.username)  # the first token has expired since
    again = event(officer, person["id"], "report", headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    other = event(officer, person["id"], "report", "2026-11-27T01:30:00Z", headers=headers)
    assert other.status_code == 409 and "Idempotency-Key" in other.get_json()["errors"]
    assert count_rows(app, SupervisionEvent) == 1


def test_the_database_refuses_a_key_used_in_another_month(app, officer, active, clock):
    """The key is unique across months by the database itself, not by the read before it."""
    person = active()
    first = event(officer, person["id"], "report", headers={"Idempotency-Key": "k-1"})
    with app.app_context():
        row = db.session.get(Person, person["id"])
        user_id = db.session.get(SupervisionEvent, first.get_json()["id"]).recorded_by_id
        actor = Actor(user_id=user_id, username=officer.username, role=Role.OFFICER, unit_id=None)
        with pytest.raises(IntegrityError):
            record_event(
                db.session,
                actor=actor,
                person=row,
                type="talk",
                occurred_at=NEXT_MONTH - timedelta(hours=1),
                idempotency_key="k-1",
                now=NEXT_MONTH,
            )
        db.session.rollback()
        db.session.remove()
    assert count_rows(app, SupervisionEvent) == 1
    if _postgres(app):
        assert (
            _partition_of(app, first.get_json()["id"])
            == "event_partitions.supervision_events_2026_11"
        )


def test_an_event_is_corrected_once_even_from_another_month(app, login, officer, active, clock):
    person = active()
    original = event(officer, person["id"], "talk").get_json()
    fixed = event(officer, person["id"], "talk", corrects_id=original["id"], note="改正")
    assert fixed.status_code == 201, fixed.get_json()
    with app.app_context():
        row = db.session.get(Person, person["id"])
        corrected = db.session.get(SupervisionEvent, original["id"])
        actor = Actor(user_id=None, username="cli:test", role=None, unit_id=None)
        # Past the service's own check: the database still keeps the chain a chain.
        with pytest.raises(IntegrityError):
            record_event(
                db.session,
                actor=actor,
                person=row,
                type="talk",
                occurred_at=TEST_NOW,
                corrects=corrected,
                now=NEXT_MONTH,
            )
        db.session.rollback()
        db.session.remove()
    assert count_rows(app, SupervisionEvent) == 2
    clock.set(NEXT_MONTH)
    officer = login(officer.username)
    again = event(officer, person["id"], "talk", corrects_id=original["id"], note="再改")
    assert again.status_code == 409


def test_the_job_creates_the_months_ahead_once(app, city, run_job, postgres_only):
    at = datetime(2027, 6, 14, 20, 0, tzinfo=UTC)  # 2027-06-15 04:00 in Shanghai
    run = run_job("event_partitions", at=at)
    assert run["status"] == "succeeded", run
    with app.app_context():
        names = partitions.existing(db.session.connection())
        db.session.remove()
    ahead = app.config["EVENT_PARTITIONS_AHEAD"]
    wanted = {f"supervision_events_2027_{m:02d}" for m in range(6, 7 + ahead)}
    assert wanted <= names
    assert f"supervision_events_2027_{7 + ahead:02d}" not in names
    assert run["counts"]["created"] >= len(wanted)
    assert run_job("event_partitions", at=at + timedelta(hours=1))["counts"] == {"created": 0}


def test_a_month_waiting_in_the_default_partition_moves_into_its_own(
    app, officer, active, clock, postgres_only
):
    person = active()
    long_ago = datetime(2019, 3, 10, 2, 0, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO supervision_events (person_id, type, occurred_at, recorded_at, "
                "recorded_by, payload) VALUES (:p, 'talk', :t, :t, 'import', '{}')"
            ),
            {"p": person["id"], "t": long_ago},
        )
        db.session.commit()
        event_id = db.session.scalar(select(func.max(SupervisionEvent.id)))
        db.session.remove()
    assert _partition_of(app, event_id) == "event_partitions.supervision_events_default"
    with app.app_context():
        created = partitions.create_ahead(db.session, now=TEST_NOW, ahead=1)
        db.session.commit()
        db.session.remove()
    assert "supervision_events_2019_03" in created
    assert _partition_of(app, event_id) == "event_partitions.supervision_events_2019_03"


def test_detach_refuses_a_month_within_the_retention(app, city, postgres_only):
    actor = Actor(user_id=None, username="cli:test", role=None, unit_id=None)
    with app.app_context():
        with pytest.raises(Conflict):
            partitions.detach(
                db.session, month=date(2024, 1, 1), now=TEST_NOW, retention_months=36, actor=actor
            )
        db.session.rollback()
        with pytest.raises(NotFound):
            partitions.detach(
                db.session, month=date(2018, 1, 1), now=TEST_NOW, retention_months=36, actor=actor
            )
        db.session.rollback()
        db.session.remove()


def test_an_old_month_is_detached_into_the_archive_and_audited(
    app, runner, officer, active, postgres_only
):
    person = active()
    old = datetime(2021, 5, 3, 2, 0, tzinfo=UTC)
    with app.app_context():
        partitions.create_months(db.session.connection(), [date(2021, 5, 1)])
        db.session.execute(
            text(
                "INSERT INTO supervision_events (person_id, type, occurred_at, recorded_at, "
                "recorded_by, recorded_by_id, idempotency_key, payload) "
                "VALUES (:p, 'talk', :t, :t, 'import', 1, 'old-key', '{}')"
            ),
            {"p": person["id"], "t": old},
        )
        db.session.commit()
        db.session.remove()
    listed = runner.invoke(partitions_cmd)
    assert listed.exit_code == 0, listed.output
    assert "2021-05" in listed.output and "月份" in listed.output
    refused = runner.invoke(detach_events_cmd, ["2026-01"])
    assert refused.exit_code != 0 and "保留期" in refused.output
    # The person is still under supervision: their record would lose the month (hostile
    # review), so it takes --force, with a reason.
    kept_open = runner.invoke(detach_events_cmd, ["2021-05"])
    assert kept_open.exit_code != 0 and "仍在矫正" in kept_open.output
    assert runner.invoke(detach_events_cmd, ["2021-05", "--force"]).exit_code != 0
    try:
        done = runner.invoke(detach_events_cmd, ["2021-05", "--force", "--reason", "已归档"])
        assert done.exit_code == 0, done.output
        assert "event_archive.supervision_events_2021_05" in done.output
        with app.app_context():
            kept = db.session.scalar(
                text("SELECT count(*) FROM event_archive.supervision_events_2021_05")
            )
            names = partitions.existing(db.session.connection())
            entry = db.session.scalar(
                select(AuditEntry).where(AuditEntry.action == "events.detach")
            )
            db.session.remove()
        assert kept == 1 and "supervision_events_2021_05" not in names
        assert entry.detail["month"] == "2021-05" and entry.actor_username.startswith("cli:")
        assert entry.detail["open_cases"] == 1 and entry.detail["reason"] == "已归档"
        # The month's idempotency claim went with it.
        assert count_rows(app, SupervisionEventKey) == 0
        assert count_rows(app, SupervisionEvent) == 0
    finally:
        with app.app_context():
            db.session.execute(
                text("DROP TABLE IF EXISTS event_archive.supervision_events_2021_05")
            )
            db.session.commit()
            db.session.remove()


def test_on_sqlite_there_is_nothing_to_partition(app, runner, run_job):
    if _postgres(app):
        pytest.skip("SQLite")
    assert run_job("event_partitions")["counts"] == {"created": 0}
    assert "未分区" in runner.invoke(partitions_cmd).output
    refused = runner.invoke(detach_events_cmd, ["2020-01"])
    assert refused.exit_code != 0 and "PostgreSQL" in refused.output
