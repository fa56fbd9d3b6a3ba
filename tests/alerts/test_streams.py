"""The live alert stream at scale (issue 13, finding 2): one listener per process fans changes
out to every open stream; streams poll nothing; a user's and a process's streams are capped;
an idle stream still ends when its sign-in does. Run on SQLite (one poller per process) and
PostgreSQL (LISTEN/NOTIFY)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from corrections.alerts.models import AlertStream
from corrections.alerts.views import streams_stopping
from corrections.audit.models import AuditEntry
from corrections.core.db import db
from tests.alerts.test_alerts import DAY_AFTER_REPORT_DUE
from tests.conftest import DEMO_PASSWORD

STREAM = "/api/v1/alerts/stream"
ROOT = Path(__file__).resolve().parents[2]


class Reader:
    """A stream opened and read by a thread of its own, as a browser would (the test client
    starts a response in the thread that asks for it, so the whole stream lives there);
    ``text`` is what arrived. ``read=False``: held open unread until :meth:`close`."""

    path = STREAM  # a wall display's stream: /api/v1/display/alerts/stream

    def __init__(self, app, api, *, read: bool = True, **query):
        self.chunks: list[str] = []
        self.status: int | None = None
        self.body: dict | None = None
        self.headers: dict = {}
        self.started, self.done, self.release = (threading.Event() for _ in range(3))
        args = (app, api, read, {"timeout": 10, **query})
        threading.Thread(target=self._run, args=args, daemon=True).start()
        assert self.started.wait(10)

    def _run(self, app, api, read, query) -> None:
        try:
            resp = app.test_client().get(
                self.path,
                headers={"Authorization": f"Bearer {api.token}"},
                query_string=query,
                buffered=False,
            )
            self.status, self.headers = resp.status_code, dict(resp.headers)
            if resp.status_code != 200:
                self.body = resp.get_json()
            self.started.set()
            try:
                if resp.status_code == 200 and read:
                    for chunk in resp.response:
                        self.chunks.append(chunk.decode())
                else:
                    self.release.wait(30)
            finally:
                resp.close()
        finally:
            self.started.set()
            self.done.set()

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def alerts(self) -> list[dict]:
        blocks = [b for b in self.text.split("\n\n") if "event: alert" in b]
        return [
            json.loads(line[6:]) for b in blocks for line in b.splitlines() if line[:6] == "data: "
        ]

    def wait_for(self, condition, seconds: float = 10.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition(self):
                return True
            time.sleep(0.02)
        return condition(self)

    def close(self) -> None:
        self.release.set()
        assert self.done.wait(15)


@pytest.fixture
def streams(app, monkeypatch):
    """Open readers; all ended after the test (as at a server's shutdown). The SQLite poller
    looks every 50 ms."""
    monkeypatch.setitem(app.config, "ALERT_STREAM_POLL_SECONDS", 0.05)
    opened: list[Reader] = []

    def _open(api, **query) -> Reader:
        reader = Reader(app, api, **query)
        opened.append(reader)
        return reader

    yield _open
    streams_stopping(app).set()
    try:
        for reader in opened:
            reader.close()
    finally:
        streams_stopping(app).clear()


def _opened(reader: Reader) -> bool:
    return ": stream of alert changes after" in reader.text


class StatementCounter:
    """SELECTs reading alert_changes, by any connection of the app's engine."""

    def __init__(self, app):
        self.app, self.count, self.on = app, 0, False

    def __enter__(self):
        with self.app.app_context():
            self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on and statement.lstrip()[:6].upper() == "SELECT" and "alert_changes" in statement:
            self.count += 1

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_finding_2_open_streams_poll_nothing_and_one_fetch_serves_them_all(
    app, login, active, run_job, streams
):
    """Six open streams cost no query while nothing happens; a new alert is fetched once for
    all of them, not once per stream (today every stream polled every second)."""
    person = active()
    readers = [
        streams(login(name))
        for name in (
            "commander-dongcheng",
            "commander-dongcheng",
            "officer-dongcheng-1",
            "officer-dongcheng-2",
            "commander-xicheng",
            "city",
        )
    ]
    assert all(r.wait_for(_opened) for r in readers)
    time.sleep(0.3)  # their replays are done
    with StatementCounter(app) as counter:
        counter.on = True
        time.sleep(1.0)
        idle = counter.count
        run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
        for reader in readers[:3]:
            assert reader.wait_for(
                lambda r: any(a["person_id"] == person["id"] for a in r.alerts())
            )
        time.sleep(0.3)
        counter.on = False
    assert idle == 0
    # The listener's fetch (and its look at the newest id) per commit: a few, not per stream.
    assert counter.count <= 6, counter.count


def _stream_audits(app, username: str) -> list[set[int]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.subject_id, AuditEntry.subject_ids)
            .where(AuditEntry.action == "alert.stream", AuditEntry.actor_username == username)
            .order_by(AuditEntry.id)
        ).all()
        db.session.remove()
    return [
        {int(one)} if one else {int(i) for i in (many or "").strip(",").split(",") if i}
        for one, many in rows
    ]


