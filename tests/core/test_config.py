from __future__ import annotations

import pytest

from corrections import create_app
from corrections.config import ConfigError
from corrections.core.rules import RulesError


def _base(tmp_path, **extra):
    return {
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        **extra,
    }


def test_environment_overrides_instance_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("TOKEN_TTL_SECONDS = 60\nLOGIN_WINDOW_SECONDS = 30\n")
    monkeypatch.setenv("CORRECTIONS_TOKEN_TTL_SECONDS", "120")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["TOKEN_TTL_SECONDS"] == 120
    assert app.config["LOGIN_WINDOW_SECONDS"] == 30
    # Without a configured key, one is generated once and kept in the instance folder.
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    again = create_app(
        {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CORRECTIONS_DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 40})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/corrections.db"


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("CORRECTIONS_TOKEN_TTL_SECONDS", "soon", "CORRECTIONS_TOKEN_TTL_SECONDS"),
        ("CORRECTIONS_TOKEN_TTL_SECONDS", "-5", "TOKEN_TTL_SECONDS"),
        ("CORRECTIONS_DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("CORRECTIONS_SECRET_KEY", "short", "SECRET_KEY"),
        ("CORRECTIONS_AUDIT_SEAL_INTERVAL_SECONDS", "-1", "AUDIT_SEAL_INTERVAL_SECONDS"),
    ],
)
def test_bad_configuration_stops_start_up_naming_the_key(
    tmp_path, monkeypatch, env, value, message
):
    monkeypatch.setenv(env, value)
    config = {"INSTANCE_PATH": str(tmp_path)}
    if env != "CORRECTIONS_SECRET_KEY":
        config["SECRET_KEY"] = "k" * 40
    if env != "CORRECTIONS_DATABASE_URL":
        config["DATABASE_URL"] = f"sqlite:///{tmp_path}/x.db"
    with pytest.raises(ConfigError, match=message):
        create_app(config)


def copy_rules(tmp_path):
    """A private copy of the project's rules folder, to break on purpose."""
    import shutil
    from pathlib import Path

    import corrections

    rules_dir = tmp_path / "rules"
    shutil.copytree(Path(corrections.__file__).parent.parent / "rules", rules_dir)
    return rules_dir


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_malformed_rules_file_stops_start_up_naming_file_and_key(tmp_path):
    rules_dir = copy_rules(tmp_path)
    edit(rules_dir / "persons.yaml", "max_months: 36", "max_months: -1")
    with pytest.raises(
        RulesError, match=r"persons\.yaml: categories\.control_order\.term\.max_months"
    ):
        create_app(_base(tmp_path, RULES_DIR=str(rules_dir)))


def test_rules_validate_command(tmp_path, monkeypatch):
    from pathlib import Path

    from click.testing import CliRunner

    import corrections
    from corrections.cli import main

    good = Path(corrections.__file__).parent.parent / "rules" / "persons.yaml"
    runner = CliRunner()
    result = runner.invoke(main, ["rules", "validate", str(good)])
    assert result.exit_code == 0 and "通过  persons.yaml" in result.output
    bad = tmp_path / "persons.yaml"
    bad.write_text(good.read_text().replace("  active: 在矫\n", ""))
    result = runner.invoke(main, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert "persons.yaml: statuses" in result.output and "missing active" in result.output
