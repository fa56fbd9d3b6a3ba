"""The command centre's API beside the alerts: scoped statistics for city and district staff
and the scheduler's health. Views depend on services, never the other way round."""

from __future__ import annotations

import itertools
import re
from typing import Any

from flask import current_app
from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import now_utc
from corrections.core.db import db
from corrections.core.i18n import lookup, lookup_stored, negotiate
from corrections.scheduler import service as scheduler
from corrections.web import stats
from corrections.web.schemas import OverviewSchema, SchedulerSchema

blp = Blueprint(
    "command",
    __name__,
    url_prefix="/api/v1",
    description="Command centre: statistics and the scheduler's health",
)


@blp.route("/stats/overview")
class Overview(MethodView):
    @requires("stats:read")
    @blp.response(200, OverviewSchema)
    def get(self):
        """Counts for the command centre in your scope: persons by level, grade, category and
        office; open alerts; lost contact and absconded now; the in-control rate (在管在控率);
        obligations missed this month; grade decisions awaiting approval."""
        return stats.overview(db.session, actor=current_actor(), now=now_utc())


@blp.route("/system/jobs")
class Jobs(MethodView):
    @requires("system:read")
    @blp.response(200, SchedulerSchema)
    def get(self):
        """Scheduler health: the leader, each job's trigger, next run, last run and last
        failure; a run's error texts in the language asked for (Accept-Language). Of a run's
        errors the first 20 are shown (``errors_total`` counts them all: a job that failed
        for many persons keeps one per person)."""
        view = scheduler.overview(db.session, current_app.config["SCHEDULER_TRIGGERS"], now_utc())
        locale = negotiate()
        for job in view["jobs"]:
            for run in (job["last_run"], job["last_failure"]):
                if run is not None:
                    _run_in(run, locale)
        return view


# A refused job's error as the run keeps it: "ArtifactError: <its message's English>".
_CLASS_AND_MESSAGE = re.compile(r"^([A-Z][A-Za-z0-9_]*): (.+)$", re.DOTALL)
# How many of a run's errors the panel shows. A job keeps one error per person it failed for
# (100,000 of them once): every commander's browser asks for this every 30 s.
SHOWN_ERRORS = 20


def _run_in(run: dict[str, Any], locale: str) -> None:
    """A job run's texts, stored as their messages' English, in ``locale``: its first
    :data:`SHOWN_ERRORS` errors (by kind; those by person id hold an exception's class name,
    not a message, and stay as they are) and its error's message (the class name stays)."""
    errors = run["errors"] or {}
    run["errors_total"] = len(errors)
    run["errors"] = {
        key: _message_in(key, text, locale)
        for key, text in itertools.islice(errors.items(), SHOWN_ERRORS)
    }
    match = _CLASS_AND_MESSAGE.match(run["error"] or "")
    if match:
        run["error"] = f"{match.group(1)}: {lookup(match.group(2), locale)}"


def _message_in(key: str, text: Any, locale: str) -> Any:
    """One error of a run in ``locale``: a message by kind looked up; a person's (keyed by
    their id) or anything not a text as stored."""
    if not isinstance(text, str) or str(key).isdigit():
        return text
    return lookup_stored(text, locale)
