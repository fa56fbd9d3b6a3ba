"""Which model files and cards the service trusts (issue 13, findings 1 and 12): only the exact
types our training writes, only cards this instance signed, and no server paths in the list."""

from __future__ import annotations

import functools
import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sqlalchemy import select
from threadpoolctl import threadpool_limits

from corrections.audit.models import AuditEntry
from corrections.cli import main
from corrections.core import keys
from corrections.core.auth import SYSTEM
from corrections.core.db import db
from corrections.core.errors import NotFound
from corrections.demo.cli import _activate_default_model
from corrections.risk import allowlist, artifact, service, signing
from corrections.risk.models import RiskModel
from tests.conftest import TEST_NOW
from tests.risk.conftest import synthetic_table
from tests.support.risk_models import copy_version, edit_card, read_card, sign_in_place

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
LEASE = timedelta(seconds=90)


def _activate(runner, version, *extra):
    return runner.invoke(main, ["risk", "activate", version, *extra])


def _active_versions(app) -> list[str]:
    with app.app_context():
        versions = list(
            db.session.scalars(select(RiskModel.version).where(RiskModel.active.is_(True)))
        )
        db.session.remove()
    return versions


def _savetxt_model(target: Path) -> Pipeline:
    """A 'model' whose predict_proba writes ``target`` through ``numpy.savetxt`` (fitted step
    by step, so building it writes nothing)."""
    write = FunctionTransformer(func=functools.partial(np.savetxt, str(target)))
    write.fit(np.zeros((4, 2)))
    model = LogisticRegression().fit(np.array([[0, 1], [1, 0], [0, 0], [1, 1]]), [0, 1, 0, 1])
    return Pipeline([("write", write), ("model", model)])


