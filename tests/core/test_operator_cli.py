"""What a new operator meets at the command line (new-operator review of the wheel install):
a command that cannot start says why in one line, in Chinese, then the English, exit status 2
(the systemd units do not restart on 2), never a traceback; `db upgrade` ends with a line in
the operator's language; the version a command and a backup report is the package's."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

import corrections
from corrections import create_app
from corrections.audit import service as audit
from corrections.cli import _create_app, main
from corrections.config import ConfigError
from corrections.core.auth import SYSTEM
from corrections.core.db import db
from tests.support.empty_database import app_on_empty_database

SECRET = "k" * 40


@pytest.fixture
def settings(monkeypatch, tmp_path):
    """The environment a command reads its settings from, nothing else of corrections."""
    for name in list(os.environ):
        if name.startswith("CORRECTIONS_") and name != "CORRECTIONS_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CORRECTIONS_LANG", "zh")

    def use(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"CORRECTIONS_{key}", value)

    return use


def _command(*args: str):
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=_create_app))


def _database_with_records(tmp_path: Path) -> str:
    """A SQLite database holding an audit row written under instance ``a``'s keyring."""
    url = f"sqlite:///{tmp_path}/shared.db"
    first = create_app(
        {"INSTANCE_PATH": str(tmp_path / "a"), "SECRET_KEY": SECRET, "DATABASE_URL": url}
    )
    with first.app_context():
        db.create_all()
        audit.record(db.session, actor=SYSTEM, action="test.record")
        db.session.commit()
        audit.seal_and_commit(db.session)
        db.session.remove()
        db.engine.dispose()
    return url


def test_a_keyring_that_is_not_the_databases_ends_a_command_in_one_line(settings, tmp_path):
    url = _database_with_records(tmp_path)
    settings(INSTANCE_PATH=str(tmp_path / "b"), DATABASE_URL=url, SECRET_KEY=SECRET)
    result = _command("users", "list")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("错误：密钥与数据库中的数据不符：此密钥环（")
    assert "(the keyring (" in lines[0]  # then the English
    assert not (tmp_path / "b" / "keyring.json").exists()


