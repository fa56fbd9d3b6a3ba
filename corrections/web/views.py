from __future__ import annotations

import functools
import time
from datetime import timedelta
from pathlib import Path

import plotly
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
)
from sqlalchemy import select, text
from swagger_ui_bundle import swagger_ui_path

from corrections.core.auth import PERMISSIONS, optional_actor, public
from corrections.core.clock import now_utc
from corrections.core.db import db, is_timeout, use_health_timeouts
from corrections.core.errors import problem_response
from corrections.core.i18n import ZH, _, negotiate, translate
from corrections.extensions import api

blp = Blueprint("web", __name__, template_folder="templates")
STATIC_DIR = Path(__file__).parent / "static"

_SWAGGER_ASSETS = {
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
}
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
)


@blp.get("/healthz")
@public
def healthz() -> Response:
    """Load-balancer check: 200 when the database answers (one ``SELECT 1``). ``?deep=1``:
    also the tables every request reads, the scheduler's lease and the schema's revision.

    Both are open to monitors without a token. The deep report names the scheduler's lease
    holder (host and process) and the active risk model's version only to a caller whose
    token may read the system's state (``system:read``); anyone else sees their status (and
    the heartbeat), not the machine's name nor the model."""
    if request.args.get("deep", "0") not in ("", "0"):
        return _deep_health()
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return problem_response(
            503, detail=_("The database is not reachable."), headers={"Retry-After": "5"}
        )
    return jsonify(status="ok", database="ok")


