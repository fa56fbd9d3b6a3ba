"""rules/grading.yaml and rules/assessment.yaml: validated at start-up, numbers drive the API."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from corrections import create_app
from corrections.cli import main
from corrections.core.rules import RulesError
from tests.conftest import DEMO_PASSWORD
from tests.core.test_config import copy_rules, edit


@pytest.fixture
def make_app(app):
    """Second apps on the same database; their connections are closed afterwards."""
    made = []

    def _make(tmp_path, rules_dir):
        other = _app(app, tmp_path, rules_dir)
        made.append(other)
        return other

    yield _make
    from corrections.core.db import db

    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _app(app, tmp_path, rules_dir):
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": app.config["DATABASE_URL"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            # The same database, so the same keyring (its identity fields are encrypted).
            "KEYRING_PATH": app.config["KEYRING_PATH"],
            "CLOCK": app.extensions["corrections.clock"],
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_KIB": 8,
            "RULES_DIR": str(rules_dir),
        }
    )


def test_changing_a_number_changes_what_the_api_returns(app, make_app, tmp_path, officer, intake):
    from tests.grading.test_decisions import set_grade

    person = intake(officer)
    set_grade(app, person["id"], "ordinary")
    before = officer.get(f"/api/v1/persons/{person['id']}/grade").get_json()
    assert before["requirements"]["report_interval_days"] == 30
    rules_dir = copy_rules(tmp_path)
    path = rules_dir / "grading.yaml"
    text = path.read_text(encoding="utf-8")
    # The report interval of 普通 (ordinary), and a new version for the changed rules.
    ordinary = text.index("- id: ordinary")
    text = text[:ordinary] + text[ordinary:].replace(
        "report_interval_days: 30", "report_interval_days: 21", 1
    )
    path.write_text(
        text.replace('version: "grading-2026.2"', 'version: "grading-2026.3"'), encoding="utf-8"
    )
    changed = make_app(tmp_path, rules_dir)
    client = changed.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "officer-dongcheng-1", "password": DEMO_PASSWORD}
    ).get_json()["access_token"]
    after = client.get(
        f"/api/v1/persons/{person['id']}/grade", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert after["requirements"]["report_interval_days"] == 21
    assert after["rules_version"] == "grading-2026.3+assessment-2026.1"


def test_a_used_version_cannot_silently_change(app, tmp_path, officer, intake):
    intake(officer)  # records decisions under grading-2026.2
    rules_dir = copy_rules(tmp_path)
    edit(rules_dir / "grading.yaml", "report_interval_days: 7", "report_interval_days: 5")
    with pytest.raises(
        RulesError,
        match=r"grading\.yaml: version: 'grading-2026\.2' was "
        r"already used for different rules",
    ):
        _app(app, tmp_path, rules_dir)


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "grading.yaml",
            "at_least: strict",
            "at_least: severe",
            r"grading\.yaml: stricter\.1\.at_least: unknown grade severe",
        ),
        (
            "grading.yaml",
            "report_interval_days: 14",
            "report_interval_days: -14",
            r"grading\.yaml: grades\.1\.requirements\.report_interval_days",
        ),
        (
            "grading.yaml",
            "    grade: tight",
            "    grade: medium",
            r"grading\.yaml: intake\.rules\.2\.grade: unknown grade medium",
        ),
        (
            "grading.yaml",
            "level: lenient\n",
            "level: relaxed_level\n",
            r"grading\.yaml: grades\.3\.level: unknown level relaxed_level",
        ),
        ("grading.yaml", "  - id: tight", "  - id: strict", r"grading\.yaml: grades\.1\.id"),
        ("assessment.yaml", "min_score: 60", "min_score: 95", r"assessment\.yaml: ratings"),
        (
            "sanctions.yaml",
            "code: warning.other_serious",
            "code: warning.absent_long",
            r"sanctions\.yaml: officer_grounds\.warning\.5: codes are unique",
        ),
        (
            "sanctions.yaml",
            '刑法 77 ¶2", for: [suspended_sentence]}',
            '刑法 77 ¶2", for: [temporary_outside_custody]}',
            r"sanctions\.yaml: officer_grounds\.revocation\.0: revocation is the top step of",
        ),
        (
            "assessment.yaml",
            'version: "assessment-2026.1"',
            'version: "grading-2026.2"',
            r"version: 'grading-2026\.2' duplicates the version of",
        ),
    ],
)
def test_malformed_rules_stop_start_up_naming_file_and_key(app, tmp_path, file, old, new, message):
    rules_dir = copy_rules(tmp_path)
    edit(rules_dir / file, old, new)
    with pytest.raises(RulesError, match=message):
        _app(app, tmp_path, rules_dir)


def test_rules_commands(tmp_path, monkeypatch):
    runner = CliRunner()
    ok = runner.invoke(main, ["rules", "validate"])
    assert ok.exit_code == 0, ok.output
    assert "通过  grading.yaml（版本 grading-2026.2）" in ok.output  # ok
    shown = runner.invoke(main, ["rules", "show"])
    assert shown.exit_code == 0, shown.output
    assert "ordinary 普通" in shown.output and "严管" in shown.output
    assert "stricter_warning_strict" in shown.output
    rules_dir = copy_rules(tmp_path)
    edit(rules_dir / "grading.yaml", "at_least: tight", "at_least: nowhere")
    bad = runner.invoke(main, ["rules", "validate", str(rules_dir / "grading.yaml")])
    assert bad.exit_code == 1
    assert "grading.yaml: stricter.0.at_least: unknown grade nowhere" in bad.output
    monkeypatch.setenv("CORRECTIONS_RULES_DIR", str(rules_dir))
    assert runner.invoke(main, ["rules", "show"]).exit_code != 0
