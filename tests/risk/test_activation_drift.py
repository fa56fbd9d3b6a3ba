"""Replacing the model resolves its live drift alert (hostile review): the new model is
checked afresh, and its own crossings are not hidden behind the old model's live alert."""

from __future__ import annotations

from sqlalchemy import select

from corrections.alerts import service as alerts
from corrections.alerts.models import Alert
from corrections.cli import main
from corrections.core.db import db
from corrections.risk import monitoring
from tests.conftest import TEST_NOW
from tests.support.risk_models import copy_version, sign_in_place


def test_activating_another_model_resolves_the_drift_alert(app, runner, models_dir):
    assert runner.invoke(main, ["risk", "activate", "test-model"]).exit_code == 0
    with app.app_context():
        alert_id = alerts.raise_one(
            db.session, person_id=None, kind=monitoring.ALERT_KIND,
            subject_type=monitoring.SUBJECT_TYPE, subject_id=monitoring.SUBJECT_ID,
            detail={"model_version": "test-model"}, now=TEST_NOW,
        )  # fmt: skip
        db.session.commit()
        db.session.remove()
    copy_version(models_dir, "test-model", "test-model-2")
    sign_in_place(app, models_dir / "test-model-2")
    # Re-activating the same model leaves the alert alone.
    assert runner.invoke(main, ["risk", "activate", "test-model"]).exit_code == 0
    with app.app_context():
        assert db.session.get(Alert, alert_id).status == "open"
        db.session.remove()
    done = runner.invoke(
        main, ["risk", "activate", "test-model-2", "--force", "--reason", "复核后更换"]
    )
    assert done.exit_code == 0, done.output
    with app.app_context():
        alert = db.session.scalar(select(Alert).where(Alert.id == alert_id))
        assert (alert.status, alert.closed_by) == ("resolved", "system")
        assert "test-model-2" in alert.close_note
        db.session.remove()