def test_finding_2_a_new_alert_reaches_each_stream_in_scope_masked_and_audited_as_the_list(
    app, login, active, run_job, streams
):
    person = active()
    office, district = login("officer-dongcheng-1"), login("commander-dongcheng")
    other, city = login("commander-xicheng"), login("city")
    readers = {api.username: streams(api) for api in (office, district, other, city)}
    assert all(r.wait_for(_opened) for r in readers.values())

    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)

    for api in (office, district):
        reader = readers[api.username]
        assert reader.wait_for(lambda r: any(a["person_id"] == person["id"] for a in r.alerts()))
        # (the job moved the clock past the tokens' lifetime: a fresh sign-in lists)
        listed = (
            login(api.username)
            .get("/api/v1/alerts", query_string={"person_id": person["id"]})
            .get_json()
        )
        by_id = {a["id"]: a for a in listed["items"]}
        for streamed in reader.alerts():
            change = {k: streamed.pop(k) for k in ("change", "change_at")}
            assert change["change"] == "raised"
            assert streamed == by_id[streamed["id"]]  # what the list shows, masked the same
        assert _stream_audits(app, api.username) == [{person["id"]}]
    time.sleep(0.5)  # the others had as long as the first two
    assert readers["commander-xicheng"].alerts() == []
    assert readers["city"].alerts() == []  # not escalated: not the city's
    assert _stream_audits(app, "commander-xicheng") == _stream_audits(app, "city") == []


def _open_rows(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(AlertStream))
        db.session.remove()
    return n


def test_finding_2_a_users_and_a_process_streams_are_capped_with_429(
    app, login, streams, monkeypatch
):
    monkeypatch.setitem(app.config, "ALERT_STREAM_MAX_PER_USER", 2)
    commander = login("commander-dongcheng")
    first = streams(commander, read=False)
    second = streams(login("commander-dongcheng"), read=False)
    assert first.status == second.status == 200
    refused = streams(commander, read=False)
    assert refused.status == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.body["status"] == 429 and "streams" in refused.body["errors"]
    assert "最多 2 个" in refused.body["detail"]
    # Another user is not held up by it; a closed stream gives its place back.
    assert streams(login("officer-dongcheng-1"), read=False).status == 200
    first.close()
    assert streams(commander, read=False).status == 200
    assert _open_rows(app) == 3

    # The process's cap: every user counts.
    monkeypatch.setitem(app.config, "ALERT_STREAM_MAX_PER_PROCESS", 3)
    refused = streams(login("city"), read=False)
    assert refused.status == 429 and "每个服务器进程最多" in str(refused.body)
    assert _open_rows(app) == 3


def test_finding_2_an_idle_stream_ends_on_sign_out(app, login, streams, monkeypatch):
    """A stream waiting at the listener (nothing to send) still re-checks its sign-in and ends
    (``event: end``), giving its place back."""
    monkeypatch.setitem(app.config, "ALERT_STREAM_TOKEN_CHECK_SECONDS", 0.3)
    commander = login("commander-dongcheng")
    reader = streams(commander, timeout=30)
    assert reader.wait_for(_opened)
    assert _open_rows(app) == 1
    assert commander.delete("/api/v1/auth/token").status_code == 204
    assert reader.done.wait(5), "the stream outlived its sign-in"
    assert "event: end\ndata: signed out" in reader.text
    assert _open_rows(app) == 0


def _serving_command(port: int) -> list[str]:
    """The README's command for serving streams and API together, bound to ``port``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Production serving", 1)[1].split("\n## ", 1)[0]
    line = next(ln.strip() for ln in section.splitlines() if "gunicorn" in ln)
    args = shlex.split(line)
    args[0] = str(Path(sys.executable).parent / Path(args[0]).name)
    args[args.index("-b") + 1] = f"127.0.0.1:{port}"
    return args


class RawStream:
    """A stream read straight off a socket (from a real server)."""

    def __init__(self, port: int, token: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(
            f"GET {STREAM}?timeout=120 HTTP/1.1\r\nHost: test\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        self.text = ""
        while "\r\n\r\n" not in self.text:
            self.text += self.sock.recv(4096).decode()
        self.status = int(self.text.split()[1])

    def read_for(self, seconds: float) -> str:
        self.sock.settimeout(0.1)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.text += chunk.decode()
        return self.text


def test_finding_2_served_as_the_readme_says_open_streams_leave_the_api_free(
    app, login, active, run_job, tmp_path
):
    """The README's serving command with 30 streams open (more than its workers): the API
    answers at once, and a new alert reaches the open streams in its scope and no other.
    (The command it named before, sync workers, stopped answering at the fifth stream.)"""
    person = active()
    port = _free_port()
    env = {
        **os.environ,
        "CORRECTIONS_DATABASE_URL": app.config["DATABASE_URL"],
        "CORRECTIONS_INSTANCE_PATH": app.instance_path,
        "CORRECTIONS_SECRET_KEY": app.config["SECRET_KEY"],
        "CORRECTIONS_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(  # noqa: S603 - the README's own command
            _serving_command(port), env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    opened: list[RawStream] = []
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        users = ["officer-dongcheng-1", "commander-dongcheng", "commander-xicheng"]
        users += [f"officer-xicheng-{i}" for i in (1, 2, 3)]
        tokens = {name: _sign_in(base, name) for name in users}  # (the server's clock)
        for name in users:
            opened += [RawStream(port, tokens[name]) for _ in range(5)]
        assert [s.status for s in opened] == [200] * 30
        began = time.monotonic()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens[users[0]]}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
        assert time.monotonic() - began < 5

        run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
        marker = f'"person_id":{person["id"]}'
        in_scope = opened[:10]  # the person's office and district
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(marker in s.text for s in in_scope):
            for s in in_scope:
                s.read_for(0.05)
        assert all(marker in s.text for s in in_scope)
        for s in opened[10:]:
            assert "event: alert" not in s.read_for(0.05)
    finally:
        for s in opened:
            s.sock.close()
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    err = log.read_text(errors="replace")
    assert "Traceback" not in err, err[-3000:]


def _sign_in(base: str, username: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/auth/token",
        data=json.dumps({"username": username, "password": DEMO_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return json.load(resp)["access_token"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