@functools.cache
def _migration_head(directory: str) -> str | None:
    """The newest migration this code ships (the files do not change while it runs)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(directory).get_current_head()


def _deep_health() -> Response:
    """What an operator's monitor wants: 503 when the database does not answer in time (a
    held lock included: the reads run under ``HEALTHZ_TIMEOUT_SECONDS``, 2 s, shorter than a
    monitor's patience and than the API's own timeouts) or its schema is not the code's;
    the scheduler's leader and last heartbeat, and the newest backup's age and the last
    restore drill (a stale heartbeat, a stale or failed backup or a failed drill is
    ``degraded``, 200: the API still serves)."""
    from corrections.backup import service as backups
    from corrections.org.models import User
    from corrections.persons.models import Person
    from corrections.risk.models import RiskModel
    from corrections.scheduler import service as scheduler

    now = now_utc()
    use_health_timeouts(db.session)
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        # The tables every request reads: a lock held on them shows here, not only in the API.
        db.session.execute(select(User.id).limit(1))
        db.session.execute(select(Person.id).limit(1))
    except Exception as exc:
        db.session.rollback()
        busy = is_timeout(exc)
        return problem_response(
            503,
            detail=_("The database did not answer in time.")
            if busy
            else _("The database is not reachable."),
            headers={"Retry-After": "5"},
            extensions={"checks": {"database": {"status": "busy" if busy else "unreachable"}}},
        )
    database = {"status": "ok", "latency_ms": round(1000 * (time.perf_counter() - started), 1)}
    try:
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:
        db.session.rollback()
        revision = None
    head = _migration_head(current_app.extensions["migrate"].directory)
    migrations = {
        "status": "ok" if revision == head else "behind",
        "head": head,
        "database": revision,
    }
    # The machine's name and which model scores whom are for whom may read the system's
    # state; a monitor without a token sees each check's status.
    actor = optional_actor()
    privileged = actor is not None and actor.role in PERMISSIONS["system:read"]
    lease = scheduler.lease_holder(db.session)
    if lease is None:
        schedule = {
            "status": "none",
            "holder": None,
            "last_heartbeat": None,
            "lease_expires_at": None,
        }
    else:
        schedule = {
            "status": "ok" if lease.expires_at > now else "stale",
            "holder": lease.holder
            if privileged
            else translate(_("(hidden: sign in with system:read)"), negotiate()),
            # Stored by the scheduler at each renewal (its own lease length may differ from
            # this server's SCHEDULER_LEASE_SECONDS).
            "last_heartbeat": lease.acquired_at.isoformat(),
            "lease_expires_at": lease.expires_at.isoformat(),
        }
    backup = backups.health(
        db.session,
        now=now,
        stale_after=timedelta(hours=current_app.config["BACKUP_STALE_HOURS"]),
    )
    # The nightly risk scoring needs an active model (`corrections risk activate-shipped`
    # after installing): "none" says why its runs score nobody; it does not degrade the API.
    model = db.session.scalar(select(RiskModel.version).where(RiskModel.active.is_(True)))
    risk_model = {"status": "ok" if model else "none"}
    if privileged:
        risk_model["active"] = model
    checks = {
        "database": database,
        "migrations": migrations,
        "scheduler": schedule,
        "backup": backup,
        "risk_model": risk_model,
    }
    if migrations["status"] != "ok":
        return problem_response(
            503,
            detail=_("The database schema is not this code's (corrections db upgrade)."),
            headers={"Retry-After": "30"},
            extensions={"checks": checks},
        )
    status = "ok" if schedule["status"] == "ok" and not backups.degraded(backup) else "degraded"
    return jsonify(status=status, checks=checks)


@blp.get("/metrics")
@public
def prometheus_metrics() -> Response:
    """Prometheus metrics (corrections/core/observability.py), for a scraper that bears
    ``METRICS_TOKEN``: 404 while none is configured, 401 without it or with another."""
    from corrections.core import observability

    if not current_app.config.get("METRICS_TOKEN"):
        return problem_response(404, detail=_("No metrics here (METRICS_TOKEN is not set)."))
    if not observability.authorised():
        return problem_response(
            401,
            detail=_("The metrics need the scraper's token (METRICS_TOKEN)."),
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return observability.render(current_app)


@blp.get("/api/openapi.json")
@public
def openapi_json() -> Response:
    return jsonify(api.spec.to_dict())


@blp.get("/api/docs")
@public
def docs() -> Response:
    resp = Response(render_template("docs.html"))
    resp.headers["Content-Security-Policy"] = DOCS_CSP
    return resp


@blp.get("/api/docs/assets/<path:filename>")
@public
def docs_assets(filename: str) -> Response:
    if filename not in _SWAGGER_ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


# The command centre: scripts only from this server (no inline script, no eval); the chart
# library sets inline styles, which is why styles may be inline. Data goes in as text.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_CHART_JS = Path(plotly.__file__).parent / "package_data"


@blp.get("/command-centre")
@public
def command_centre() -> Response:
    """The command-centre page (指挥中心): signs in with the same accounts; all data comes from
    the API with the user's token, so scope is the API's."""
    resp = Response(render_template("command_centre.html"))
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.get("/workbench")
@public
def workbench() -> Response:
    """The officer workbench (司法所工作台): today's due list, the caseload, a person's page
    and the forms of the day's work. Same sign-in as the command centre; all data comes from
    the API with the user's token (scope is the API's); the page holds only the choice lists
    and labels of the rules files."""
    resp = Response(render_template("workbench.html", **_workbench_texts()))
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


# Status changes an officer records by hand (the others have their own procedures: discharge,
# termination, transfer, a death, an absconding determination).
_OFFICER_STATUS_MOVES = ("active", "lost_contact")


def _workbench_texts() -> dict:
    """The workbench's choice lists with their Chinese labels, from the rules files, and the
    ID-number messages in the page's language (the same the API answers with)."""
    from corrections.grading import rules as grading_rules
    from corrections.persons import rules as person_rules
    from corrections.persons.models import OPEN_STATUSES
    from corrections.persons.service import STATUS_TRANSITIONS
    from corrections.risk.rules import band_labels

    people = person_rules.current()

    def options(mapping) -> list[dict]:
        return [{"value": k, "label_zh": v} for k, v in mapping.items()]

    return {
        "grades": [{"value": g.id, "label_zh": g.label_zh} for g in grading_rules.current().grades],
        "statuses": options(people.labels["statuses"]),
        "risk_bands": options(band_labels()),
        "categories": [{"value": k, "label_zh": c.label_zh} for k, c in people.categories.items()],
        "genders": options(people.labels["genders"]),
        "crime_types": options(people.labels["crime_types"]),
        "employment": options(people.labels["employment"]),
        "housing": options(people.labels["housing"]),
        "status_moves": {
            source: [t for t in targets if t in _OFFICER_STATUS_MOVES]
            for source, targets in STATUS_TRANSITIONS.items()
        },
        "open_statuses": list(OPEN_STATUSES),
        # The server's clock when the page was made: the forms date "now" by it (an event
        # may not be dated after the server's now).
        "server_now": now_utc().isoformat(),
        "id_messages": {
            "shape": translate(_("must be 17 digits followed by a digit or X"), ZH),
            "birth": translate(_("the birth date in the number is not a calendar date"), ZH),
            "check": translate(_("the check digit is wrong"), ZH),
        },
    }


