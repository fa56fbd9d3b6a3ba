"""What an operator with only the installed package meets first (new-user review of the
deployability work): the example settings file and the systemd units come from the package
(``corrections config example``, ``corrections deploy systemd``); help and the version create no
file; a command run before ``corrections db upgrade`` says so in one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import text

from corrections.cli import main
from corrections.config import CONFIG_EXAMPLE, SYSTEMD_DIR
from corrections.core.db import db
from tests.support.empty_database import app_on_empty_database

REPO = Path(__file__).resolve().parents[2]


def _clean_environment(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any corrections setting, the instance folder a
    folder that does not exist yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRECTIONS_")}
    env["CORRECTIONS_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


# --- the example settings file and the units, from the package ----------------------------


def test_config_example_prints_the_example_settings_file_the_package_carries():
    result = CliRunner().invoke(main, ["config", "example"])
    assert result.exit_code == 0, result.output
    assert result.output == (REPO / "instance" / "config.example.py").read_text(encoding="utf-8")
    # In a checkout the package's copy is the repository's file; a wheel carries it under
    # corrections/_data (setup.py), where corrections.config finds it first.
    assert CONFIG_EXAMPLE.name == "config.example.py" and CONFIG_EXAMPLE.is_file()


def test_deploy_systemd_writes_the_units_and_settings_file_for_this_virtualenv(tmp_path):
    out = tmp_path / "units"
    result = CliRunner().invoke(main, ["deploy", "systemd", "--out", str(out), "--venv", "/srv/v"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in SYSTEMD_DIR.iterdir())
    assert written == [
        "corrections-scheduler.service",
        "corrections-web.service",
        "corrections.env.example",
    ]
    web = (out / "corrections-web.service").read_text(encoding="utf-8")
    assert "ExecStart=/srv/v/bin/corrections-entrypoint serve" in web
    assert "/opt/corrections/venv" not in web
    # The settings file will hold the secret key: private from the start.
    assert stat.S_IMODE((out / "corrections.env.example").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "corrections-web.service").stat().st_mode) == 0o644
    # Files already there are not replaced unless asked.
    (out / "corrections-web.service").write_text("edited", encoding="utf-8")
    again = CliRunner().invoke(main, ["deploy", "systemd", "--out", str(out)])
    assert again.exit_code != 0
    assert "--force" in again.output
    assert (out / "corrections-web.service").read_text(encoding="utf-8") == "edited"
    forced = CliRunner().invoke(main, ["deploy", "systemd", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    # Without --venv the units start the virtualenv this command runs from.
    assert f"ExecStart={sys.prefix}/bin/corrections-entrypoint serve" in (
        out / "corrections-web.service"
    ).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "venv",
    [
        "/opt/x\nExecStartPre=/bin/sh -c id\n#",  # hostile review: a line of its own, as root
        "/opt/my venv",
        "opt/venv",
        "/opt/%h/venv",
        "/opt/x\tvenv",
        '/opt/"x"',
    ],
)
def test_deploy_systemd_refuses_a_venv_that_is_not_a_plain_absolute_path(tmp_path, venv):
    out = tmp_path / "units"
    result = CliRunner().invoke(main, ["deploy", "systemd", "--out", str(out), "--venv", venv])
    assert result.exit_code == 2, result.output
    assert "ExecStart=" in result.output and not out.exists()
    printed = CliRunner().invoke(main, ["deploy", "systemd", "--venv", venv])
    assert printed.exit_code == 2 and "ExecStartPre" not in printed.stdout


def test_config_example_out_writes_a_private_file_and_keeps_an_existing_one(tmp_path):
    """A shell's `> config.py` made the file that will hold the secret key 0644 (hostile
    review): --out creates it 0600, and replaces one only with --force."""
    target = tmp_path / "config.py"
    result = CliRunner().invoke(main, ["config", "example", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text(encoding="utf-8") == CONFIG_EXAMPLE.read_text(encoding="utf-8")
    target.write_text("SECRET_KEY = 'mine'\n", encoding="utf-8")
    again = CliRunner().invoke(main, ["config", "example", "--out", str(target)])
    assert again.exit_code == 1 and "--force" in again.output
    assert target.read_text(encoding="utf-8") == "SECRET_KEY = 'mine'\n"
    target.chmod(0o644)
    forced = CliRunner().invoke(main, ["config", "example", "--out", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text(encoding="utf-8") == CONFIG_EXAMPLE.read_text(encoding="utf-8")


def test_deploy_systemd_without_out_prints_every_file():
    result = CliRunner().invoke(main, ["deploy", "systemd", "--venv", "/srv/v"])
    assert result.exit_code == 0, result.output
    for name in ("corrections-web.service", "corrections-scheduler.service"):
        assert f"# ==> {name} <==" in result.output
    assert "CORRECTIONS_SECRET_KEY=" in result.output


# --- help and the version create nothing ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],
        ["--version"],
        ["users", "--help"],
        ["users", "create", "--help"],
        ["db", "upgrade", "--help"],
        ["backup", "restore", "--help"],
        ["config", "example"],
        ["rules", "validate"],
    ],
)
def test_help_the_version_and_the_file_commands_create_no_file(tmp_path, args):
    """New-user review: ``corrections --help`` made the instance folder, a keyring, a secret
    key and a SQLite database."""
    env = _clean_environment(tmp_path)
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "corrections", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # No arguments: the help, with click's usage-error status (2).
    assert done.returncode == (2 if args == [] else 0), done.stderr
    assert not (tmp_path / "instance").exists(), sorted(
        p.name for p in (tmp_path / "instance").iterdir()
    )
    if args == ["--version"]:
        assert done.stdout.startswith("corrections ")
    if args in ([], ["--help"]):
        shown = done.stdout + done.stderr
        for group in ("users", "db", "backup", "config", "deploy", "risk", "persons"):
            assert f"  {group} " in shown


# --- a database that was never migrated ----------------------------------------------------


@pytest.fixture
def empty_app(tmp_path):
    """An app on a database without any table (tests/support/empty_database.py)."""
    with app_on_empty_database(
        tmp_path, TESTING=True, SECRET_KEY="test-secret-key-that-is-long-enough-0123456789"
    ) as app:
        yield app


@pytest.mark.parametrize(
    "args",
    [
        ["users", "list"],
        ["org", "show"],
        ["scheduler", "list"],
        ["risk", "models"],
        ["audit", "verify"],
        ["db", "partitions"],
        ["db", "detach-events", "2020-01"],
    ],
)
def test_a_command_before_db_upgrade_says_so_in_one_line(empty_app, args, monkeypatch):
    monkeypatch.delenv("CORRECTIONS_LANG", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, args, obj=ScriptInfo(create_app=lambda: empty_app))
    assert result.exit_code == 1, result.output
    assert "数据库尚未初始化：请先运行 corrections db upgrade" in result.output
    assert "Traceback" not in result.output
    assert "sqlalchemy" not in result.output.lower()
    assert len(result.output.strip().splitlines()) == 1
    # Asked for English, the same line in English.
    monkeypatch.setenv("CORRECTIONS_LANG", "en")
    english = CliRunner().invoke(main, args, obj=ScriptInfo(create_app=lambda: empty_app))
    assert english.exit_code == 1
    assert "the database is not initialised: run corrections db upgrade first" in english.output


def test_after_db_upgrade_the_same_command_works(empty_app):
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: empty_app)
    upgraded = runner.invoke(main, ["db", "upgrade"], obj=info)
    assert upgraded.exit_code == 0, upgraded.output
    listed = runner.invoke(main, ["users", "list"], obj=info)
    assert listed.exit_code == 0, listed.output
    assert "数据库尚未初始化" not in listed.output


def test_a_migrated_database_missing_a_table_is_named_as_lost_not_uninitialised(
    empty_app, monkeypatch
):
    """Hostile review (issue 16): after DROP TABLE audit_entries, `audit verify` said "run
    db upgrade first", hiding the tampering. "Not initialised" is said of a database without
    any table (no alembic_version); a migrated one lacking a table names it."""
    monkeypatch.setenv("CORRECTIONS_LANG", "zh")
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: empty_app)
    assert runner.invoke(main, ["db", "upgrade"], obj=info).exit_code == 0
    with empty_app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE audit_entries"))
        db.engine.dispose()
    verified = runner.invoke(main, ["audit", "verify"], obj=info)
    assert verified.exit_code == 1, verified.output
    assert "数据库缺少表 audit_entries：数据库可能已损坏或被篡改" in verified.output
    assert "db upgrade" not in verified.output and "Traceback" not in verified.output
    listed = runner.invoke(main, ["users", "list"], obj=info)  # a table that is there
    assert listed.exit_code == 0, listed.output
