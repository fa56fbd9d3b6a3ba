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

    for name in ("counter_123.db", "gauge_livesum_123.db", "histogram_9.db"):
        (tmp_path / name).write_bytes(b"x")
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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _served(tmp_path, *extra: str) -> list[str]:
    """The README's serving command (one worker) on a migrated SQLite instance: one request
    with a query string and a Referer that carry personal data; the lines it logged."""
    import http.client
    import time

    env = {
        **os.environ,
        "CORRECTIONS_INSTANCE_PATH": str(tmp_path / "instance"),
        "CORRECTIONS_DATABASE_URL": f"sqlite:///{tmp_path}/served.db",
        "CORRECTIONS_LOG_FORMAT": "json",
    }
    env.pop("CORRECTIONS_TEST_DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert _entrypoint(tmp_path, "migrate", **{k: env[k] for k in (
        "CORRECTIONS_INSTANCE_PATH", "CORRECTIONS_DATABASE_URL")}).returncode == 0  # fmt: skip
    port = _free_port()
    serve_env = {"GUNICORN_WORKERS": "1", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    log = tmp_path / "served.log"

    def get(path: str, headers: dict[str, str] | None = None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path, headers=headers or {})
            return conn.getresponse().status
        finally:
            conn.close()

    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own server, our own arguments
            entrypoint.serve_argv(list(extra), serve_env), env=env, stdout=out, stderr=out
        )
        try:
            for _ in range(600):  # until it answers (a health check: not counted below)
                assert proc.poll() is None, log.read_text()
                try:
                    get("/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            status = get(
                "/api/v1/persons?q=13800138000&id_number=110101199003074518",
                {"Referer": "http://x/?name=zhangsan-secret"},
            )
            assert status == 401
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return log.read_text(encoding="utf-8").splitlines()


def test_served_requests_are_logged_once_without_query_string_or_referer(tmp_path):
    """Hostile review (issue 16): gunicorn's own access log was on (any logging configuration
    turns it on) with the request line and Referer, and every app line was written twice
    (the root logger had gunicorn's handler too). The app's access line (the route only) is
    the one access line, written once."""
    import json

    lines = _served(tmp_path)
    text = "\n".join(lines)
    for secret in ("13800138000", "110101199003074518", "zhangsan-secret", "id_number="):
        assert secret not in text, secret
    records = [json.loads(line) for line in lines]
    assert not [r for r in records if r["logger"] == "gunicorn.access"]
    access = [r for r in records if r["logger"] == "corrections.access"]
    assert [r["route"] for r in access if r["route"] != "/healthz"] == ["/api/v1/persons"]
    assert len(lines) == len(set(lines))  # no line twice
    assert any(r["logger"] == "gunicorn.error" for r in records)


def test_gunicorns_access_log_when_turned_on_shows_no_request_line(tmp_path):
    """An operator who turns it on gets method, status, sizes and times, whatever format
    they ask for: the request line, query string and Referer print as "-"."""
    import json

    lines = _served(
        tmp_path, "--access-logfile", "-", "--access-logformat", "%(r)s %(q)s %(f)s %(s)s"
    )
    text = "\n".join(lines)
    for secret in ("13800138000", "110101199003074518", "zhangsan-secret", "/api/v1/persons?"):
        assert secret not in text, secret
    access = [json.loads(x)["message"] for x in lines if '"gunicorn.access"' in x]
    assert access[-1] == "- - - 401" and all(m.startswith("- - - ") for m in access)


def test_a_metrics_folder_holding_other_files_is_refused_and_left_alone(tmp_path, monkeypatch):
    """Hostile review (issue 16): PROMETHEUS_MULTIPROC_DIR pointed at the instance folder
    deleted the SQLite database (every *.db). Only prometheus_client's files are deleted, and
    a folder holding anything else, or the instance folder, stops the server (exit 2)."""
    import pytest
    from prometheus_client import Gauge

    from corrections import gunicorn_conf

    # Every gauge mode prometheus_client writes a file for is one the start deletes.
    for mode in Gauge._MULTIPROC_MODES:
        assert gunicorn_conf.METRICS_FILE.fullmatch(f"gauge_{mode}_12.db"), mode
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "corrections.db").write_bytes(b"the database")
    (folder / "counter_7.db").write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setenv("CORRECTIONS_LANG", "en")
    with pytest.raises(SystemExit) as stopped:
        gunicorn_conf.on_starting(None)
    assert stopped.value.code == 2
    assert sorted(p.name for p in folder.iterdir()) == ["corrections.db", "counter_7.db"]
    # The instance folder, even empty, is refused.
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("CORRECTIONS_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(instance))
    with pytest.raises(SystemExit):
        gunicorn_conf.on_starting(None)
    # Through gunicorn: one line, exit 2, the database still there.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "CORRECTIONS_LANG": "en"}
    done = subprocess.run(  # noqa: S603 - our own server, our own arguments
        entrypoint.serve_argv([], {"GUNICORN_BIND": f"127.0.0.1:{_free_port()}"}),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "PROMETHEUS_MULTIPROC_DIR" in done.stderr and "corrections.db" in done.stderr
    assert "Traceback" not in done.stderr
    assert (folder / "corrections.db").read_bytes() == b"the database"


def test_the_upgrade_before_serving_writes_its_summary_as_a_log_record(capsys):
    # Under LOG_FORMAT json (the service's log) every line is one JSON object: the operator's
    # summary line of `db upgrade` becomes a record of its own, not a bare line.
    import json
    import sys

    from corrections import entrypoint

    argv = [sys.executable, "-c", "print('数据库已升级到 0020')"]
    entrypoint._migrate_into_the_log(argv, {"CORRECTIONS_LOG_FORMAT": "json"})
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["message"] == "数据库已升级到 0020" and record["level"] == "INFO"
    entrypoint._migrate_into_the_log(argv, {"CORRECTIONS_LOG_FORMAT": "text"})
    assert capsys.readouterr().out.rstrip().endswith("数据库已升级到 0020")