@blp.get("/model-health")
@public
def model_health_page() -> Response:
    """The risk model's health over time (风险模型监测) for analysts and the city: the page
    signs in like the command centre and reads GET /api/v1/risk/health with the user's token
    (the API decides who may; figures only, no person)."""
    resp = Response(render_template("model_health.html"))
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.get("/display")
@public
def display_page() -> Response:
    """The wall display (大屏): one district's open alerts live and its statistics, full
    screen. Enrolled once with a display token (web/display.py keeps it in an HttpOnly
    cookie), it survives reloads and never signs out by itself; the page holds no data."""
    resp = Response(render_template("display.html"))
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.get("/command-centre/assets/plotly.min.js")
@public
def chart_library() -> Response:
    """plotly.js as the plotly Python package ships it (installed with the project)."""
    return send_from_directory(str(_CHART_JS), "plotly.min.js", max_age=86400)


@blp.get("/static/web/<path:filename>")
@public
def static(filename: str) -> Response:
    """The project's own page assets."""
    return send_from_directory(str(STATIC_DIR), filename, max_age=3600)


# --- passwords: redeeming a reset code, changing one's own --------------------------------


def _password_texts() -> dict:
    """What the password forms show beside their fields, in the page's language (Chinese):
    the policy, one rule a line, and the messages the page's own script writes; the field
    limits from the schemas the API validates with."""
    from corrections.core.i18n import ZH
    from corrections.org.passwords import RULES
    from corrections.org.schemas import PasswordChangeSchema, PasswordResetSchema

    def longest(schema: type, name: str) -> int:
        field = schema._declared_fields[name]
        return min(v.max for v in field.validators if getattr(v, "max", None) is not None)

    return {
        "password_rules": [translate(rule, ZH) for rule in RULES],
        "password_limits": {
            "username": longest(PasswordResetSchema, "username"),
            "code": longest(PasswordResetSchema, "code"),
            "password": longest(PasswordChangeSchema, "new_password"),
        },
        "password_messages": {
            "mismatch": translate(_("the two new passwords differ"), ZH),
            "failed": translate(_("The request failed."), ZH),
            "reset_done": translate(_("The new password is set: sign in with it."), ZH),
            "changed": translate(_("Password changed; your other sign-ins were signed out."), ZH),
        },
    }


@blp.context_processor
def _password_form_context() -> dict:
    # The command centre's "修改密码" dialog and the reset page share these.
    if request.endpoint in (
        "web.command_centre",
        "web.password_reset_page",
        "web.password_reset_page_posted",
    ):
        return _password_texts()
    return {}


@blp.get("/password-reset")
@public
def password_reset_page() -> Response:
    """Set a new password with the one-time code an administrator handed over (使用重置码设置
    新密码): the form posts to ``POST /api/v1/auth/password/reset`` from the page's script,
    and shows the server's problem details beside the fields they name."""
    return _password_reset_response()


@blp.post("/password-reset")
@public
def password_reset_page_posted() -> Response:
    """The form posted by a browser that did not run the page's script: nothing is done with
    it here (the code and the password go through the API, with its checks and sign-in
    limits, from the script), and nothing of it is shown back; the page again, saying to turn
    scripts on (not a bare 405)."""
    notice = translate(_("Enable scripts in the browser, then submit again."), ZH)
    return _password_reset_response(notice=notice)


def _password_reset_response(notice: str | None = None) -> Response:
    resp = Response(render_template("password_reset.html", notice=notice))
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp
