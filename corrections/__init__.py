"""corrections: community-corrections supervision backend (社区矫正)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from corrections.core.jsonio import OrjsonProvider

# A source checkout's project file (absent in an installed wheel).
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def package_version() -> str:
    """This code's version: in a source checkout (``pyproject.toml`` beside the package) its
    ``[project] version``, else the installed distribution's metadata (the wheel's). Not a
    literal kept by hand: ``--version`` and the backups' ``app_version`` said 0.1.0 whatever
    was installed. The checkout's file wins over metadata, which an editable install wrote
    once and does not update."""
    import importlib.metadata
    import tomllib

    try:
        project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "corrections" and project.get("version"):
            return str(project["version"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    try:
        return importlib.metadata.version("corrections")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    # ``corrections.__version__``, read when asked (no file is read at import).
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CorrectionsFlask(Flask):
    """Flask with orjson for JSON (Chinese labels unescaped, keys sorted)."""

    json_provider_class = OrjsonProvider


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI app. ``config`` overrides everything else (tests pass theirs here)."""
    from corrections import config as config_module
    from corrections.core import clocks, request_context, request_limits, rules
    from corrections.core.clock import SystemClock
    from corrections.core.db import (
        configure_postgresql,
        configure_sqlite,
        db,
        keep_rows_out_of_logs,
    )
    from corrections.core.errors import register_error_handlers
    from corrections.extensions import api, migrate

    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get(
        "CORRECTIONS_INSTANCE_PATH"
    )
    app = CorrectionsFlask(
        __name__,
        instance_relative_config=True,
        static_folder=None,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
    )
    config_module.load(app, config)
    from corrections.core import fastdump, observability

    # For the process (the check is module-wide), and it stays on: an app made without it
    # later in a test run must not switch it off for the tests after it.
    if app.config["FAST_DUMP_VERIFY"] or app.testing:
        fastdump.VERIFY = True

    observability.configure_logging(app)
    # First of the after-request functions, so its access line runs last (final status).
    observability.init_app(app)
    keep_rows_out_of_logs()

    from corrections.core import keys

    keys.install(
        app, keys.load(Path(app.config["KEYRING_PATH"]), os.environ.get("CORRECTIONS_KEYRING"))
    )
    _import_models()
    app.extensions["corrections.rules"] = rules.load_all(Path(app.config["RULES_DIR"]))
    app.extensions["corrections.calendar"] = clocks.load_calendar(
        Path(app.config["RULES_DIR"]) / "holidays"
    )
    app.extensions["corrections.clock"] = app.config.get("CLOCK") or SystemClock()

    app.config.update(
        API_TITLE="corrections 社区矫正 API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=None,  # served by corrections.web with a declared permission
    )
    from corrections.core.converters import IdConverter

    app.url_map.converters["id"] = IdConverter
    _private_sqlite_file(app.config["DATABASE_URL"])
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config)
        else:
            configure_postgresql(db.engine, app.config)
        _check_rules_versions(app)
        _check_keyring(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    api.init_app(
        app,
        spec_kwargs={
            "info": {
                "description": "Community-corrections supervision (社区矫正). Every error is "
                "application/problem+json (RFC 9457)."
            },
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "Token from POST /api/v1/auth/token"},
    )
    from corrections.core.auth import DISPLAY_COOKIE

    api.spec.components.security_scheme(
        "displayCookie",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": DISPLAY_COOKIE,
            "description": "A wall display's token, set by POST /api/v1/display/session",
        },
    )
    _register_blueprints(app, api)
    register_error_handlers(app)
    request_context.init_app(app)
    request_limits.init_app(app)
    _register_transaction_handling(app)
    _register_security_headers(app)
    _install_actor_loader(app)
    from corrections import cli

    cli.register(app)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])
    return app


