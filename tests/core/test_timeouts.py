"""Issue 13 finding 9: statement and lock timeouts per request and per job (configurable); a
held lock answers 503 with Retry-After instead of hanging every request; ``/healthz`` stays
one ``SELECT 1`` and ``/healthz?deep=1`` reports the database, the scheduler and the schema."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from corrections import create_app
from corrections.config import ConfigError
from corrections.core.db import db, use_health_timeouts
from corrections.scheduler import service as scheduler
from tests.conftest import DEMO_PASSWORD, Api

# Long enough for a request that waits 1 s for a lock, far shorter than the old waits (for
# ever on PostgreSQL, 30 s on SQLite).
PATIENCE_SECONDS = 8


@pytest.fixture
def short_waits(app):
    """Requests and jobs wait at most 1 s for a lock (connections made from now on)."""
    short = {"REQUEST_LOCK_TIMEOUT_SECONDS": 1, "JOB_LOCK_TIMEOUT_SECONDS": 1}
    saved = {key: app.config[key] for key in short}
    app.config.update(short)
    with app.app_context():
        db.engine.dispose()
    yield
    app.config.update(saved)
    with app.app_context():
        db.engine.dispose()


@contextmanager
def lock_held(app):
    """Another connection holds what requests need: the persons table on PostgreSQL (an
    ACCESS EXCLUSIVE lock, as a careless migration takes), the write lock on SQLite."""
    with app.app_context():
        conn = db.engine.connect()
        try:
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE persons IN ACCESS EXCLUSIVE MODE"))
            else:
                conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the database's write lock
            yield
        finally:
            conn.rollback()
            conn.close()
            db.session.remove()


def _within_patience(target) -> tuple[bool, dict]:
    """Run ``target(out)`` on a thread while the lock is held; whether it ended in time."""
    out: dict = {}
    worker = threading.Thread(target=target, args=(out,))
    worker.start()
    worker.join(timeout=PATIENCE_SECONDS)
    return not worker.is_alive(), out


def test_finding_9_a_held_lock_answers_503_with_retry_after_instead_of_hanging(
    app, officer, active, short_waits
):
    person = active()
    api = Api(app.test_client(), officer.token, officer.username)

    def read(out):
        out["resp"] = api.get(f"/api/v1/persons/{person['id']}")

    with lock_held(app):
        ended, out = _within_patience(read)
    assert ended, "the request waited on the lock (no lock timeout)"
    resp = out["resp"]
    assert resp.status_code == 503
    assert resp.content_type == "application/problem+json"
    assert int(resp.headers["Retry-After"]) > 0
    body = resp.get_json()
    assert body["type"].endswith("/database-busy") and body["request_id"]
    # Released, the same request is served again.
    assert api.get(f"/api/v1/persons/{person['id']}").status_code == 200


def test_finding_9_a_job_gives_up_on_a_held_lock(app, active, run_job, short_waits):
    active()

    def job(out):
        try:
            run = run_job("term_endings")
            out["outcome"] = f"{run['status']}: {run['error']}"
        except OperationalError as exc:  # SQLite: the lease itself needs the write lock
            out["outcome"] = type(exc).__name__

    with lock_held(app):
        ended, out = _within_patience(job)
    assert ended, "the job waited on the lock (no lock timeout)"
    assert "OperationalError" in out["outcome"]


def _settings() -> dict[str, int]:
    """The current transaction's statement and lock timeouts, in milliseconds."""
    if db.engine.dialect.name == "postgresql":
        rows = db.session.execute(
            text(
                "SELECT name, setting::int FROM pg_settings "
                "WHERE name IN ('statement_timeout', 'lock_timeout')"
            )
        ).all()
        return dict(rows)
    return {"lock_timeout": db.session.execute(text("PRAGMA busy_timeout")).scalar()}


def test_finding_9_requests_and_jobs_run_under_their_own_timeouts(app):
    with app.test_request_context("/api/v1/persons"):
        request = _settings()
        db.session.remove()
    with app.app_context():
        job = _settings()
        db.session.remove()
    with app.test_request_context("/healthz?deep=1"):
        use_health_timeouts(db.session)
        health = _settings()
        db.session.remove()
    expected_request = {"statement_timeout": 20_000, "lock_timeout": 10_000}
    expected_job = {"statement_timeout": 900_000, "lock_timeout": 60_000}
    expected_health = {"statement_timeout": 2_000, "lock_timeout": 2_000}
    if not app.config["DATABASE_URL"].startswith("postgresql"):  # SQLite: its busy timeout
        for expected in (expected_request, expected_job, expected_health):
            expected.pop("statement_timeout")
    assert (request, job, health) == (expected_request, expected_job, expected_health)
    # A request after the health check is back under the request's own.
    with app.test_request_context("/api/v1/persons"):
        assert _settings() == expected_request
        db.session.remove()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("REQUEST_LOCK_TIMEOUT_SECONDS", -1),
        ("JOB_STATEMENT_TIMEOUT_SECONDS", "soon"),
        ("HEALTHZ_TIMEOUT_SECONDS", 0),
    ],
)
def test_finding_9_timeouts_are_validated_at_start(tmp_path, key, value):
    with pytest.raises(ConfigError, match=key):
        create_app(
            {
                "INSTANCE_PATH": str(tmp_path),
                "SECRET_KEY": "k" * 40,
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                key: value,
            }
        )


