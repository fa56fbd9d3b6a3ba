"""A low or medium score's reasons are not computed at night (most of the night's work, for
the 95% who are not high: issue 18) but when someone reads the person's score; they are the
reasons the night would have stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from corrections.cli import main
from corrections.core.db import db
from corrections.persons.models import Person
from corrections.risk import features, service
from corrections.risk.models import RiskScore
from tests.conftest import TEST_NOW
from tests.supervision.conftest import event

SCORED_AT = TEST_NOW + timedelta(hours=1)


def test_low_scores_get_their_reasons_when_read_as_the_night_would_have(
    app, runner, models_dir, active, officer, login, run_job
):
    assert runner.invoke(main, ["risk", "activate", "test-model"]).exit_code == 0
    people = [active() for _ in range(4)]
    risky = people[0]
    for days_ago in range(1, 8):
        at = (TEST_NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
        resp = event(
            officer, risky["id"], "phone_check", occurred_at=at, payload={"success": False},
            channel="phone",
        )  # fmt: skip
        assert resp.status_code == 201
    assert run_job("risk_scoring", at=SCORED_AT)["status"] == "succeeded"
    with app.app_context():
        scores = {s.person_id: s for s in db.session.scalars(select(RiskScore)).all()}
        assert scores[risky["id"]].band == "high" and scores[risky["id"]].reasons
        low = [s for s in scores.values() if s.band == "low"]
        assert low and all(s.reasons is None for s in low)
        # Nor a medium score's: the night explains the high band only (issue 18).
        unexplained = [s for s in scores.values() if s.band != "high"]
        assert all(s.reasons is None for s in unexplained)
        # What the night would have stored: every band explained.
        scorer = service.active_scorer(db.session)
        population = select(Person.id.label("person_id")).where(
            Person.id.in_([s.person_id for s in unexplained])
        )
        frame = features.compute(db.session, population, SCORED_AT)
        full = scorer.score(frame)
        expected = dict(zip(frame["person_id"].tolist(), full["reasons"].tolist(), strict=True))
        assert any(expected.values())  # something to compare
        db.session.remove()
    api = login("officer-dongcheng-1")
    for score in unexplained:
        body = api.get(f"/api/v1/persons/{score.person_id}/risk").get_json()
        shown = [(r["feature"], r["effect"]) for r in body["latest"]["reasons"]]
        assert shown == [(r["feature"], r["effect"]) for r in expected[score.person_id]]
        explained = api.get(f"/api/v1/persons/{score.person_id}/risk/explanation").get_json()
        assert [f["feature"] for f in explained["factors"]] == [f for f, _e in shown]