def _private_sqlite_file(url: str) -> None:
    """A new SQLite database file is readable by its owner only, like the keyring (SQLite
    gives its -wal and -shm files the database file's permissions)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return
    path = Path(url[len(prefix) :].split("?", 1)[0])
    if not path.exists():
        from corrections.config import private_folder

        private_folder(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _import_models() -> None:
    """Import every model and rules schema so metadata and the rules registry are complete."""
    from corrections.alerts import models as _alerts  # noqa: F401
    from corrections.alerts import rules as _alert_rules  # noqa: F401
    from corrections.audit import models as _audit  # noqa: F401
    from corrections.complaints import models as _complaints  # noqa: F401
    from corrections.complaints import rules as _complaint_rules  # noqa: F401
    from corrections.core import clocks as _clocks  # noqa: F401
    from corrections.core import ruleset_store as _rulesets  # noqa: F401
    from corrections.demo import models as _demo  # noqa: F401
    from corrections.exchange import models as _exchange  # noqa: F401
    from corrections.exchange import rules as _exchange_rules  # noqa: F401
    from corrections.grading import models as _grading  # noqa: F401
    from corrections.grading import rules as _grading_rules  # noqa: F401
    from corrections.incidents import models as _incidents  # noqa: F401
    from corrections.incidents import rules as _incident_rules  # noqa: F401
    from corrections.org import models as _org  # noqa: F401
    from corrections.oversight import models as _oversight  # noqa: F401
    from corrections.oversight import rules as _oversight_rules  # noqa: F401
    from corrections.persons import models as _persons  # noqa: F401
    from corrections.persons import rules as _person_rules  # noqa: F401
    from corrections.procedures import models as _procedures  # noqa: F401
    from corrections.procedures import rules as _procedure_rules  # noqa: F401
    from corrections.public import models as _public  # noqa: F401
    from corrections.public import rules as _public_rules  # noqa: F401
    from corrections.risk import models as _risk  # noqa: F401
    from corrections.risk import rules as _risk_rules  # noqa: F401
    from corrections.scheduler import models as _scheduler  # noqa: F401
    from corrections.supervision import models as _supervision  # noqa: F401
    from corrections.supervision import rules as _supervision_rules  # noqa: F401


def _check_keyring(app: Flask) -> None:
    """Refuse to start with a keyring that is not the one the database's records were written
    under: the newest sealed audit row must verify with it, and a keyring made just now (no
    file was there) is taken only by a database without records (the new file is removed)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import OperationalError

    from corrections.audit import service as audit
    from corrections.core import keys
    from corrections.core.db import db

    keyring = app.extensions["corrections.keyring"]
    session = db.session
    try:
        tables = set(inspect(session.get_bind()).get_table_names())
        if "audit_entries" not in tables:
            return
        fits = audit.keyring_fits(session, keyring)
        held = (
            fits
            and keyring.created_now
            and any(
                session.execute(text(f"SELECT 1 FROM {name} LIMIT 1")).first()  # noqa: S608
                for name in ("audit_entries", "persons")
                if name in tables
            )
        )
    except OperationalError:
        return  # unreachable: the first request will say so
    finally:
        session.remove()
    if fits and not held:
        return
    if keyring.created_now and keyring.path is not None:
        keyring.path.unlink(missing_ok=True)
    from corrections.core.i18n import _

    where = "CORRECTIONS_KEYRING" if keyring.path is None else str(keyring.path)
    if keyring.created_now:
        message = _(
            "the keyring ({where}) is not the one this database's records were written under "
            "(it was made just now: none was found): put that keyring back (KEYRING_PATH, or "
            "CORRECTIONS_KEYRING); a new one can read none of them",
            where=where,
        )
    else:
        message = _(
            "the keyring ({where}) is not the one this database's records were written "
            "under: put that keyring back (KEYRING_PATH, or CORRECTIONS_KEYRING); a new one "
            "can read none of them",
            where=where,
        )
    raise keys.KeyringError(message)


def _check_rules_versions(app: Flask) -> None:
    """Refuse to start when a rules file reuses a stored version for different content."""
    from sqlalchemy.exc import OperationalError

    from corrections.core.db import db
    from corrections.core.ruleset_store import check_versions

    try:
        check_versions(db.session, app.extensions["corrections.rules"])
    except OperationalError:
        logging.getLogger(__name__).warning("database unreachable; rules versions not checked")
    except Exception:
        db.session.remove()
        db.engine.dispose()  # the app is not coming up: leave no connection behind
        raise
    finally:
        db.session.remove()


def _register_blueprints(app: Flask, api) -> None:
    from corrections.alerts.views import blp as alerts_blp
    from corrections.audit.views import blp as audit_blp
    from corrections.complaints.views import blp as complaints_blp
    from corrections.exchange.views import blp as exchange_blp
    from corrections.grading.views import blp as grading_blp
    from corrections.incidents.views import blp as incidents_blp
    from corrections.org.admin_views import blp as admin_blp
    from corrections.org.display_views import blp as display_tokens_blp
    from corrections.org.views import auth_blp, units_blp
    from corrections.oversight.views import blp as oversight_blp
    from corrections.persons.views import blp as persons_blp
    from corrections.procedures.views import blp as procedures_blp
    from corrections.public.views import blp as public_blp
    from corrections.public.views import page_blp as public_page_blp
    from corrections.risk.views import blp as risk_blp
    from corrections.supervision.views import blp as supervision_blp
    from corrections.supervision.views_detention import blp as detention_blp
    from corrections.web.choices import blp as choices_blp
    from corrections.web.command import blp as command_blp
    from corrections.web.display import blp as display_blp
    from corrections.web.views import blp as web_blp

    for blp in (
        auth_blp,
        units_blp,
        admin_blp,
        persons_blp,
        grading_blp,
        risk_blp,
        supervision_blp,
        detention_blp,
        incidents_blp,
        procedures_blp,
        alerts_blp,
        command_blp,
        choices_blp,
        display_tokens_blp,
        display_blp,
        audit_blp,
        complaints_blp,
        public_blp,
        exchange_blp,
        oversight_blp,
    ):
        api.register_blueprint(blp)
    app.register_blueprint(web_blp)
    app.register_blueprint(public_page_blp)