def test_finding_9_plain_healthz_stays_one_cheap_answer(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "database": "ok"}


def test_finding_9_deep_healthz_reports_database_scheduler_and_migrations(app, client, clock):
    deep = client.get("/healthz?deep=1")
    assert deep.status_code == 200
    body = deep.get_json()
    assert body["checks"]["database"]["status"] == "ok"
    migrations = body["checks"]["migrations"]
    assert migrations["status"] == "ok" and migrations["head"] == migrations["database"]
    assert migrations["head"]  # the newest file in corrections/migrations/versions
    # No scheduler has run yet: the API serves, the report says what is missing.
    assert body["status"] == "degraded"
    assert body["checks"]["scheduler"] == {
        "status": "none",
        "holder": None,
        "last_heartbeat": None,
        "lease_expires_at": None,
    }
    beat = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    with app.app_context():  # a scheduler's heartbeat
        scheduler.acquire_lease(
            db.session, holder="scheduler-host:4242", ttl=timedelta(seconds=90), now=beat
        )
        db.session.remove()
    body = client.get("/healthz?deep=1").get_json()
    assert body["status"] == "ok"
    # A monitor without a token is not told the machine's name; an operator is.
    assert body["checks"]["scheduler"]["holder"] != "scheduler-host:4242"
    assert "scheduler-host" not in client.get("/healthz?deep=1").get_data(as_text=True)
    for username, shown in (("officer-dongcheng-1", False), ("city", True)):
        token = client.post(
            "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
        ).get_json()["access_token"]
        seen = client.get("/healthz?deep=1", headers={"Authorization": f"Bearer {token}"})
        assert (seen.get_json()["checks"]["scheduler"]["holder"] == "scheduler-host:4242") is shown
    body = client.get("/healthz?deep=1", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["checks"]["scheduler"] == {
        "status": "ok",
        "holder": "scheduler-host:4242",
        "last_heartbeat": beat.isoformat(),
        "lease_expires_at": (beat + timedelta(seconds=90)).isoformat(),
    }
    clock.set(beat + timedelta(seconds=91))  # the leader stopped renewing its lease
    body = client.get("/healthz?deep=1").get_json()
    assert body["status"] == "degraded" and body["checks"]["scheduler"]["status"] == "stale"


# A monitor's usual patience (e.g. a load balancer's or Prometheus' 5 s).
MONITOR_TIMEOUT_SECONDS = 5


def test_finding_9_deep_healthz_is_503_while_a_lock_blocks_requests(app, client):
    """Under the default timeouts (a request waits 10 s for a lock) the deep check gives up
    after its own HEALTHZ_TIMEOUT_SECONDS (2 s): a monitor sees 503 busy, not its timeout."""
    assert app.config["REQUEST_LOCK_TIMEOUT_SECONDS"] == 10
    assert app.config["HEALTHZ_TIMEOUT_SECONDS"] == 2

    def probe(out):
        began = time.monotonic()
        out["resp"] = app.test_client().get("/healthz?deep=1")
        out["seconds"] = time.monotonic() - began

    with lock_held(app):
        ended, out = _within_patience(probe)
    assert ended
    assert out["seconds"] < MONITOR_TIMEOUT_SECONDS, out["seconds"]
    resp = out["resp"]
    assert resp.status_code == 503 and resp.content_type == "application/problem+json"
    assert resp.get_json()["checks"]["database"]["status"] == "busy"
    assert "Retry-After" in resp.headers


def test_finding_9_deep_healthz_is_503_when_the_schema_is_behind(app, client):
    with app.app_context():
        current = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        db.session.commit()
        try:
            resp = client.get("/healthz?deep=1")
        finally:
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
            db.session.commit()
            db.session.remove()
    assert resp.status_code == 503 and resp.content_type == "application/problem+json"
    migrations = resp.get_json()["checks"]["migrations"]
    assert migrations == {"status": "behind", "head": current, "database": "0001"}