def test_finding_1_a_file_holding_a_callable_off_the_allow_list_is_refused_before_it_runs(
    app, runner, models_dir, active, run_job, tmp_path, monkeypatch
):
    """A file holding ``numpy.savetxt`` (a NumPy name, not one our training writes), with a
    card that claims AUC 0.99 and is even validly signed: refused at activation, at
    prediction and by the loader, and nothing in it is ever built (the file it would write
    is never written)."""
    target = tmp_path / "instance" / "config.py"
    target.parent.mkdir()
    evil = copy_version(models_dir, "test-model", "evil")
    sio.dump(_savetxt_model(target), evil / artifact.MODEL_FILE)
    card = read_card(evil)
    edit_card(
        evil,
        artifact={
            "file": artifact.MODEL_FILE,
            "sha256": artifact.sha256_file(evil / "model.skops"),
        },
        metrics={**card["metrics"], "auc": 0.99},
    )
    sign_in_place(app, evil)
    built = []
    monkeypatch.setattr(sio, "loads", lambda *a, **kw: built.append(a) or pytest.fail("built"))
    monkeypatch.setattr(sio, "load", lambda *a, **kw: built.append(a) or pytest.fail("built"))

    result = _activate(runner, "evil")
    assert result.exit_code != 0
    assert "numpy.savetxt" in result.output and "never writes" in result.output
    with pytest.raises(artifact.ArtifactError, match=r"numpy\.savetxt"):
        artifact.load(evil)
    table = tmp_path / "in.csv"
    table.write_text("a\n1\n")
    result = runner.invoke(
        main,
        [
            "risk",
            "predict",
            "--model",
            str(evil),
            "--table",
            str(table),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code != 0 and "numpy.savetxt" in result.output
    active()
    assert run_job("risk_scoring")["counts"]["scored"] == 0  # no model was activated
    assert _active_versions(app) == []
    assert built == [] and not target.exists()


def test_finding_1_a_bare_function_file_is_refused(models_dir):
    evil = copy_version(models_dir, "test-model", "bare")
    sio.dump(np.savetxt, evil / artifact.MODEL_FILE)
    edit_card(
        evil,
        artifact={
            "file": artifact.MODEL_FILE,
            "sha256": artifact.sha256_file(evil / "model.skops"),
        },
    )
    with pytest.raises(artifact.ArtifactError, match=r"numpy\.savetxt"):
        artifact.check(evil)


def test_finding_1_a_forged_card_is_refused(app, runner, models_dir):
    """Checksum recomputed, AUC claimed 0.99: a checksum is no signature."""
    forged = copy_version(models_dir, "test-model", "forged")
    card = read_card(forged)
    edit_card(forged, metrics={**card["metrics"], "auc": 0.99})
    result = _activate(runner, "forged")
    assert result.exit_code != 0 and "not signed" in result.output

    # the original's signature copied over: it signs another card
    signed = read_card(models_dir / "test-model")["signature"]
    edit_card(forged, signature=signed)
    result = _activate(runner, "forged")
    assert result.exit_code != 0 and "signature does not match" in result.output

    # signed with another instance's key (same key id, another key)
    sign_in_place(app, forged, keyring=keys.new_keyring())
    result = _activate(runner, "forged")
    assert result.exit_code != 0 and "signature does not match" in result.output

    # a malformed signature
    edit_card(forged, signature={"key_id": "audit-1"})
    result = _activate(runner, "forged")
    assert result.exit_code != 0 and "malformed" in result.output
    assert _active_versions(app) == []

    # the genuine card, signed by this instance's training, activates
    assert _activate(runner, "test-model").exit_code == 0
    assert _active_versions(app) == ["test-model"]


def test_finding_1_a_card_edited_after_activation_stops_the_scoring(
    app, runner, models_dir, active, run_job
):
    active()
    assert _activate(runner, "test-model").exit_code == 0
    service._cache.clear()
    card = read_card(models_dir / "test-model")
    edit_card(models_dir / "test-model", bands={**card["bands"], "high": 0.99})
    assert run_job("risk_scoring")["status"] == "failed"
    _assert_scorer_refused(app, "card changed since it was activated")
    # and a forged signature in the database is not the instance's either
    edit_card(models_dir / "test-model", bands=card["bands"])  # back as it was
    with app.app_context():
        row = db.session.get(RiskModel, "test-model")
        row.card = {**row.card, "signature": {**row.card["signature"], "hmac": "0" * 64}}
        db.session.commit()
        db.session.remove()
    service._cache.clear()
    assert run_job("risk_scoring")["status"] == "failed"
    _assert_scorer_refused(app, "signature does not match")


def _assert_scorer_refused(app, why: str) -> None:
    with app.app_context():
        with pytest.raises(artifact.ArtifactError, match=why):
            service.active_scorer(db.session)
        db.session.remove()


def test_finding_1_a_model_from_elsewhere_is_activated_after_review_and_signing(
    app, runner, models_dir
):
    """An analyst's model (unsigned, or signed on their own machine) is refused until a
    reviewer signs it here; the signature is recorded and audited; the files stay as they
    are; a card changed after signing is refused again."""
    theirs = copy_version(models_dir, "test-model", "analyst-2027.01")
    sign_in_place(app, theirs, keyring=keys.new_keyring())  # their workstation's key
    before = (theirs / artifact.CARD_FILE).read_bytes()
    assert _activate(runner, "analyst-2027.01").exit_code != 0

    card = read_card(theirs)
    wrong = runner.invoke(
        main, ["risk", "sign", "analyst-2027.01", "--by", "reviewer", "--card-sha256", "ab" * 32]
    )
    assert wrong.exit_code != 0 and "not the" in wrong.output
    result = runner.invoke(
        main,
        [
            "risk",
            "sign",
            "analyst-2027.01",
            "--by",
            "reviewer",
            "--card-sha256",
            card["card_sha256"],
        ],
    )
    assert result.exit_code == 0, result.output
    assert (theirs / artifact.CARD_FILE).read_bytes() == before
    assert _activate(runner, "analyst-2027.01").exit_code == 0
    with app.app_context():
        row = db.session.get(RiskModel, "analyst-2027.01")
        assert row.active and row.card["signature"]["signed_by"] == "cli:reviewer"
        actions = list(
            db.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_id == "analyst-2027.01")
                .order_by(AuditEntry.id)
            )
        )
        assert actions == ["risk.model.sign", "risk.model.activate"]
        db.session.remove()

    # changed after it was signed: the recorded signature no longer covers it
    assert _activate(runner, "test-model").exit_code == 0
    edit_card(theirs, metrics={**card["metrics"], "auc": 0.99})
    result = _activate(runner, "analyst-2027.01")
    assert result.exit_code != 0
    assert "the card changed since cli:reviewer signed it" in result.output


