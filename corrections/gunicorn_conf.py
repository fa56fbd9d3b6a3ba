"""gunicorn's settings for serving corrections (``-c python:corrections.gunicorn_conf``; the
README's serving command and ``corrections-entrypoint serve`` load them).

- gunicorn's own log lines (start, stop, worker exits, refused requests) are JSON like the
  app's when ``CORRECTIONS_LOG_FORMAT`` is ``json`` (or ``auto`` without a terminal), and a
  refused request's line is not quoted: it may carry a name or a phone number typed into a
  URL (hostile review).
- With ``PROMETHEUS_MULTIPROC_DIR``, the folder is emptied when the server starts (the counts
  of a previous run are not summed into this one's) and a worker that exits is marked dead.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path


class RedactRequestLine(logging.Filter):
    """gunicorn's "Invalid request from ip=...: <the request line>" ends with what the client
    sent: only the part before the request line is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Invalid request"):
            head = message.split(": ", 1)[0]
            record.msg, record.args = f"{head}: (request line not logged)", ()
        return True


def _json_wanted() -> bool:
    fmt = os.environ.get("CORRECTIONS_LOG_FORMAT", "auto")
    return fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())


_HANDLER = {
    "class": "logging.StreamHandler",
    "stream": "ext://sys.stderr",
    "filters": ["redact"],
}
if _json_wanted():
    _HANDLER["formatter"] = "json"

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "corrections.core.observability.JsonFormatter"}},
    "filters": {"redact": {"()": "corrections.gunicorn_conf.RedactRequestLine"}},
    "handlers": {"console": _HANDLER},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


def on_starting(server) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Import the risk scorer (scikit-learn: seconds on a busy host) before the worker takes
    requests, so the first person page after a start does not wait for it."""
    import corrections.risk.service  # noqa: F401
