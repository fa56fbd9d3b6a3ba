"""Issue 13 finding 10: a commit that fails is a 503 naming the request, logged like every
other failure (no message, no traceback of values), and the client's retry with the same
Idempotency-Key then tells the truth: stored once (201) if the first was lost, the stored
event (200, replayed) if only its acknowledgement was."""

from __future__ import annotations

import logging

import pytest
from flask import has_request_context, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from corrections.supervision.models import SupervisionEvent
from tests.conftest import count_rows
from tests.supervision.conftest import event

SECRET = "张伟 13912345678"  # what a driver's message could quote


@pytest.fixture
def failing_commit(monkeypatch):
    """The next commit of a POST of events raises OperationalError, like a connection lost
    during COMMIT: ``before`` the database committed, or ``after`` it did."""
    real = Session.commit
    armed: dict[str, str] = {}

    def commit(self):
        if armed and has_request_context() and request.path.endswith("/events"):
            when = armed.pop("when")
            if when == "after":
                real(self)
            raise OperationalError("COMMIT", {}, Exception(f"connection lost: {SECRET}"))
        return real(self)

    monkeypatch.setattr(Session, "commit", commit)
    return lambda when: armed.update(when=when)


def _check_503(resp, caplog):
    assert resp.status_code == 503
    assert resp.content_type == "application/problem+json"
    assert int(resp.headers["Retry-After"]) > 0
    body = resp.get_json()
    assert body["type"].endswith("/commit-failed")
    assert body["request_id"] == resp.headers["X-Request-ID"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(body["request_id"] in r.getMessage() for r in logged)
    assert SECRET not in caplog.text and "Traceback" not in caplog.text


def test_finding_10_a_commit_lost_before_the_database_is_503_and_the_retry_stores_once(
    app, officer, active, failing_commit, caplog
):
    person = active()
    headers = {"Idempotency-Key": "tablet-3:2026-11-27:0001"}
    failing_commit("before")
    first = event(officer, person["id"], "report", headers=headers)
    _check_503(first, caplog)
    assert count_rows(app, SupervisionEvent) == 0
    retry = event(officer, person["id"], "report", headers=headers)
    assert retry.status_code == 201, retry.get_json()
    assert "Idempotent-Replayed" not in retry.headers
    assert count_rows(app, SupervisionEvent) == 1


def test_finding_10_a_commit_whose_answer_was_lost_is_503_and_the_retry_finds_the_event(
    app, officer, active, failing_commit, caplog
):
    person = active()
    headers = {"Idempotency-Key": "tablet-3:2026-11-27:0002"}
    failing_commit("after")
    first = event(officer, person["id"], "report", headers=headers)
    _check_503(first, caplog)
    assert count_rows(app, SupervisionEvent) == 1
    retry = event(officer, person["id"], "report", headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert count_rows(app, SupervisionEvent) == 1
    listed = officer.get(f"/api/v1/persons/{person['id']}/events").get_json()["items"]
    assert [e["id"] for e in listed] == [retry.get_json()["id"]]
