"""What the risk model's refusals say (a new user's review): a card edited after it was signed
names who signed it and both checksums; the model list never shows what the database recorded
as if it were the file's; commands print ``错误：<why>`` once, never a traceback or a JSON
dict; the nightly job's run record keeps the refusal's reason."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from corrections.cli import main
from corrections.core.db import db
from corrections.risk import service
from corrections.risk.models import RiskScore
from tests.support.risk_models import copy_version, edit_card, read_card


def _risk(runner, *args):
    return runner.invoke(main, ["risk", *args])


def _short(checksum: str) -> str:
    return f"{checksum[:12]}…"


@pytest.fixture
def signed_here_then_edited(app, runner, models_dir):
    """An analyst's unsigned model, signed here after review (``risk sign``: the signature is
    recorded in the database, the card file stays unsigned), then edited on disk with its
    checksum recomputed (AUC claimed 0.99). Returns (version, signed card, edited card)."""
    directory = copy_version(models_dir, "test-model", "analyst-2027.02")
    signed = read_card(directory)
    result = _risk(runner, "sign", "analyst-2027.02", "--by", "reviewer")
    assert result.exit_code == 0, result.output
    edited = edit_card(directory, metrics={**signed["metrics"], "auc": 0.99})
    return "analyst-2027.02", signed, edited


def test_a_card_edited_after_it_was_signed_says_so_not_that_it_is_unsigned(
    runner, signed_here_then_edited
):
    version, signed, edited = signed_here_then_edited
    result = _risk(runner, "activate", version)
    assert result.exit_code == 1
    # Chinese first, then the English in parentheses (core/i18n.py, cli_text).
    assert result.output.startswith(f"错误：{version}：模型卡在cli:reviewer 签署之后被修改过")
    expected = (
        f"({version}: the card changed since cli:reviewer signed it (checksum "
        f"{_short(signed['card_sha256'])}, now {_short(edited['card_sha256'])})"
    )
    assert expected in result.output, result.output
    assert "not signed" not in result.output
    # Said once, without the errors dict after it.
    assert result.output.count("the card changed") == 1 and "{" not in result.output


def test_the_model_list_shows_the_files_values_and_flags_what_was_recorded(
    runner, login, signed_here_then_edited
):
    version, signed, edited = signed_here_then_edited
    body = login("analyst").get("/api/v1/risk/models").get_json()
    model = next(m for m in body["models"] if m["version"] == version)
    # The file's own values, as the file has them ...
    assert model["card_sha256"] == edited["card_sha256"]
    assert model["card"]["metrics"]["auc"] == 0.99
    assert model["signed_by"] is None  # the recorded signature does not cover this card
    # ... and what was signed beside them, never in their place.
    assert model["recorded"] == {
        "sha256": signed["artifact"]["sha256"],
        "card_sha256": signed["card_sha256"],
        "holdout_auc": signed["metrics"]["auc"],
        "signed_by": "cli:reviewer",
    }
    assert model["problem"].startswith("card on disk differs from the one signed by cli:reviewer")
    untouched = next(m for m in body["models"] if m["version"] == "test-model")
    assert untouched["recorded"] is None and untouched["problem"] is None

    listed = _risk(runner, "models").output
    line = next(ln for ln in listed.splitlines() if version in ln)
    assert f"AUC 0.9900 card {edited['card_sha256']} unsigned" in line
    assert (
        f"card on disk differs from the one signed by cli:reviewer (recorded: card "
        f"{_short(signed['card_sha256'])}, hold-out AUC {signed['metrics']['auc']:.4f})"
    ) in line


def test_the_active_models_edited_card_is_listed_as_the_file_has_it(app, runner, login, models_dir):
    assert _risk(runner, "activate", "test-model").exit_code == 0
    before = read_card(models_dir / "test-model")
    edited = edit_card(models_dir / "test-model", metrics={**before["metrics"], "auc": 0.99})
    model = login("analyst").get("/api/v1/risk/models").get_json()["models"][0]
    assert model["version"] == "test-model" and model["active"]
    assert model["card_sha256"] == edited["card_sha256"]
    assert model["card"]["metrics"]["auc"] == 0.99
    assert model["recorded"]["card_sha256"] == before["card_sha256"]
    assert model["recorded"]["holdout_auc"] == before["metrics"]["auc"]
    assert model["problem"].startswith("card on disk differs from the one signed by cli:tests")


@pytest.fixture
def active_then_edited(app, runner, models_dir, active):
    """The active model's card edited on disk after activation; one active person."""
    active()
    assert _risk(runner, "activate", "test-model").exit_code == 0
    service._cache.clear()
    before = read_card(models_dir / "test-model")
    edited = edit_card(models_dir / "test-model", bands={**before["bands"], "high": 0.99})
    why = (
        f"test-model: the card changed since it was activated (checksum "
        f"{_short(before['card_sha256'])}, now {_short(edited['card_sha256'])})"
    )
    yield why
    service._cache.clear()


def test_risk_score_prints_the_refusal_without_a_traceback(app, runner, active_then_edited):
    result = _risk(runner, "score")
    assert result.exit_code == 1
    # One line: the reason in Chinese, then in English (core/i18n.py, cli_text).
    assert result.output.startswith("错误：") and result.output.count("\n") == 1
    assert result.output.endswith(f" ({active_then_edited})\n"), result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RiskScore)) == 0
        db.session.remove()


def test_the_scoring_job_records_why_the_model_was_refused(run_job, active_then_edited):
    run = run_job("risk_scoring")
    assert run["status"] == "failed"
    assert run["error"] == f"ArtifactError: {active_then_edited}"


def test_another_error_of_the_scoring_job_stays_its_class_and_place(
    app, runner, models_dir, active, run_job, monkeypatch
):
    secret = "".join(["李", "四"])  # personal data must not reach the run record

    def broken(session, *, now, batch=None):
        raise ValueError(f"bad row for {secret}")

    monkeypatch.setattr(service, "score_all", broken)
    run = run_job("risk_scoring")
    assert run["status"] == "failed"
    assert run["error"].startswith("ValueError at test_model_messages.py:")
    assert secret not in run["error"]


def test_activation_refusals_are_printed_once(app, runner, models_dir):
    result = _risk(runner, "activate", "test-model", "--force")
    assert result.exit_code == 1
    assert result.output == "错误：使用 --force 须说明理由 (--force needs a reason)\n"

    # A detail with entries that add to it: the detail, then each entry on its own line.
    card = read_card(models_dir / "test-model")
    foreign = copy_version(models_dir, "test-model", "foreign")
    features = [*card["features"], {"name": "shoe_size", "type": "numeric", "typical": 42}]
    edit_card(foreign, features=features)
    assert _risk(runner, "sign", "foreign", "--by", "reviewer").exit_code == 0
    result = _risk(runner, "activate", "foreign")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "错误：模型的特征与本服务计算的特征不一致。 "
        "(The model's features do not match what the service computes.)",
        "  features: shoe_size：不是本服务计算的特征 "
        "(shoe_size: not a feature the service computes)",
    ]