def test_the_entrypoint_says_the_same_in_chinese_first(tmp_path):
    url = _database_with_records(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRECTIONS_")}
    env.update(
        CORRECTIONS_INSTANCE_PATH=str(tmp_path / "b"),
        CORRECTIONS_DATABASE_URL=url,
        CORRECTIONS_SECRET_KEY=SECRET,
        CORRECTIONS_LANG="zh",
    )
    done = subprocess.run(
        [sys.executable, "-m", "corrections.entrypoint", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("corrections-entrypoint: 密钥与数据库中的数据不符"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_postgresql_url_without_its_driver_says_what_to_install_and_writes_nothing(
    settings, tmp_path, monkeypatch
):
    """New-operator review: ModuleNotFoundError: No module named 'psycopg', after the command
    had written a keyring into the instance folder."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    instance = tmp_path / "instance"
    settings(INSTANCE_PATH=str(instance), DATABASE_URL="postgresql://corrections@db/corrections")
    result = _command("users", "list")
    assert result.exit_code == 2, result.output
    assert "psycopg" in result.output and "pip install 'corrections[postgres]'" in result.output
    assert result.output.startswith("配置无效： DATABASE_URL：PostgreSQL 数据库需要 psycopg 驱动")
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output
    assert not instance.exists()  # no keyring, no secret key
    with pytest.raises(ConfigError):
        create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": "postgresql+psycopg://x@db/x"})
    assert not instance.exists()


def test_an_instance_folder_the_user_cannot_write_says_so_in_one_line(settings, tmp_path):
    """New-operator review: a PermissionError traceback from a command run as another user
    than the service's (or without CORRECTIONS_INSTANCE_PATH: the default folder is in the
    virtualenv, owned by root). /sys refuses a new folder to every user, root too."""
    settings(
        INSTANCE_PATH="/sys/corrections-instance-test",
        DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
    )
    result = _command("users", "list")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("错误：/sys/corrections-instance-test：权限不足；请以服务用户运行")
    assert "CORRECTIONS_INSTANCE_PATH" in line and "PermissionError" not in line


def test_the_folders_the_code_makes_are_private(tmp_path):
    """The instance folder (keyring, secret key, SQLite database) 0700; a folder made above
    it (/var/lib/corrections) 0750, not world-readable."""
    instance = tmp_path / "var" / "lib" / "corrections" / "instance"
    app = create_app({"INSTANCE_PATH": str(instance)})
    with app.app_context():
        db.engine.dispose()
    assert (instance / "keyring.json").exists()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    for folder in (instance.parent, instance.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o007 == 0, folder


def test_the_version_is_the_packages_not_a_literal(monkeypatch, tmp_path):
    import importlib.metadata
    import tomllib

    project = tomllib.loads(corrections.PYPROJECT.read_text(encoding="utf-8"))["project"]
    assert corrections.__version__ == project["version"]  # a source checkout
    result = CliRunner().invoke(main, ["--version"])
    assert result.output == f"corrections {project['version']}\n"
    # Installed from a wheel: no pyproject.toml beside the package, the metadata's version.
    monkeypatch.setattr(corrections, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.3.4")
    assert corrections.__version__ == "2.3.4"
    assert CliRunner().invoke(main, ["--version"]).output == "corrections 2.3.4\n"


@pytest.fixture
def unmigrated_app(tmp_path):
    """An app on a database without any table (tests/support/empty_database.py)."""
    with app_on_empty_database(tmp_path, SECRET_KEY=SECRET) as app:
        yield app


def test_db_upgrade_ends_with_where_the_database_now_is(unmigrated_app, monkeypatch):
    from alembic.script import ScriptDirectory

    monkeypatch.setenv("CORRECTIONS_LANG", "zh")
    with unmigrated_app.app_context():
        head = ScriptDirectory(unmigrated_app.extensions["migrate"].directory).get_current_head()
    info = ScriptInfo(create_app=lambda: unmigrated_app)
    first = CliRunner().invoke(main, ["db", "upgrade"], obj=info)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[-1] == f"数据库已升级到 {head}"
    again = CliRunner().invoke(main, ["db", "upgrade"], obj=info)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == f"已是最新（{head}）"
    monkeypatch.setenv("CORRECTIONS_LANG", "en")
    english = CliRunner().invoke(main, ["db", "upgrade"], obj=info)
    assert english.output.splitlines()[-1] == f"the database is up to date ({head})"


def test_the_settings_example_counts_metrics_over_every_worker_and_lets_logs_choose():
    """New-operator review: with 4 workers /metrics counters went backwards (no
    PROMETHEUS_MULTIPROC_DIR); LOG_FORMAT=json was forced where auto picks JSON anyway; the
    units pointed Documentation= at /opt/corrections/README.md, which no install makes."""
    from corrections.config import SYSTEMD_DIR

    settings = (SYSTEMD_DIR / "corrections.env.example").read_text(encoding="utf-8")
    lines = [line for line in settings.splitlines() if line and not line.startswith("#")]
    assert "PROMETHEUS_MULTIPROC_DIR=/var/lib/corrections/metrics" in lines
    assert not [line for line in lines if line.startswith("CORRECTIONS_LOG_FORMAT=")]
    for unit in SYSTEMD_DIR.glob("*.service"):
        text = unit.read_text(encoding="utf-8")
        assert "Documentation=file:///opt/corrections/README.md" not in text, unit.name
        # The metrics folder is under the one path the units may write.
        assert "ReadWritePaths=/var/lib/corrections" in text


def test_check_warns_about_district_heads_that_are_no_active_district_commander(
    app, city, monkeypatch
):
    """New-operator review: a misspelt name in CORRECTIONS_DISTRICT_HEADS went unnoticed
    until a head's approval of electronic monitoring (社区矫正法 29) was refused."""
    from corrections import entrypoint

    for name in list(os.environ):
        if name.startswith("CORRECTIONS_") and name != "CORRECTIONS_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CORRECTIONS_LANG", "zh")
    monkeypatch.setenv("CORRECTIONS_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("CORRECTIONS_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("CORRECTIONS_SECRET_KEY", app.config["SECRET_KEY"])
    monkeypatch.setenv(
        "CORRECTIONS_DISTRICT_HEADS", "commander-dongcheng,commander-dongchen,officer-dongcheng-1"
    )
    warnings = [w.render("zh") for w in entrypoint._district_head_warnings()]
    assert warnings == [
        "注意：DISTRICT_HEADS 中列有 commander-dongchen：不是在用的指挥账号；"
        "该区（县）的电子定位审批无法由其完成",
        "注意：DISTRICT_HEADS 中列有 officer-dongcheng-1：不是在用的指挥账号；"
        "该区（县）的电子定位审批无法由其完成",
    ]
    monkeypatch.setenv("CORRECTIONS_DISTRICT_HEADS", "commander-dongcheng")
    assert entrypoint._district_head_warnings() == []


def test_a_keyring_this_user_may_not_read_names_the_file_and_the_service_user(
    settings, tmp_path, monkeypatch
):
    """The service's instance folder, a command run as another user: not "unreadable
    keyring ([Errno 13] ...)", but what to do."""
    instance = tmp_path / "instance"
    settings(
        INSTANCE_PATH=str(instance), DATABASE_URL=f"sqlite:///{tmp_path}/x.db", SECRET_KEY=SECRET
    )
    assert _command("users", "list").exit_code == 1  # made the keyring (no tables yet)
    keyring = instance / "keyring.json"
    original = Path.read_text

    def read_text(path, *args, **kwargs):
        if path == keyring:  # as for another user (root reads a 0600 file all the same)
            raise PermissionError(13, "Permission denied", str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    result = _command("users", "list")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"错误：{keyring}：权限不足；请以服务用户运行 corrections")
