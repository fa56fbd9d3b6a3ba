"""corrections-entrypoint: how containers and systemd units start the service (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from corrections import entrypoint


def test_the_serving_command_is_the_readmes_with_the_bind_and_workers_from_the_environment():
    argv = entrypoint.serve_argv(["--access-logfile", "-"], {"GUNICORN_WORKERS": "2"})
    assert argv[0].endswith("gunicorn") and argv[-1] == "corrections.wsgi:app"
    assert argv[argv.index("-w") + 1] == "2" and argv[argv.index("-k") + 1] == "gevent"
    for option in ("--limit-request-line", "--no-control-socket", "--access-logfile"):
        assert option in argv


def test_a_bad_setting_stops_with_one_line_and_exit_2(tmp_path):
    """New-user review: a traceback and exit 1, which systemd restarted for ever; the units
    name 2 in RestartPreventExitStatus."""
    env = {
        **os.environ,
        "CORRECTIONS_INSTANCE_PATH": str(tmp_path),
        "CORRECTIONS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "CORRECTIONS_METRICS_TOKEN": "short",
    }
    env.pop("CORRECTIONS_TEST_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "corrections.entrypoint", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "METRICS_TOKEN" in done.stderr and "Traceback" not in done.stderr
    units = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
    for unit in units.glob("*.service"):
        assert "RestartPreventExitStatus=2 4" in unit.read_text(encoding="utf-8"), unit.name


def test_gunicorns_own_lines_do_not_quote_a_refused_request_line():
    """Hostile review: gunicorn logged "Invalid request ... 'GET /...?name=王秘密&phone=...'"."""
    import logging

    from corrections.gunicorn_conf import RedactRequestLine

    record = logging.LogRecord(
        "gunicorn.error",
        logging.WARNING,
        "",
        0,
        "Invalid request from ip=%s: %s",
        ("10.0.0.1", "Invalid HTTP request line: 'GET /x?name=王秘密&phone=13987654321'"),
        None,
    )
    RedactRequestLine().filter(record)
    assert record.getMessage() == "Invalid request from ip=10.0.0.1: (request line not logged)"


def test_the_metrics_folder_is_emptied_when_the_server_starts(tmp_path, monkeypatch):
    """New-user review: a restarted server summed the old workers' counts into its own."""
    from corrections import gunicorn_conf

    (tmp_path / "counter_123.db").write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    gunicorn_conf.on_starting(None)
    assert list(tmp_path.iterdir()) == []
    assert "python:corrections.gunicorn_conf" in entrypoint.serve_argv([], {})


def _entrypoint(tmp_path, *args, **env_extra):
    env = {
        **os.environ,
        "CORRECTIONS_INSTANCE_PATH": str(tmp_path),
        "CORRECTIONS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        **env_extra,
    }
    env.pop("CORRECTIONS_TEST_DATABASE_URL", None)
    return subprocess.run(  # noqa: S603 - our own module, our own arguments
        [sys.executable, "-m", "corrections.entrypoint", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_says_when_the_schema_is_not_migrated(tmp_path):
    """New-user review: `check` said all was well on an empty database."""
    done = _entrypoint(tmp_path, "check", CORRECTIONS_LANG="zh")
    assert done.returncode == 3 and "migrate" in done.stderr, done.stderr
    # In Chinese, then the English (issue 16 item 7).
    assert done.stderr.startswith("corrections-entrypoint: 数据库尚无表结构"), done.stderr
    assert "请先运行 corrections-entrypoint migrate (the database has no schema yet" in done.stderr
    assert _entrypoint(tmp_path, "migrate").returncode == 0
    done = _entrypoint(tmp_path, "check", CORRECTIONS_LANG="zh")
    assert done.returncode == 0
    assert done.stdout == "corrections-entrypoint: 配置有效，数据库有响应，表结构为最新\n"
    done = _entrypoint(tmp_path, "check", CORRECTIONS_LANG="en")
    assert done.stdout == (
        "corrections-entrypoint: configuration valid, database answers, schema current\n"
    )


def test_the_example_settings_placeholder_secret_is_refused(tmp_path):
    """New-user review: the env example's SECRET_KEY placeholder was accepted."""
    done = _entrypoint(
        tmp_path,
        "check",
        CORRECTIONS_SECRET_KEY="change-me-to-48-random-bytes-in-base64-change-me-now",
    )
    assert done.returncode == 2 and "SECRET_KEY" in done.stderr
