"""Live alert streams at scale: an ordinary GET's latency with 0 and with 500 open streams,
memory per open stream, and how long an acknowledged alert takes to reach the streams of its
office (and no other).

The server is started with the command the README names under "Production serving" (read
from README.md, only the bind address replaced), on a scratch PostgreSQL database seeded with
the demo city (``--persons`` persons under correction, 100 by default) and ``--streams`` / 5
extra officers, each holding 5 streams (ALERT_STREAM_MAX_PER_USER): 100 officers for 500
streams. The load generator runs on the same machine: one thread sends GETs one after another
(the latency a person's page sees, not the server's throughput), an asyncio loop holds the
streams open and reads them as browsers would.

    python bench/streams.py [--streams 500] [--seconds 40] [--alerts 10] [--persons 100]

Needs ``psql`` and a PostgreSQL server (CORRECTIONS_BENCH_PG, default
postgresql://root@127.0.0.1:5432) whose role may create databases: the bench creates a scratch
database there and drops it at the end, with its temporary folder
(/tmp/corrections-bench-*). A failed step prints that step's output.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from common import BenchError, free_port, sh, tail

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PER_USER = 5


def serving_command(port: int) -> list[str]:
    """The README's command for serving streams and API together, bound to ``port`` here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Production serving", 1)[1].split("\n## ", 1)[0]
    # The first command line naming gunicorn and its worker class, with any lines it
    # continues onto (a trailing backslash).
    lines = section.replace("\\\n", " ").splitlines()
    line = next(ln.strip() for ln in lines if "gunicorn" in ln and "-k" in ln)
    args = shlex.split(line)
    args[0] = str(BIN / Path(args[0]).name)
    bind = args.index("-b")
    args[bind + 1] = f"127.0.0.1:{port}"
    return args


def rss_kib(master: int) -> int:
    """Resident memory of the gunicorn master and its workers."""
    pids = [master]
    children = Path(f"/proc/{master}/task/{master}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
    return total


class Api:
    def __init__(self, port: int, token: str | None = None):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else {})


def sign_in(port: int, username: str, password: str) -> str:
    status, body = Api(port).call(
        "POST", "/api/v1/auth/token", {"username": username, "password": password}
    )
    assert status == 201, (username, status, body)
    return body["access_token"]


