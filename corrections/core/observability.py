"""Logs and metrics for operators: one JSON line per request and Prometheus metrics.

Logs: every line is one JSON object (``LOG_FORMAT = "json"``, or ``"auto"``, the default, when
standard error is not a terminal; ``"text"`` for a terminal) carrying the request id of the
request it belongs to, the same id the client sees in ``X-Request-ID`` and in every
problem+json. Each request ends with one access line: request id,
user id, role, method, route (the URL rule, ``/api/v1/persons/<id:person_id>``, never the path
or the query string: a search for a name must not put the name in a log), status and duration.
Nothing personal is logged: the suite scans every log line it produced for ID numbers, phone
numbers and the names it used (tests/conftest.py).

Metrics (``/metrics``, Prometheus text format): requests by route, method and status, latency
histograms by route; and, read from the database at each scrape so that every worker and the
scheduler process agree: job runs by job and status with the last run's duration, open alerts
by severity and kind, open live alert streams. The endpoint answers only with
``Authorization: Bearer <METRICS_TOKEN>`` (404 while no token is configured), so it can sit
behind the same port as the API; with several worker processes set ``PROMETHEUS_MULTIPROC_DIR``
(README, Production serving) so that every worker's request counts are summed.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request

ACCESS_LOG = "corrections.access"
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def _request_fields() -> dict[str, Any]:
    if not has_request_context():
        return {}
    out: dict[str, Any] = {}
    rid = getattr(g, "request_id", None)
    if rid:
        out["request_id"] = rid
    return out


class RequestIdFilter(logging.Filter):
    """Puts the request id on every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rid = _request_fields().get("request_id")
            if rid:
                record.request_id = rid
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the record's extra fields
    (request id, route ...) and, for an exception, its type and frames (never its arguments)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [request {rid}]" if rid else line


def configure_logging(app: Flask) -> None:
    """The root logger writes one line per record to standard error, in ``LOG_FORMAT``.

    Replaces the handler it installed before (tests build many apps in one process) and
    leaves other handlers (pytest's, gunicorn's) alone.
    """
    root = logging.getLogger()
    root.setLevel(app.config["LOG_LEVEL"])
    for handler in list(root.handlers):
        if getattr(handler, "_corrections", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._corrections = True  # type: ignore[attr-defined]
    fmt = app.config["LOG_FORMAT"]
    if fmt == "auto":
        fmt = "text" if handler.stream.isatty() else "json"
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    # Records that reach other handlers (pytest's capture) carry the request id too.
    for existing in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in existing.filters):
            existing.addFilter(RequestIdFilter())


# --- metrics -------------------------------------------------------------------------------

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Metrics:
    """The process's request metrics; built once per process (prometheus-client keeps one
    registry per process, and tests build many apps)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        # With PROMETHEUS_MULTIPROC_DIR set, prometheus-client writes these to files there and
        # the scrape sums every worker's (see ``render``).
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "corrections_http_requests_total",
            "HTTP requests by route, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "corrections_http_request_duration_seconds",
            "HTTP request duration by route and method",
            ("route", "method"),
            buckets=_BUCKETS,
            registry=self.registry,
        )


_METRICS: _Metrics | None = None


def metrics() -> _Metrics:
    global _METRICS
    if _METRICS is None:
        _METRICS = _Metrics()
    return _METRICS


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method_label() -> str:
    """The method as a metric label: an invented one ("M12345", any client may send it) is
    "other", so nobody can add series to every worker's registry."""
    return request.method if request.method in _METHODS else "other"


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "(unmatched)"


def init_app(app: Flask) -> None:
    """Time every request, count it, and write its access line (registered before the other
    after-request functions, so it runs last and sees the final status)."""
    log = logging.getLogger(ACCESS_LOG)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _access_line(response: Response) -> Response:
        started = g.pop("started", None)
        if started is None:
            return response
        duration = time.perf_counter() - started
        route = _route()
        if route != "/metrics":
            m = metrics()
            method = _method_label()
            m.requests.labels(route, method, str(response.status_code)).inc()
            m.latency.labels(route, method).observe(duration)
        actor = g.get("actor")
        log.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "user_id": getattr(actor, "user_id", None),
                "role": getattr(getattr(actor, "role", None), "value", None),
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 2),
            },
        )
        return response


