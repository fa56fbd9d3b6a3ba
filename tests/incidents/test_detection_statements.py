"""The lost-contact detection's statements do not grow with the number of persons (issue 18,
point 5): with nothing new to do it reads the persons with misses, their last contacts, the
open episodes and their failed contacts and proposals set-based, not one person at a time
(the run 15 minutes after the first look at 100,000 persons took 153 s, against 90 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from corrections.core.db import db
from tests.supervision.conftest import event
from tests.support.queues import statements

FIRST_LOOK = datetime(2026, 12, 1, 2, tzinfo=UTC)  # the Nov 30 check was missed last night
LOST = datetime(2026, 12, 2, 2, tzinfo=UTC)  # 24 hours on: the unanswered misses are lost


def _city(login, active, run_job, clock, persons: int) -> None:
    """``persons`` who answered their missed check at once (their miss is read at every run,
    and opens nothing), and as many who did not (lost contact, proposals due)."""
    answered = [active()["id"] for _ in range(persons)]
    for _ in range(persons):
        active()
    clock.set(FIRST_LOOK)
    officer = login("officer-dongcheng-1")
    for person_id in answered:
        resp = event(
            officer,
            person_id,
            "phone_check",
            occurred_at="2026-12-01T01:00:00Z",
            payload={"success": True},
        )
        assert resp.status_code == 201, resp.get_json()
    run_job("sweep_obligations", at=FIRST_LOOK)
    assert run_job("detect_lost_contact", at=FIRST_LOOK)["counts"]["opened"] == persons
    run_job("sweep_obligations", at=LOST)
    run = run_job("detect_lost_contact", at=LOST)
    assert run["counts"]["lost_contact"] == persons, run


@pytest.mark.parametrize("persons", [1, 4])
def test_a_detection_with_nothing_new_to_do_sends_the_same_statements_for_any_number_of_persons(
    app, login, active, run_job, clock, persons
):
    _city(login, active, run_job, clock, persons)
    later = LOST + timedelta(minutes=15)
    with statements(app, selects_only=False) as seen:
        run = run_job("detect_lost_contact", at=later)
    assert run["status"] == "succeeded", run
    assert run["counts"] == {"opened": 0, "lost_contact": 0, "closed": 0, "proposals": 0}
    # The lease's and the run record's statements, then the detection's: the same for one
    # person and for four (before: each person's last contact, three statements, and per
    # open episode a savepoint, its failed contacts and its proposals again).
    assert len(seen) == NOTHING_TO_DO, "\n".join(seen)


# The same on SQLite and PostgreSQL.
NOTHING_TO_DO = 29


def _step_fails_for(monkeypatch, person_id: int):
    """Make the lost-contact step of ``person_id`` (the grade's move) fail with ValueError;
    returns the real function, to put back."""
    from corrections.grading import service as grading

    real = grading.apply_event_kind

    def broken(session, *, person, **kwargs):
        if person.id == person_id:
            raise ValueError("bad data")
        return real(session, person=person, **kwargs)

    monkeypatch.setattr(grading, "apply_event_kind", broken)
    return real


def test_one_persons_failure_in_a_batch_is_their_error_and_the_others_are_marked(
    app, login, active, run_job, clock, monkeypatch
):
    """The episodes go lost contact in batches, each in one savepoint: a batch in which one
    person's step fails is done again one person at a time, so only that person is left."""
    from corrections.grading import service as grading

    first, second, third = (active()["id"] for _ in range(3))
    run_job("sweep_obligations", at=FIRST_LOOK)
    assert run_job("detect_lost_contact", at=FIRST_LOOK)["counts"]["opened"] == 3
    real = _step_fails_for(monkeypatch, second)
    run_job("sweep_obligations", at=LOST)
    run = run_job("detect_lost_contact", at=LOST)
    assert run["status"] == "partial" and run["errors"] == {str(second): "ValueError"}
    assert run["counts"]["lost_contact"] == 2
    clock.set(LOST)
    commander = login("commander-dongcheng")
    for person_id, status in ((first, "lost_contact"), (second, "active"), (third, "lost_contact")):
        assert commander.get(f"/api/v1/persons/{person_id}").get_json()["status"] == status
        alerts = commander.get(
            "/api/v1/alerts", query_string={"kind": "lost_contact", "person_id": person_id}
        ).get_json()["items"]
        assert len(alerts) == (status == "lost_contact"), (person_id, alerts)
    monkeypatch.setattr(grading, "apply_event_kind", real)
    again = run_job("detect_lost_contact", at=LOST + timedelta(minutes=15))
    assert again["status"] == "succeeded" and again["counts"]["lost_contact"] == 1


def test_a_backlog_goes_lost_contact_over_several_runs_the_longest_overdue_first(
    app, login, active, run_job, clock, monkeypatch
):
    """At most LOST_CONTACT_MAX_PER_RUN episodes go lost contact in one run (a first run on
    an imported caseload marked 11,781 persons at once, three minutes against the run's 90 s:
    issue 18); the rest are the next runs', in the order they became overdue."""
    from sqlalchemy import select

    from corrections.incidents.models import Incident

    persons = [active()["id"] for _ in range(3)]
    run_job("sweep_obligations", at=FIRST_LOOK)
    assert run_job("detect_lost_contact", at=FIRST_LOOK)["counts"]["opened"] == 3
    monkeypatch.setitem(app.config, "LOST_CONTACT_MAX_PER_RUN", 2)
    run_job("sweep_obligations", at=LOST)
    first = run_job("detect_lost_contact", at=LOST)
    assert first["status"] == "succeeded", first
    assert first["counts"]["lost_contact"] == 2
    assert first["counts"]["lost_contact_deferred"] == 1
    with app.app_context():
        lost = db.session.scalars(
            select(Incident.person_id).where(Incident.state == "lost_contact")
        ).all()
        db.session.remove()
    assert sorted(lost) == persons[:2]  # overdue at the same time: the older episodes first
    second = run_job("detect_lost_contact", at=LOST + timedelta(minutes=15))
    assert second["counts"]["lost_contact"] == 1
    assert "lost_contact_deferred" not in second["counts"]


def test_an_episode_that_fails_every_run_holds_no_place_under_the_cap(
    app, login, active, run_job, clock, monkeypatch
):
    """With a cap of one, a person whose step fails at every run (their error recorded) does
    not keep the others behind them overdue for ever (hostile review): only the episodes
    moved count against LOST_CONTACT_MAX_PER_RUN."""
    first, second = (active()["id"] for _ in range(2))
    run_job("sweep_obligations", at=FIRST_LOOK)
    assert run_job("detect_lost_contact", at=FIRST_LOOK)["counts"]["opened"] == 2
    _step_fails_for(monkeypatch, first)
    monkeypatch.setitem(app.config, "LOST_CONTACT_MAX_PER_RUN", 1)
    run_job("sweep_obligations", at=LOST)
    run = run_job("detect_lost_contact", at=LOST)
    assert run["errors"] == {str(first): "ValueError"}
    assert run["counts"]["lost_contact"] == 1  # the second, although the first came first
    assert "lost_contact_deferred" not in run["counts"]
    from sqlalchemy import select

    from corrections.incidents.models import Incident

    with app.app_context():
        states = dict(db.session.execute(select(Incident.person_id, Incident.state)).all())
        db.session.remove()
    assert states == {first: "overdue", second: "lost_contact"}
