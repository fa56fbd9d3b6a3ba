"""What the benchmarks share: running a command with its output in the failure, psql, a free
port, a log's tail. The benches run as scripts (``python bench/NAME.py``), so this folder is
on ``sys.path`` and they import it as ``common``."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


class BenchError(Exception):
    """A step of the bench failed; the message carries its output."""


def describe(args) -> str:
    """A command for a message: long arguments (inline scripts, secrets) cut short."""
    return " ".join(a if len(a) <= 80 else a[:40] + "…" for a in map(str, args))


def sh(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, its output captured; ``check``: a failure is :class:`BenchError`
    with all of it."""
    done = subprocess.run(args, env=env, check=False, capture_output=True, text=True)
    if check and done.returncode != 0:
        output = f"{done.stdout}{done.stderr}".rstrip()
        raise BenchError(f"{describe(args)} failed (exit {done.returncode}):\n{output}")
    return done


def run(args: list[str], env: dict | None = None) -> str:
    """Run a command; its standard output, or :class:`BenchError`."""
    return sh(*args, env=env).stdout


def psql(url: str, sql: str) -> str:
    return run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql]).strip()


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for a failure's message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