def _register_transaction_handling(app: Flask) -> None:
    """One request, one transaction: commit on success, roll back on any error.

    Views and services never commit; this is the outermost use case of an HTTP request.
    Before the commit, the persons the response showed are audited (one row per response);
    after it, freshly written audit rows are sealed into the chain. A failed request's audit
    rows are written again, with the outcome, in a transaction of their own: a refused probe
    of personal data leaves its trace although its own transaction rolled back.
    """
    import threading
    import time

    from flask import g

    from corrections.audit import service as audit
    from corrections.core.db import db

    log = logging.getLogger("corrections.transactions")
    # When this worker last tried to seal: a throttle only, so no other worker needs it.
    last_seal = {"at": float("-inf")}
    seal_lock = threading.Lock()

    def _due_to_seal() -> bool:
        interval = app.config["AUDIT_SEAL_INTERVAL_SECONDS"]
        with seal_lock:
            now = time.monotonic()
            if now - last_seal["at"] < interval:
                return False
            last_seal["at"] = now
            return True

    def _seal_if_due(session) -> None:
        if not _due_to_seal():
            return
        try:
            audit.seal_and_commit(session)
        except Exception:  # the rows stay unsealed and the next pass seals them
            session.rollback()
            log.exception("sealing the audit trail failed")

    @app.teardown_appcontext
    def _seal_after_command(exc) -> None:
        """A command or job that wrote audit rows (outside any request) seals them when it
        ends, so the trail holds no row unsealed for long; what it left uncommitted is
        dropped first (only committed rows are sealed)."""
        from flask import has_request_context

        if has_request_context() or not db.session.info.get("audit_written"):
            return
        session = db.session
        session.info.pop("audit_written", None)
        session.rollback()
        try:
            audit.seal_and_commit(session)
        except Exception:
            session.rollback()
            log.exception("sealing the audit trail failed")

    def _commit_failed(exc: Exception):
        """COMMIT itself failed: whether it took effect is unknown (the connection can drop
        after the database committed), so 503 with the request id, for the client to retry
        with its Idempotency-Key (or read again) and learn which. Logged like every other
        failure: the class, never the message (it can quote the statement's values)."""
        from corrections.core.errors import problem_response
        from corrections.core.i18n import _

        log.error(
            "commit failed (%s) in %s %s, request %s",
            type(getattr(exc, "orig", None) or exc).__name__,
            request.method,
            request.path,
            g.get("request_id"),
        )
        return problem_response(
            503,
            code="commit-failed",
            detail=_(
                "The change could not be confirmed and may or may not be stored: retry with "
                "the same Idempotency-Key, or read the record again, to learn which."
            ),
            headers={"Retry-After": "2"},
        )

    def _commit(session, actor) -> tuple[Any, list]:
        """Commit a successful request: (None, []) when done, else the response that tells
        what happened and the request's audit rows (to write again as refused)."""
        try:
            audit.flush_disclosures(session, actor, request.endpoint)
            session.flush()
        except Exception as exc:  # no COMMIT was sent: nothing is stored, say why as usual
            return app.make_response(app.handle_user_exception(exc)), audit.forget_request(session)
        rows = audit.forget_request(session)
        try:
            session.commit()
        except Exception as exc:
            return _commit_failed(exc), rows
        if rows:
            _seal_if_due(session)
        return None, []

    @app.after_request
    def _finish_transaction(response):
        session = db.session
        actor = g.get("actor")
        rows = None
        if response.status_code < 400:
            failed, rows = _commit(session, actor)
            if failed is None:
                return response
            response = failed  # and on, as a refused request
        if response.status_code >= 400:
            if rows is None:
                rows = audit.forget_request(session)
            session.rollback()
            if actor is None:
                return response
            try:
                audit.write_refused(
                    session,
                    actor=actor,
                    rows=rows,
                    status=response.status_code,
                    endpoint=request.endpoint,
                    method=request.method,
                    person_id=(request.view_args or {}).get("person_id"),
                )
                session.commit()
            except Exception:
                session.rollback()
                log.exception("could not audit a refused request")
                return response
            _seal_if_due(session)
        return response


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/api/v1/"):
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault(
                "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
            )
        return response


def _install_actor_loader(app: Flask) -> None:
    from corrections.core.db import db
    from corrections.org import displays
    from corrections.org.service import load_actor
    from corrections.persons.scope import load_actor_and_person

    def loader(token: str, prefetch: tuple | None = None):
        # A wall display's token (its own prefix) is looked up among the displays: every
        # route but the display's refuses its role (403), none mistakes it for a sign-in.
        if displays.is_display_secret(token):
            return displays.load_actor(db.session, token)
        if prefetch is None:
            return load_actor(db.session, token)
        return load_actor_and_person(db.session, token, *prefetch)

    def display_loader(token: str):
        return displays.load_actor(db.session, token)

    app.extensions["corrections.actor_loader"] = loader
    app.extensions["corrections.display_loader"] = display_loader
