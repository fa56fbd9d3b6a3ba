"""A bad setting stops the command or the server with one message naming the key, not a
41-line traceback (a new user's review): ``corrections`` exits 2, the WSGI module (and so
gunicorn, which then stops instead of starting workers again and again) exits 4."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any CORRECTIONS_* setting, then ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRECTIONS_")}
    env.update(
        CORRECTIONS_INSTANCE_PATH=str(tmp_path),
        CORRECTIONS_DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
        **{f"CORRECTIONS_{key}": value for key, value in settings.items()},
    )
    return env


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"LOGIN_WINDOW_SECONDS": "-5"},
            "invalid configuration:\n  LOGIN_WINDOW_SECONDS: must be a positive whole number, "
            "got -5\n",
        ),
        (
            # Below the 12 months of events the public statistics read (hostile review).
            {"EVENT_RETENTION_MONTHS": "1"},
            "invalid configuration:\n  EVENT_RETENTION_MONTHS: at least 13 (the statistics "
            "read 12 months of events), got 1\n",
        ),
        (
            {"TOKEN_TTL_SECONDS": "soon"},
            "invalid configuration: CORRECTIONS_TOKEN_TTL_SECONDS: expected a whole number, "
            "got 'soon'\n",
        ),
    ],
)
def test_the_cli_prints_the_bad_setting_and_exits_2(tmp_path, setting, message):
    done = subprocess.run(
        [sys.executable, "-m", "corrections", "users", "list"],
        env=_env(tmp_path, LANG="en", **setting),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == message
    assert done.stdout == ""


def test_the_cli_names_the_bad_setting_in_chinese_by_default(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "corrections", "users", "list"],
        env=_env(tmp_path, LANG="zh", LOGIN_WINDOW_SECONDS="-5"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "配置无效：\n  LOGIN_WINDOW_SECONDS：须为正整数，实际为 -5 (LOGIN_WINDOW_SECONDS: must be "
        "a positive whole number, got -5)\n"
    )


def test_the_wsgi_module_prints_the_bad_setting_and_exits_4(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import corrections.wsgi"],
        env=_env(tmp_path, LANG="en", HEALTHZ_TIMEOUT_SECONDS="0"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stderr
    assert done.stderr == (
        "invalid configuration:\n  HEALTHZ_TIMEOUT_SECONDS: must be a positive whole number, "
        "got 0\n"
    )


def test_gunicorn_stops_on_a_bad_setting_instead_of_restarting_workers(tmp_path):
    done = subprocess.run(  # noqa: S603 - our own server, our own arguments
        [str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:0", "corrections.wsgi:app"],
        env=_env(tmp_path, LANG="en", MAX_URL_BYTES="many"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Exit 4, "App failed to load" (or 1: gunicorn 27's master, reaping both workers at once,
    # can raise its own HaltServer twice and print that traceback; it stops all the same).
    assert done.returncode in (4, 1), done.stderr
    assert "App failed to load" in done.stderr
    # One line per worker that booted (no worker started again), and none of our frames.
    lines = done.stderr.count("invalid configuration: CORRECTIONS_MAX_URL_BYTES")
    assert 1 <= lines <= 2, done.stderr
    assert "/corrections/" not in done.stderr and "ConfigError" not in done.stderr