class DatabaseCollector:
    """What every process agrees on, read at scrape time: job runs, open alerts, open streams."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self):  # no pre-scrape description: collect() reads the database
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from sqlalchemy import func, select, text

        from corrections.alerts.live import STALE_AFTER
        from corrections.alerts.models import LIVE_PREDICATE, Alert, AlertStream
        from corrections.core.clock import now_utc
        from corrections.core.db import db
        from corrections.scheduler.models import JobRun

        session = db.session
        runs = CounterMetricFamily(
            "corrections_job_runs", "Scheduled job runs by job and status", labels=("job", "status")
        )
        counted = {
            (job, status): n
            for job, status, n in session.execute(
                select(JobRun.job, JobRun.status, func.count()).group_by(JobRun.job, JobRun.status)
            )
        }
        # Every job's succeeded and failed series exists from the first scrape (at 0), so an
        # alert on increase(...{status="failed"}) sees the first failure too.
        from corrections.scheduler.service import JOBS

        for job in JOBS:
            for status in ("succeeded", "failed"):
                counted.setdefault((job, status), 0)
        for (job, status), n in sorted(counted.items()):
            runs.add_metric((job, status), n)
        yield runs
        last = GaugeMetricFamily(
            "corrections_job_last_duration_seconds",
            "Duration of each job's last finished run",
            labels=("job",),
        )
        finished_at = GaugeMetricFamily(
            "corrections_job_last_finished_timestamp_seconds",
            "When each job's last run finished (Unix time)",
            labels=("job",),
        )
        newest = (
            select(JobRun.job, func.max(JobRun.id).label("id"))
            .where(JobRun.finished_at.is_not(None))
            .group_by(JobRun.job)
            .subquery()
        )
        for job, started, finished in session.execute(
            select(JobRun.job, JobRun.started_at, JobRun.finished_at).join(
                newest, newest.c.id == JobRun.id
            )
        ):
            last.add_metric((job,), (finished - started).total_seconds())
            finished_at.add_metric((job,), finished.timestamp())
        yield last
        yield finished_at
        alerts = GaugeMetricFamily(
            "corrections_alerts_open",
            "Open or acknowledged alerts by severity and kind",
            labels=("severity", "kind"),
        )
        for severity, kind, n in session.execute(
            select(Alert.severity, Alert.kind, func.count())
            .where(text(LIVE_PREDICATE))
            .group_by(Alert.severity, Alert.kind)
        ):
            alerts.add_metric((severity, kind), n)
        yield alerts
        since = now_utc() - STALE_AFTER
        streams = session.scalar(
            select(func.count()).select_from(AlertStream).where(AlertStream.seen_at >= since)
        )
        yield GaugeMetricFamily(
            "corrections_alert_streams_open", "Open live alert streams, all processes", streams
        )
        session.rollback()  # read only; end the transaction


def render(app: Flask) -> Response:
    """The scrape: this process's (or every worker's) request metrics and the database's."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry = metrics().registry
    body = generate_latest(registry) + generate_latest(_database_registry(app))
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _database_registry(app: Flask):
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(app))
    return registry


def authorised() -> bool:
    """A scrape must bear ``METRICS_TOKEN`` (compared in constant time)."""
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # As bytes: compare_digest refuses a str with non-ASCII characters (a 500 for anyone).
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode("utf-8", "surrogateescape"), expected.encode("utf-8")
    )


__all__ = [
    "ACCESS_LOG",
    "JsonFormatter",
    "authorised",
    "configure_logging",
    "init_app",
    "metrics",
    "render",
]