def latencies(port: int, token: str, path: str, seconds: float) -> list[float]:
    """GETs one after another for ``seconds``, each on a new connection (so every worker
    answers some, as a page's requests would be spread)."""
    out = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        began = time.perf_counter()
        status, _body = Api(port, token).call("GET", path)
        out.append((time.perf_counter() - began) * 1000)
        assert status == 200, status
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Streams:
    """Open streams held by an asyncio loop in a thread; records when each change arrived."""

    def __init__(self, port: int):
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.opened = 0
        self.refused: dict[int, int] = {}
        self.arrivals: list[dict[int, float]] = []  # per stream: change id -> arrival time
        self.writers: list[asyncio.StreamWriter] = []
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _one(self, index: int, token: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        writer.write(
            (
                "GET /api/v1/alerts/stream?timeout=3600 HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        if status != 200:
            self.refused[status] = self.refused.get(status, 0) + 1
            return
        arrived = self.arrivals[index]
        opened = False
        while line := await reader.readline():
            text = line.decode(errors="replace")
            if not opened and text.startswith(": stream of alert changes"):
                self.opened += 1
                opened = True
            elif text.startswith("id: "):
                arrived[int(text[4:])] = time.perf_counter()

    def open(self, tokens: list[str]) -> None:
        for token in tokens:
            self.arrivals.append({})
            asyncio.run_coroutine_threadsafe(self._one(len(self.arrivals) - 1, token), self.loop)

    def close(self) -> None:
        def _close():
            for w in self.writers:
                w.close()

        self.loop.call_soon_threadsafe(_close)
        time.sleep(0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)


CREATE_USERS = """
import json, sys
from sqlalchemy import select
from corrections import create_app
from corrections.core.auth import Role
from corrections.core.db import db
from corrections.org import service as org
from corrections.org.models import Unit
count, password = int(sys.argv[1]), sys.argv[2]
app = create_app()
with app.app_context():
    offices = db.session.execute(
        select(Unit.code, Unit.id).where(Unit.kind == "office").order_by(Unit.code)).all()
    users = {}
    for i in range(count):
        code, unit_id = offices[i % len(offices)]
        name = f"bench-officer-{i:03d}"
        org.create_user(db.session, username=name, password=password, role=Role.OFFICER,
                        unit_code=code)
        users[name] = unit_id
    db.session.commit()
print(json.dumps(users))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Needs psql and a PostgreSQL server (CORRECTIONS_BENCH_PG, default "
        "postgresql://root@127.0.0.1:5432) on which it creates and drops a scratch database.",
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=500,
        help="live alert streams to open, 5 per extra officer (so streams / 5 officers are "
        "created) (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=40,
        help="seconds of GETs per measurement (40: the streams' token re-check, every 30 s, "
        "falls inside the one with streams open) (default: %(default)s)",
    )
    parser.add_argument(
        "--alerts",
        type=int,
        default=10,
        help="alerts acknowledged, one by each of the first officers, to time their arrival "
        "at the streams of their office (default: %(default)s)",
    )
    parser.add_argument(
        "--persons",
        type=int,
        default=100,
        help="persons under correction seeded in the demo city (`corrections demo seed "
        "--persons`); not the officers, who number streams / 5 (default: %(default)s)",
    )
    args = parser.parse_args()
    try:
        return run(args)
    except BenchError as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    server = os.environ.get("CORRECTIONS_BENCH_PG", "postgresql://root@127.0.0.1:5432")
    dbname = f"corrections_bench_streams_{os.getpid()}"
    sh("psql", f"{server}/postgres", "-qc", f"CREATE DATABASE {dbname}")
    work = Path(tempfile.mkdtemp(prefix="corrections-bench-"))  # removed at the end
    env = dict(os.environ)
    env.update(
        {
            "CORRECTIONS_DATABASE_URL": f"{server.replace('postgresql://', 'postgresql+psycopg://')}"
            f"/{dbname}",
            "CORRECTIONS_INSTANCE_PATH": str(work),
            "CORRECTIONS_SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "CORRECTIONS_DEMO_PASSWORD": "bench-password",
            "CORRECTIONS_LOG_LEVEL": "WARNING",
            # The bench signs 100 accounts in from one address.
            "CORRECTIONS_LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000",
        }
    )
    gunicorn = streams = None
    try:
        corrections = str(BIN / "corrections")
        sh(corrections, "db", "upgrade", env=env)
        began = time.monotonic()
        sh(corrections, "demo", "seed", "--persons", str(args.persons), env=env)
        print(f"seeded {args.persons} persons in {time.monotonic() - began:.0f} s")
        password = secrets.token_urlsafe(16)
        users = json.loads(
            sh(
                sys.executable,
                "-c",
                CREATE_USERS,
                str(-(-args.streams // PER_USER)),
                password,
                # Cheap hashes for the bench's own accounts (the server verifies each with the
                # cost it was made with).
                env={
                    **env,
                    "CORRECTIONS_PASSWORD_HASH_TIME_COST": "1",
                    "CORRECTIONS_PASSWORD_HASH_MEMORY_KIB": "8",
                },
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = free_port()
        command = serving_command(port)
        log = open(work / "gunicorn.log", "w")  # noqa: SIM115 - lives as long as the server
        gunicorn = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(150):
            if gunicorn.poll() is not None:
                log.flush()
                raise BenchError(
                    f"the server exited ({gunicorn.returncode}):\n{tail(work / 'gunicorn.log')}"
                )
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            log.flush()
            raise BenchError(
                f"the server did not answer /healthz in 30 s:\n{tail(work / 'gunicorn.log')}"
            )
        time.sleep(1.0)  # every worker up
        print("server:", " ".join(["gunicorn", *command[1:]]))
        tokens = {name: sign_in(port, name, password) for name in users}
        commander = sign_in(port, "commander-dongcheng", "bench-password")
        me = "/api/v1/auth/me"
        alerts = "/api/v1/alerts?page_size=50"

        def measure(label: str) -> dict[str, list[float]]:
            out = {
                me: latencies(port, commander, me, args.seconds * 3 / 4),
                alerts: latencies(port, commander, alerts, args.seconds / 4),
            }
            for path, values in out.items():
                print(
                    f"  {label:<18} GET {path:<28} p50 {pct(values, 50):6.1f} ms   "
                    f"p95 {pct(values, 95):6.1f} ms   p99 {pct(values, 99):6.1f} ms   "
                    f"(n={len(values)})"
                )
            return out

        print(f"\nlatency of one client's GETs, one after another for {args.seconds:.0f} s:")
        latencies(port, commander, me, 3)  # warm every worker
        latencies(port, commander, alerts, 3)
        measure("0 streams")
        rss_before = rss_kib(gunicorn.pid)

        streams = Streams(port)
        stream_users = [name for name in users for _ in range(PER_USER)][: args.streams]
        began = time.monotonic()
        streams.open([tokens[name] for name in stream_users])
        while streams.opened + sum(streams.refused.values()) < args.streams:
            if time.monotonic() - began > 120:
                break
            time.sleep(0.1)
        opened_in = time.monotonic() - began
        time.sleep(2.0)
        rss_after = rss_kib(gunicorn.pid)
        print(
            f"\n{streams.opened} streams open in {opened_in:.1f} s"
            + (f" (refused: {streams.refused})" if streams.refused else "")
        )
        with_streams = measure(f"{streams.opened} streams")
        per_stream = (rss_after - rss_before) / max(1, streams.opened)
        print(
            f"\nmemory: {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB with "
            f"{streams.opened} streams (master and workers): {per_stream:.0f} KiB per stream"
        )

        # An alert changed by an officer reaches every stream of its office, and no other.
        delays, wrong, missing = [], 0, 0
        unit_of = [users[name] for name in stream_users]
        done = 0
        for name in users:
            if done >= args.alerts:
                break
            officer = Api(port, tokens[name])
            status, page = officer.call("GET", "/api/v1/alerts?status=open&page_size=1")
            if status != 200 or not page["items"]:
                continue
            alert = page["items"][0]
            posted = time.perf_counter()
            status, body = officer.call("POST", f"/api/v1/alerts/{alert['id']}/acknowledge", {})
            assert status == 200, (status, body)
            done += 1
            in_scope = [i for i, unit in enumerate(unit_of) if unit == alert["office_id"]]
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                if all(streams.arrivals[i] for i in in_scope):
                    break
                time.sleep(0.005)
            time.sleep(0.3)
            arrived = [streams.arrivals[i] for i in in_scope]
            missing += sum(1 for a in arrived if not a)
            delays += [(min(a.values()) - posted) * 1000 for a in arrived if a]
            wrong += sum(
                1 for i, a in enumerate(streams.arrivals) if a and unit_of[i] != alert["office_id"]
            )
            for a in streams.arrivals:
                a.clear()
        if delays:
            print(
                f"\nfan-out: {done} acknowledgements, each to the {len(delays) // max(1, done)} "
                f"streams of its office: after the POST's answer p50 {pct(delays, 50):.0f} ms, "
                f"p95 {pct(delays, 95):.0f} ms, max {max(delays):.0f} ms; "
                f"{missing} missing, {wrong} delivered out of scope"
            )
        p95_with = pct(with_streams[me], 95)
        ok = streams.opened == args.streams and not missing and not wrong
        print(
            "PASS" if ok else "FAIL",
            f"({streams.opened}/{args.streams} streams open, "
            f"p95 GET {me} {p95_with:.1f} ms with them)",
        )
        return 0 if ok else 1
    finally:
        if streams is not None:
            streams.close()
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=40)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        sh("psql", f"{server}/postgres", "-qc", f"DROP DATABASE IF EXISTS {dbname}", check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
