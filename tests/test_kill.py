"""A web worker killed mid-request loses nothing and doubles nothing (issue 13, acceptance).

The README's serving command (gunicorn, 4 sync workers) on the test database, with the frozen
clock; clients post a burst of supervision events, each with its own ``Idempotency-Key``, and
retry whatever got no answer (a dropped connection, a 5xx) with the same key and body. During
the burst a worker is killed with SIGKILL (another one if the first was between requests), and
gunicorn starts a new one. Afterwards every acknowledged event is stored exactly once, under
the id the client was given, with exactly one audit row.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.supervision.models import SupervisionEvent
from tests.conftest import TEST_NOW

CLIENTS = 8
EVENTS_PER_CLIENT = 30
KILLS_AT_MOST = 10
BODIES = [
    {"type": "phone_check", "payload": {"success": True}},
    {"type": "report", "channel": "in_person"},
    {"type": "education", "payload": {"hours": 0.5, "topic": "法治教育"}},
    {"type": "talk", "note": "个别谈话"},
]
WSGI = """\
from datetime import datetime

from corrections import create_app
from corrections.core.clock import FrozenClock

app = create_app({{"CLOCK": FrozenClock(datetime.fromisoformat({now!r}))}})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    """The live worker processes of gunicorn's master ``pid``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture
def gunicorn(app, city, database_url, tmp_path):
    """The README's serving command against the test database, the clock frozen."""
    (tmp_path / "kill_wsgi.py").write_text(WSGI.format(now=TEST_NOW.isoformat()))
    port = _free_port()
    env = dict(
        os.environ,
        CORRECTIONS_DATABASE_URL=database_url,
        CORRECTIONS_INSTANCE_PATH=app.instance_path,
        CORRECTIONS_SECRET_KEY=app.config["SECRET_KEY"],
        CORRECTIONS_LOG_LEVEL="WARNING",
    )
    log = open(tmp_path / "gunicorn.log", "w+")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(  # noqa: S603 - our own server, no outside input
        [*command, "--chdir", str(tmp_path), "kill_wsgi:app"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):  # up to a minute for four workers to import the app
            if proc.poll() is not None:
                break
            if _healthy(port) and len(_children(proc.pid)) == 4:
                break
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        output = log.read()
        log.close()
    assert "Traceback" not in output, output[-3000:]


def test_a_worker_killed_mid_burst_loses_and_doubles_no_acknowledged_event(
    app, gunicorn, active, officer
):
    proc, port = gunicorn
    persons = [active()["id"] for _ in range(4)]
    occurred = (TEST_NOW - timedelta(minutes=30)).isoformat()
    acknowledged: dict[str, int] = {}  # Idempotency-Key -> event id the client was given
    dropped = []  # requests that got no answer (retried)
    sent: dict[int, int] = {}  # client -> events it got an answer for
    lock = threading.Lock()
    started = threading.Event()
    killing_over = threading.Event()

    def post(key: str, person: int, body: bytes) -> int | None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(
                "POST",
                f"/api/v1/persons/{person}/events",
                body=body,
                headers={
                    "Authorization": f"Bearer {officer.token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": key,
                },
            )
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()
        if resp.status >= 500:
            return None
        assert resp.status in (200, 201), (resp.status, data[:500])
        return json.loads(data)["id"]

    def client(n: int) -> None:
        # At least EVENTS_PER_CLIENT events, and on until the killing is over, so that a
        # kill never finds the burst ended.
        i = 0
        while i < EVENTS_PER_CLIENT or not killing_over.is_set():
            key = f"kill-{n}-{i}"
            body = json.dumps({**BODIES[i % len(BODIES)], "occurred_at": occurred}).encode()
            person = persons[(n + i) % len(persons)]
            for _attempt in range(100):
                event_id = post(key, person, body)
                if event_id is not None:
                    break
                with lock:
                    dropped.append(key)
                time.sleep(0.05)
            else:
                raise AssertionError(f"{key}: no answer after 100 tries")
            with lock:
                acknowledged[key] = event_id
                sent[n] = i + 1
            started.set()
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    killed = []
    try:
        started.wait(timeout=60)
        # Kill a worker while clients wait on every worker; if it happened to be between two
        # requests (no client saw a dropped connection), kill another, the longest running
        # first (a new one may still be starting), up to KILLS_AT_MOST.
        while not dropped and len(killed) < KILLS_AT_MOST:
            victim = min(_children(proc.pid) - set(killed))
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            time.sleep(0.5)
    finally:
        killing_over.set()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    total = sum(sent.values())
    assert killed, "the burst ended before a worker could be killed"
    assert dropped, "no request was in flight in a killed worker"
    assert len(acknowledged) == total
    print(f"{total} events, {len(killed)} worker(s) killed, {len(dropped)} requests retried")
    # gunicorn replaced the killed workers.
    for _ in range(300):
        if len(_children(proc.pid)) == 4:
            break
        time.sleep(0.1)
    assert len(_children(proc.pid)) == 4 and not set(killed) & _children(proc.pid)

    with app.app_context():
        stored = db.session.execute(
            select(SupervisionEvent.idempotency_key, SupervisionEvent.id).where(
                SupervisionEvent.idempotency_key.like("kill-%")
            )
        ).all()
        audited = [
            entry.detail.get("event_id")
            for entry in db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == "event.create")
            )
        ]
        db.session.remove()
    by_key: dict[str, list[int]] = {}
    for key, event_id in stored:
        by_key.setdefault(key, []).append(event_id)
    assert {key: ids for key, ids in by_key.items() if len(ids) != 1} == {}
    assert {key: ids[0] for key, ids in by_key.items()} == acknowledged
    stored_ids = [event_id for _, event_id in stored]
    assert sorted(i for i in audited if i in set(stored_ids)) == sorted(stored_ids)
