"""gunicorn's settings for serving corrections (``-c python:corrections.gunicorn_conf``; the
README's serving command and ``corrections-entrypoint serve`` load them).

- gunicorn's own log lines (start, stop, worker exits, refused requests) are JSON like the
  app's when ``CORRECTIONS_LOG_FORMAT`` is ``json`` (or ``auto`` without a terminal), and a
  refused request's line is not quoted: it may carry a name or a phone number typed into a
  URL (hostile review).
- No access log of gunicorn's own: the app writes one line per request with the route
  template (core/observability.py), never the path, query string or Referer, which may carry a
  name or an ID number. gunicorn turns its access log on whenever a logging configuration is
  given (``logconfig_dict`` below), with the full request line: :class:`Logger` keeps it off
  unless an operator asks for it (``--access-logfile``), and then writes only the atoms of
  :data:`ACCESS_ATOMS` (method, status, sizes, durations, the request id), whatever format is
  set. gunicorn's handler is not the root logger's either: the app's lines are written once, by
  the app's own handler.
- With ``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's files in the folder are deleted when
  the server starts (the counts of a previous run are not summed into this one's) and a worker
  that exits is marked dead. A folder holding anything else (the instance folder's database,
  say) or the instance folder itself is refused: one line, exit 2, as a bad setting is.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

from gunicorn import glogging


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
    # gunicorn's defaults give the root logger its console handler too: every app line was
    # then written twice, once by the app's own handler (observability.configure_logging).
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# gunicorn's access log stays off (the app writes its own access line); an operator who turns
# it on (--access-logfile) gets this format, without the request line (%(r)s), path (%(U)s),
# query string (%(q)s), Referer (%(f)s), user agent or address.
accesslog = None
access_log_format = "%(m)s %(s)s %(B)s %(D)s %({x-request-id}o)s"
logger_class = "corrections.gunicorn_conf.Logger"

# The atoms an access line may show, whatever ``access_log_format`` asks for: the others (the
# request line, path, query string, request headers such as Referer and Cookie, environment)
# print as "-".
ACCESS_ATOMS = frozenset({"t", "m", "s", "B", "b", "D", "T", "M", "L", "p", "H"})
_RESPONSE_HEADERS = frozenset({"{x-request-id}o", "{content-length}o", "{content-type}o"})


class Logger(glogging.Logger):
    """gunicorn's logger without its access log unless ``accesslog`` is set, and with only
    :data:`ACCESS_ATOMS` in an access line."""

    def access(self, resp, req, environ, request_time) -> None:
        if not self.cfg.accesslog:  # not "on because a logging configuration is given"
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time) -> dict:
        every = super().atoms(resp, req, environ, request_time)
        return {
            key: value
            for key, value in every.items()
            if key in ACCESS_ATOMS or key in _RESPONSE_HEADERS
        }


# prometheus_client's files (values.py: "<type>_<pid>.db", a gauge's type with its
# multiprocess mode). Nothing else is deleted.
_GAUGE_MODES = (
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
)
METRICS_FILE = re.compile(
    r"(?:counter|histogram|summary|gauge_(?:" + "|".join(_GAUGE_MODES) + r"))_\d+\.db"
)


def _instance_folder() -> Path:
    """The instance folder the app will use (CORRECTIONS_INSTANCE_PATH, else Flask's)."""
    named = os.environ.get("CORRECTIONS_INSTANCE_PATH")
    if named:
        return Path(named).resolve()
    from flask import Flask

    return Path(Flask("corrections").instance_path).resolve()


def metrics_folder_problem(path: Path):
    """Why ``path`` may not be emptied as the metrics folder (a message; None: it may)."""
    from corrections.core.i18n import _

    if path.resolve() == _instance_folder():
        return _(
            "PROMETHEUS_MULTIPROC_DIR is the instance folder {folder}: give it a folder of its "
            "own (its files are deleted at every start)",
            folder=str(path),
        )
    others = sorted(p.name for p in path.iterdir() if not METRICS_FILE.fullmatch(p.name))
    if others:
        shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
        return _(
            "PROMETHEUS_MULTIPROC_DIR {folder} holds files that are not metrics ({files}): "
            "give it a folder of its own (its metrics files are deleted at every start)",
            folder=str(path),
            files=shown,
        )
    return None


def on_starting(server) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        problem = metrics_folder_problem(path)
        if problem is not None:
            from corrections.config import ConfigError

            # Like a bad setting (corrections-entrypoint, the WSGI module): one line, and an
            # exit status the systemd units do not restart on.
            print(ConfigError(problem, listed=False).render(), file=sys.stderr)
            raise SystemExit(2)
        for stale in path.iterdir():
            stale.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Import the risk scorer (scikit-learn: seconds on a busy host) before the worker takes
    requests, so the first person page after a start does not wait for it; then settle what
    start-up built (core/runtime.py)."""
    import corrections.risk.service  # noqa: F401
    from corrections.core.runtime import settle

    settle()
