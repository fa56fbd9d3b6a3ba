"""Statement budgets of the hottest requests (issue 18): recording one supervision event, and a
district commander's first page of alerts and of persons. Timings in CI are noisy; how many
statements a request sends is not, and each one is a round trip to the database. A change that
adds one fails here: make it cheaper, or raise the budget on purpose and say why.

Counted: every statement the request's thread sends (on PostgreSQL an executemany as one per
parameter set, as psycopg sends it), and its COMMIT. Not counted, as the same
for every request: SQLite's ``BEGIN IMMEDIATE`` and the busy-timeout ``PRAGMA`` it sends when
the pooled connection last served a job (core/db.py); on PostgreSQL the driver's own ``BEGIN``
and the pool's pre-ping (``DATABASE_PRE_PING``), each one more round trip; the audit trail's
seal, which a worker runs at most once a second (``AUDIT_SEAL_INTERVAL_SECONDS``; the tests
seal after every request).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event as sa_event

from corrections.core.db import db
from tests.supervision.conftest import event
from tests.support.alerts import raise_alarm

# The events the ingest bench sends (bench/ingest_events.lua). On PostgreSQL: the token check
# (which brings the person and takes their share lock), the event's INSERT (with its audit row
# and the obligation it fulfils or the hours it adds, in one statement), COMMIT. On SQLite,
# which has no data-modifying CTE, those writes go one by one.
EVENTS = {
    "report": {},
    "phone_check": {"payload": {"success": True}},
    "education": {"payload": {"hours": 0.5, "topic": "法治教育"}},
    "talk": {"note": "个别谈话"},
}
EVENT_BUDGET = {
    "postgresql": {"report": 3, "phone_check": 3, "education": 3, "talk": 3},
    "sqlite": {"report": 5, "phone_check": 5, "education": 7, "talk": 4},
}
# The token check, the count, the page, the page's audit row, COMMIT (the persons' list also
# reads their units).
ALERT_LIST_BUDGET = 5
PERSON_LIST_BUDGET = 6


_SQLITE_HOUSEKEEPING = ("BEGIN IMMEDIATE", "PRAGMA busy_timeout")


@contextlib.contextmanager
def counted(app) -> Iterator[list[str]]:
    """The statements this thread sends while the block runs (the test client serves the
    request in it), and COMMIT."""
    seen: list[str] = []
    thread = threading.get_ident()

    def statement(conn, cursor, text, parameters, context, executemany):
        text = " ".join(text.split())
        if threading.get_ident() == thread and not text.startswith(_SQLITE_HOUSEKEEPING):
            # psycopg sends an executemany as one statement per parameter set, each answer
            # awaited (under gevent each wait yields to the worker's other requests): count
            # each as the round trip it is.
            postgres = conn.dialect.name == "postgresql"
            seen.extend([text] * (len(parameters) if executemany and postgres else 1))

    def commit(conn):
        if threading.get_ident() == thread:
            seen.append("COMMIT")

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", statement)
    sa_event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", statement)
        sa_event.remove(engine, "commit", commit)


@pytest.fixture
def unsealed(app, monkeypatch):
    """The measured requests seal nothing (the fixtures' requests have just sealed)."""
    monkeypatch.setitem(app.config, "AUDIT_SEAL_INTERVAL_SECONDS", 3600)


def _listing(seen: list[str]) -> str:
    return "\n".join(s[:160] for s in seen)


def test_recording_an_event_stays_within_its_statement_budget(app, officer, active, unsealed):
    people = [active(name=n) for n in ("张三", "李四")]
    # The process's first event warms its caches (rules, compiled statements).
    assert event(officer, people[0]["id"], "report").status_code == 201
    with app.app_context():
        dialect = db.engine.dialect.name
    for type_, fields in EVENTS.items():
        with counted(app) as seen:
            resp = event(
                officer, people[1]["id"], type_, headers={"Idempotency-Key": f"k-{type_}"}, **fields
            )
        assert resp.status_code == 201, resp.get_json()
        print(f"\n{dialect} {type_}: {len(seen)} statements\n{_listing(seen)}")
        assert len(seen) <= EVENT_BUDGET[dialect][type_], _listing(seen)
        if dialect == "postgresql":
            # The share lock the event is recorded under came with the token check.
            assert "api_tokens" in seen[0] and "FOR KEY SHARE" in seen[0], seen[0]
            assert not any("FOR KEY SHARE" in s for s in seen[1:]), _listing(seen)


def test_list_requests_stay_within_their_statement_budgets(
    app, login, officer, active, clock, unsealed
):
    people = [active(name=n) for n in ("张三", "李四", "王五")]
    for p in people:
        raise_alarm(app, p["id"], clock.now(), subject_ids=range(1, 4))
    commander = login("commander-dongcheng")
    assert commander.get("/api/v1/alerts").status_code == 200
    with counted(app) as seen:
        resp = commander.get("/api/v1/alerts")
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 9, resp.get_json()
    print(f"\nalerts: {len(seen)} statements\n{_listing(seen)}")
    assert len(seen) <= ALERT_LIST_BUDGET, _listing(seen)
    with counted(app) as seen:
        resp = commander.get("/api/v1/persons")
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 3, resp.get_json()
    print(f"\npersons: {len(seen)} statements\n{_listing(seen)}")
    assert len(seen) <= PERSON_LIST_BUDGET, _listing(seen)
    # One audit row names the page's persons (not a second one for the same response).
    assert sum(s.startswith("INSERT INTO audit_entries") for s in seen) == 1, _listing(seen)