def test_finding_1_the_demo_signs_the_shipped_default_model_and_no_other(
    app, city, tmp_path, monkeypatch, capsys
):
    """``corrections demo`` signs the default model only if its card is the one reviewed in
    the repository (its checksum pinned in the code), then activates it."""
    # a forged copy under the default model's name (the real model file, a card claiming
    # AUC 0.99 with its checksum recomputed): not signed, so not activated
    fake = tmp_path / "models" / service.DEFAULT_MODEL
    fake.mkdir(parents=True)
    (fake / artifact.MODEL_FILE).symlink_to(REPO_MODELS / service.DEFAULT_MODEL / "model.skops")
    shutil.copy(REPO_MODELS / service.DEFAULT_MODEL / artifact.CARD_FILE, fake)
    card = read_card(fake)
    edit_card(fake, metrics={**card["metrics"], "auc": 0.99})
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(fake.parent))
    with app.app_context():
        _activate_default_model(LEASE)
        db.session.remove()
    assert "refusing to sign it" in capsys.readouterr().out
    assert _active_versions(app) == []

    # the shipped one, files untouched
    monkeypatch.setitem(app.config, "RISK_MODELS_DIR", str(REPO_MODELS))
    with app.app_context():
        _activate_default_model(LEASE)
        db.session.remove()
    assert f"risk model {service.DEFAULT_MODEL} active" in capsys.readouterr().out
    assert _active_versions(app) == [service.DEFAULT_MODEL]
    shipped = read_card(REPO_MODELS / service.DEFAULT_MODEL)
    assert "signature" not in shipped
    assert artifact.card_checksum(shipped) == service.DEFAULT_MODEL_CARD_SHA256


def test_finding_1_risk_train_signs_the_card_it_writes(app, runner, tmp_path):
    table = tmp_path / "small.csv"
    synthetic_table(600).to_csv(table, index=False)
    out = tmp_path / "trained-here"
    args = ["risk", "train", "--table", str(table), "--label", "lost_contact_90d"]
    args += ["--drop", "subject", "--group", "gender_group", "--time-column", "as_of"]
    with threadpool_limits(1):
        result = runner.invoke(main, [*args, "--out", str(out), "--by", "analyst"])
        assert result.exit_code == 0, result.output
        unsigned = runner.invoke(main, [*args, "--out", str(tmp_path / "elsewhere"), "--no-sign"])
        assert unsigned.exit_code == 0, unsigned.output
    card = read_card(out)
    assert card["signature"]["signed_by"] == "cli:analyst"
    with app.app_context():
        signing.verify(card, card["signature"], keyring=keys.current())  # raises if not
    assert "signature" not in read_card(tmp_path / "elsewhere")


def test_finding_1_the_allow_list_is_exact_and_covers_our_models(_trained):
    trusted = allowlist.trusted()
    assert not any(t.endswith((".", "*")) for t in trusted)
    assert "numpy.savetxt" not in trusted and "builtins.eval" not in trusted
    for model in (_trained.directory, REPO_MODELS / service.DEFAULT_MODEL):
        named = allowlist.types_in(model / artifact.MODEL_FILE)
        assert named <= trusted, named - trusted
        assert set(sio.get_untrusted_types(file=model / artifact.MODEL_FILE)) <= trusted


def test_finding_1_the_checked_in_allow_list_is_what_training_writes():
    """``corrections risk trusted-types`` regenerated: the same list (a new scikit-learn or
    skops, or a new candidate model, shows up here as a diff to review)."""
    with threadpool_limits(1):  # small tables: threads cost more than they bring
        assert allowlist.generate(rows=400) == sorted(allowlist.trusted())


def test_finding_12_risk_models_shows_no_server_paths(app, runner, models_dir, login):
    assert _activate(runner, "test-model").exit_code == 0
    broken = models_dir / "broken"
    broken.mkdir()
    (broken / artifact.CARD_FILE).write_text("{not json")
    resp = login("analyst").get("/api/v1/risk/models")
    assert resp.status_code == 200
    body = resp.get_json()
    text = json.dumps(body, ensure_ascii=False)
    assert str(models_dir) not in text and str(models_dir.parent) not in text
    models = {m["version"]: m for m in body["models"]}
    assert models["broken"]["problem"].startswith("broken/card.json: not a valid card")
    assert models["test-model"]["signed_by"] == "cli:tests"
    listed = runner.invoke(main, ["risk", "models"]).output
    checksum = read_card(models_dir / "test-model")["card_sha256"]
    assert f"card {checksum} signed by cli:tests" in listed
    assert str(models_dir) not in listed and "broken/card.json: not a valid card" in listed
    # nor does a refusal of the service name the directory
    with app.app_context():
        with pytest.raises(NotFound) as refused:
            service.activate(db.session, actor=SYSTEM, version="nope", now=TEST_NOW)
        assert str(models_dir) not in str(refused.value.detail)
        db.session.remove()
