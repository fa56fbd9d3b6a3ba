"""Live monitoring of the risk model (模型监测, risk/monitoring.py, issue 19 point 5): the
monthly ``risk_monitoring`` job's realised figures on a generated city whose truth is known,
the population stability index, the thresholds and their one alert, and who sees the
figures."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import func, select

from corrections.alerts.models import Alert
from corrections.audit.models import AuditEntry
from corrections.core.auth import SYSTEM
from corrections.core.clock import BUSINESS_TZ, start_of_business_day
from corrections.core.db import db
from corrections.demo.generator import build_persons
from corrections.demo.models import DemoTruth
from corrections.persons.models import Person
from corrections.risk import features, monitoring
from corrections.risk import service as risk
from corrections.risk.models import RiskModel, RiskMonitoring, RiskScore
from tests.conftest import TEST_NOW
from tests.support.risk_monitoring import RUN_AT, nightly, store

AUGUST = (date(2026, 8, 1), date(2026, 8, 11), date(2026, 8, 21))
LIMITS = {
    "min_positives": 30,
    "auc_drop": 0.05,
    "brier_rise": 0.02,
    "calibration_slope": {"low": 0.8, "high": 1.2},
    "psi": 0.25,
}


def _score_as_of(session, scorer, at: datetime) -> None:
    """What the nightly scoring stored at ``at``: every person active then, scored with the
    active model on the features as of then (the reasons left out: not monitored)."""
    frame = features.compute(session, features.active_at(at), at)
    p = scorer.probability(scorer.prepare(frame))
    store(session, scorer.loaded.version, at, frame["person_id"], p)


# --- population stability -------------------------------------------------------------------


def test_psi_of_two_distributions_is_the_hand_computed_value():
    # (0.4-0.5)*ln(0.4/0.5) + (0.4-0.3)*ln(0.4/0.3) + 0 = 0.0223144 + 0.0287682
    assert monitoring.psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) == pytest.approx(0.0510826, abs=1e-6)
    assert monitoring.psi([0.25] * 4, [0.25] * 4) == 0.0
    # An empty bin counts as 1e-4: (0.5-1e-4)*ln(0.5/1e-4) + (0.5-1)*ln(0.5/1)
    expected = (0.5 - 1e-4) * math.log(0.5 / 1e-4) + (0.5 - 1.0) * math.log(0.5)
    assert monitoring.psi([1e-4, 1.0], [0.5, 0.5]) == pytest.approx(expected)


def test_reference_bins_and_shares_by_hand():
    reference = pd.Series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan, np.nan], dtype="float64")
    bins = monitoring.reference_bins(reference, "numeric")
    assert bins["edges"] == pytest.approx([1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1])
    # one value a bin, and two of twelve missing
    assert bins["shares"] == pytest.approx([1 / 12] * 10 + [2 / 12])
    later = pd.Series([1.0, 1.0, 20.0, np.nan], dtype="float64")
    assert monitoring.shares(later, bins) == pytest.approx([0.5] + [0.0] * 8 + [0.25, 0.25])

    cats = monitoring.reference_bins(pd.Series(["a", "a", "b", None]), "categorical")
    assert cats["categories"] == ["a", "b"] and cats["shares"] == [0.5, 0.25, 0.0, 0.25]
    # a value the reference never had falls in the "other" bin
    assert monitoring.shares(pd.Series(["c", "a"]), cats) == [0.5, 0.0, 0.5, 0.0]


@pytest.mark.parametrize(
    ("figures", "checks"),
    [
        ({"positives": 50, "auc": 0.70, "holdout_auc": 0.77}, ["auc"]),
        ({"positives": 50, "auc": 0.73, "holdout_auc": 0.77}, []),
        ({"positives": 10, "auc": 0.50, "holdout_auc": 0.77}, []),  # too few to tell
        ({"positives": 50, "brier": 0.09, "holdout_brier": 0.06}, ["brier"]),
        ({"positives": 50, "brier": 0.07, "holdout_brier": 0.06}, []),
        ({"positives": 50, "calibration_slope": 0.7}, ["calibration_slope"]),
        ({"positives": 50, "calibration_slope": 1.25}, ["calibration_slope"]),
        ({"positives": 50, "calibration_slope": 1.1}, []),
        ({"positives": 0, "psi": {"grade": 0.3, "term_days": 0.1}}, ["psi:grade"]),
        ({"positives": 0, "psi_score": 0.26}, ["psi:score"]),
    ],
)
def test_thresholds_of_rules_risk_yaml(figures, checks):
    found = monitoring.crossed(figures, LIMITS)
    assert [c["check"] + (f":{c['feature']}" if "feature" in c else "") for c in found] == checks


def test_the_window_is_the_month_four_months_back_and_matured_on_the_first():
    start, end = monitoring.window(RUN_AT)
    assert (start, end) == (
        start_of_business_day(date(2026, 8, 1)),
        start_of_business_day(date(2026, 9, 1)),
    )
    # The shortest case: the 31st of January, 02:00, is 90 days before the 1st of May, 02:00.
    start, end = monitoring.window(datetime(2027, 5, 1, 4, 0, tzinfo=BUSINESS_TZ))
    assert start == start_of_business_day(date(2027, 1, 1))
    assert nightly(date(2027, 1, 31)) + timedelta(days=90) <= datetime(
        2027, 5, 1, 4, 0, tzinfo=BUSINESS_TZ
    )


# --- the acceptance test: the realised AUC against the generator's truth ---------------------


def _truth_outcomes(session, rows: pd.DataFrame) -> np.ndarray:
    """Whether each (person, score time) lost contact within 90 days, from the generator's own
    record of the days each episode began (``demo_truths.episodes``), not from the incidents
    the job reads: an episode on the day of a score or any of the 89 days after (the nightly
    run is at 02:00, an episode begins at 10:00)."""
    episodes = {t.person_id: t.episodes for t in session.scalars(select(DemoTruth)).all()}
    out = []
    for pid, at in zip(rows["person_id"], rows["scored_at"], strict=True):
        first = at.astimezone(BUSINESS_TZ).date().toordinal()
        out.append(any(first <= e < first + 90 for e in episodes.get(int(pid), [])))
    return np.asarray(out, dtype="int64")


def test_the_realised_auc_is_within_0_02_of_the_auc_against_the_generators_truth(
    app, city, run_job, tmp_path, monkeypatch
):
    """A generated city of 3,000 persons (eight months of history) scored by the shipped
    model on three nights of August (about 5,300 scores, some 380 of which lost contact
    within 90 days); the job on the 1st of December checks August.

    "The AUC computed from the truth" is read as the AUC of the same scores against the
    generator's true outcomes: the days it made each person begin to lose contact
    (``demo_truths``), which the job never reads. Its own figure comes from the incidents
    table through the training label's definition (features.positives), per scoring run, for
    the scores whose 90-day window has closed. The two agree when the job takes the right
    scores, the right persons of each run, the right 90 days and the right outcome; no sample
    noise is involved (both are computed from the same realised outcomes), so 0.02 is no luck
    at any sample size. (The other reading, the expected AUC under the true probabilities,
    differs from any realised AUC by sampling noise: with ~130 positives per night its
    standard error is about 0.02, and it takes some 40,000 generated persons to make 0.02
    three standard errors, too slow for a test.)"""
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(tmp_path / "models"))
    with app.app_context():
        build_persons(db.session, count=3000, seed=19, now=TEST_NOW, history_months=8)
        db.session.commit()
        risk.activate_shipped(db.session, actor=SYSTEM, now=TEST_NOW)
        db.session.commit()
        scorer = risk.active_scorer(db.session)
        for day in AUGUST:
            _score_as_of(db.session, scorer, nightly(day))
        # A score of September is not matured on the 1st of December (its window is open):
        # left out, as are scores of July (another month).
        _score_as_of(db.session, scorer, nightly(date(2026, 9, 5)))
        _score_as_of(db.session, scorer, nightly(date(2026, 7, 25)))
        db.session.commit()
        db.session.remove()

    run = run_job("risk_monitoring", at=RUN_AT)
    assert run["status"] == "succeeded", run
    counts = run["counts"]

    with app.app_context():
        check = db.session.scalars(select(RiskMonitoring)).one()
        august = pd.DataFrame(
            db.session.execute(
                select(RiskScore.person_id, RiskScore.scored_at, RiskScore.probability).where(
                    RiskScore.scored_at.in_([nightly(d) for d in AUGUST])
                )
            ).all(),
            columns=["person_id", "scored_at", "probability"],
        )
        truth = _truth_outcomes(db.session, august)
        db.session.remove()

    assert len(august) > 4500 and truth.sum() > 300  # the sample the test claims
    truth_auc = roc_auc_score(truth, august["probability"])
    assert check.month == "2026-12" and check.model_version == risk.DEFAULT_MODEL
    assert check.scores == len(august) == counts["scores"]
    assert check.positives == int(truth.sum()) == counts["positives"]
    assert abs(check.auc - truth_auc) <= 0.02, (check.auc, truth_auc)
    assert 0.6 < check.auc < 0.95  # the shipped model discriminates on this city
    # the other figures are there, and plausible
    assert 0 < check.brier < 0.2 and check.calibration_slope is not None
    assert sum(b["n"] for b in check.calibration_bins) == check.scores
    assert check.holdout_auc == pytest.approx(0.7677283, abs=1e-6)  # the shipped card's
    # drift: the latest run (September) against the first (July): every card feature
    assert check.reference_at == nightly(date(2026, 7, 25))
    assert check.psi_at == nightly(date(2026, 9, 5))
    with app.app_context():
        card = db.session.get(RiskModel, risk.DEFAULT_MODEL).card
        db.session.remove()
    assert set(check.psi) == {f["name"] for f in card["features"]} & set(features.BY_NAME)
    assert len(check.psi) >= 30 and check.psi_score is not None


# --- thresholds, the alert, idempotence, who sees it ---------------------------------------


def _alerts(app) -> list[Alert]:
    with app.app_context():
        rows = db.session.scalars(select(Alert).where(Alert.kind == "model_drift")).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_a_crossed_threshold_raises_exactly_one_alert_and_a_rerun_changes_nothing(
    app, drifted, run_job
):
    run = run_job("risk_monitoring", at=RUN_AT)
    assert run["status"] == "succeeded" and run["counts"]["status"] == "alert", run
    assert run["counts"]["alert_raised"] is True
    (alert,) = _alerts(app)
    assert alert.person_id is None and alert.severity == "warning" and alert.status == "open"
    assert alert.detail["model_version"] == "drift-test" and "score" in alert.detail["checks"]
    with app.app_context():
        check = db.session.scalars(select(RiskMonitoring)).one()
        assert check.status == "alert" and check.alert_id == alert.id
        assert check.psi_score > 0.25
        assert {"check": "psi", "feature": "score"}.items() <= check.crossed[-1].items()
        assert check.scores == 0 and check.auc is None  # nothing scored in August
        db.session.remove()

    # The same month again (a second scheduler, an operator's run-once): nothing new.
    again = run_job("risk_monitoring", at=RUN_AT + timedelta(hours=3))
    assert again["counts"]["done"] is True
    assert len(_alerts(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskMonitoring)) == 1
        db.session.remove()

    # Next month, still drifted: a new row, still the one live alert (named on the row).
    nxt = run_job("risk_monitoring", at=datetime(2027, 1, 1, 4, 0, tzinfo=BUSINESS_TZ))
    assert nxt["counts"]["status"] == "alert" and nxt["counts"]["alert_raised"] is False
    assert len(_alerts(app)) == 1
    with app.app_context():
        rows = db.session.scalars(select(RiskMonitoring).order_by(RiskMonitoring.month)).all()
        assert [r.month for r in rows] == ["2026-12", "2027-01"]
        assert rows[1].alert_id == alert.id
        # the reference is the first row's, not computed again from another run
        assert rows[1].reference == rows[0].reference
        db.session.remove()


def test_without_an_active_model_the_job_checks_nothing(app, city, run_job):
    run = run_job("risk_monitoring", at=RUN_AT)
    assert run["status"] == "succeeded" and run["counts"]["model"] is None
    assert count_monitoring(app) == 0


def count_monitoring(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(RiskMonitoring))
        db.session.remove()
    return n


def test_analysts_and_the_city_read_the_model_health_officers_do_not(app, drifted, run_job, login):
    run_job("risk_monitoring", at=RUN_AT)
    analyst = login("analyst")
    resp = analyst.get("/api/v1/risk/health")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["active_model"] == "drift-test"
    assert body["thresholds"]["psi"] == 0.25
    (check,) = body["checks"]
    assert check["month"] == "2026-12" and check["status"] == "alert"
    assert check["psi_score"] > 0.25 and "grade" in check["psi"]
    # Figures only: no person id, name or office anywhere in the answer.
    text = json.dumps(body, ensure_ascii=False)
    with app.app_context():
        names = db.session.scalars(select(Person.name)).all()
        db.session.remove()
    assert "person_id" not in text and not [n for n in names if n in text]
    assert "reference" not in check  # the bins stay in the database

    assert login("city").get("/api/v1/risk/health").status_code == 200
    assert login("officer-dongcheng-1").get("/api/v1/risk/health").status_code == 403
    assert login("commander-dongcheng").get("/api/v1/risk/health").status_code == 403
    with app.app_context():
        audited = db.session.scalars(
            select(AuditEntry.actor_username).where(AuditEntry.action == "risk.health")
        ).all()
        db.session.remove()
    assert sorted(audited) == ["analyst", "city"]

    # The alert reaches the analysts (and the city), not the officers; persons' alerts never
    # reach the analysts.
    (seen,) = analyst.get("/api/v1/alerts").get_json()["items"]
    assert seen["kind"] == "model_drift" and seen["person_id"] is None
    assert seen["summary_zh"] == "风险模型漂移或性能下降：模型 drift-test，2026-12 月度监测"
    city_kinds = [a["kind"] for a in login("city").get("/api/v1/alerts").get_json()["items"]]
    assert "model_drift" in city_kinds
    officer = login("officer-dongcheng-1").get("/api/v1/alerts").get_json()["items"]
    assert "model_drift" not in [a["kind"] for a in officer]
    alert_id = _alerts(app)[0].id
    resp = analyst.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "已安排复核模型"})
    assert resp.status_code == 200, resp.get_json()
