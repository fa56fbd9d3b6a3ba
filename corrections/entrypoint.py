"""``corrections-entrypoint``: how a container or a systemd unit starts a corrections process.

    corrections-entrypoint serve       wait for the database, migrate when CORRECTIONS_MIGRATE=1,
                                       then serve the API and the live alert streams (gunicorn,
                                       gevent workers: README, Production serving)
    corrections-entrypoint scheduler   the job scheduler (leader-elected: any number may run)
    corrections-entrypoint migrate     corrections db upgrade, then exit
    corrections-entrypoint check       the configuration is valid and the database answers
    corrections-entrypoint ARGS...     corrections ARGS... ("users list", "backup create" ...)

Installed with the wheel (a console script), so the units and the image need no file of the
repository. Settings come from ``CORRECTIONS_*`` variables (README, Configuration); the serving
command's own from ``GUNICORN_WORKERS`` (4), ``GUNICORN_BIND`` (0.0.0.0:8000) and
``GUNICORN_WORKER_CONNECTIONS`` (2000). Each long-running process replaces this one (``exec``),
so it receives the stop signal directly.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from corrections.core.i18n import Message, _, cli_render, cli_text

USAGE = __doc__.split("\n\n")[1]


def _bin(name: str) -> str:
    """A command installed beside this interpreter (the virtualenv's or the image's)."""
    return str(Path(sys.executable).parent / name)


def serve_argv(extra: list[str], env: dict[str, str]) -> list[str]:
    """The production serving command (README, Production serving), with ``extra`` options."""
    return [
        _bin("gunicorn"),
        # Its own log lines as JSON, the metrics folder kept right (corrections/gunicorn_conf.py).
        "-c",
        "python:corrections.gunicorn_conf",
        "-k",
        "gevent",
        "-w",
        env.get("GUNICORN_WORKERS", "4"),
        "--worker-connections",
        env.get("GUNICORN_WORKER_CONNECTIONS", "2000"),
        "-b",
        env.get("GUNICORN_BIND", "0.0.0.0:8000"),
        # The app answers over-long URLs and headers with problem+json (414/431): gunicorn's
        # own, lower limits would answer with HTML first.
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "32768",
        "--limit-request-fields",
        "200",
        # gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl by default, one path
        # for every instance the same user runs: a second instance took the first's over.
        "--no-control-socket",
        *extra,
        "corrections.wsgi:app",
    ]


def wait_for_database(seconds: float) -> None:
    """Until the database answers (a container may start before its database), at most
    ``seconds``; the configuration is validated on the way (a bad value stops here)."""
    from sqlalchemy import text

    from corrections import create_app
    from corrections.config import ConfigError
    from corrections.core.cli_errors import startup_error
    from corrections.core.db import db

    try:
        app = create_app()
    except Exception as exc:
        # A setting, the keyring or the instance folder's permissions are wrong: no amount of
        # restarting mends it. Exit 2, which the systemd units name in
        # RestartPreventExitStatus, so the service stays stopped with this line in its
        # journal instead of restarting for ever.
        text = exc.render() if isinstance(exc, ConfigError) else startup_error(exc)
        if text is None:
            raise
        print(f"corrections-entrypoint: {text}", file=sys.stderr)
        raise SystemExit(2) from None
    deadline = time.monotonic() + seconds
    while True:
        with app.app_context():
            try:
                db.session.execute(text("SELECT 1"))
                return
            except Exception as exc:  # not reachable yet: wait, then say why
                db.session.rollback()
                if time.monotonic() >= deadline:
                    message = _(
                        "the database did not answer within {seconds} s ({error})",
                        seconds=format(seconds, "g"),
                        error=type(exc).__name__,
                    )
                    raise SystemExit(f"corrections-entrypoint: {cli_text(message)}") from None
            finally:
                db.session.remove()
        time.sleep(2)


def _migrations_behind() -> Message | None:
    """Why the database's schema is not this code's (None when it is)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from corrections import create_app
    from corrections.core.db import db

    app = create_app()
    head = ScriptDirectory(app.extensions["migrate"].directory).get_current_head()
    with app.app_context():
        try:
            current = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        except Exception:
            current = None
        finally:
            db.session.remove()
    if current == head:
        return None
    if current is None:
        return _(
            "the database has no schema yet, this code's is at {head}: run "
            "corrections-entrypoint migrate first",
            head=head,
        )
    return _(
        "the database's schema is at {current}, this code's at {head}: run "
        "corrections-entrypoint migrate first",
        current=current,
        head=head,
    )


def _district_head_warnings() -> list[Message]:
    """A warning (``check`` still passes) for each name in DISTRICT_HEADS that is not an
    active commander account of a district: the heads approve electronic monitoring (社区矫正法
    29), and a misspelt or disabled name leaves a district without one, unnoticed until a
    commander's approval is refused."""
    from sqlalchemy import select

    from corrections import create_app
    from corrections.core.auth import Role
    from corrections.core.db import db
    from corrections.org.models import Unit, UnitKind, User

    app = create_app()
    names = list(app.config.get("DISTRICT_HEADS") or ())
    if not names:
        return []
    with app.app_context():
        try:
            found = {
                user.username: user
                for user in db.session.scalars(select(User).where(User.username.in_(names)))
            }
            warnings = []
            for name in names:
                user = found.get(name)
                unit = db.session.get(Unit, user.unit_id) if user is not None else None
                if user is None or not user.active or user.role != Role.COMMANDER:
                    reason = _("not an active commander account")
                elif unit is None or unit.kind != UnitKind.DISTRICT or not unit.active:
                    reason = _("the account's unit is not an active district bureau")
                else:
                    continue
                warnings.append(
                    _(
                        "warning: DISTRICT_HEADS names {username}: {reason}; the district's "
                        "electronic monitoring cannot be approved by them",
                        username=name,
                        reason=reason,
                    )
                )
            return warnings
        finally:
            db.session.remove()
            db.engine.dispose()  # this app only answered the question: leave no connection


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else "serve"
    env = dict(os.environ)
    wait = float(env.get("CORRECTIONS_WAIT_SECONDS", "60"))
    corrections = _bin("corrections")
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return
    if command == "serve":
        wait_for_database(wait)
        if env.get("CORRECTIONS_MIGRATE") == "1":
            _migrate_into_the_log([corrections, "db", "upgrade"], env)
        _exec(serve_argv(args, env))
    elif command == "scheduler":
        wait_for_database(wait)
        _exec([corrections, "scheduler", "run", *args])
    elif command == "migrate":
        wait_for_database(wait)
        _exec([corrections, "db", "upgrade"])
    elif command == "check":
        wait_for_database(wait)
        behind = _migrations_behind()
        if behind:
            print(f"corrections-entrypoint: {cli_text(behind)}", file=sys.stderr)
            raise SystemExit(3)
        for warning in _district_head_warnings():
            print(f"corrections-entrypoint: {cli_text(warning)}", file=sys.stderr)
        ready = _("configuration valid, database answers, schema current")
        print(f"corrections-entrypoint: {cli_render(ready)}")
    else:
        _exec([corrections, command, *args])


def _migrate_into_the_log(argv: list[str], env: dict[str, str]) -> None:
    """``db upgrade`` before serving: its closing line for the operator (where the database now
    is) goes into the service's log as a record of its own, so that a JSON log stays one JSON
    object per line (``LOG_FORMAT`` json, or auto without a terminal)."""
    import logging
    import subprocess

    from corrections.core.observability import JsonFormatter, TextFormatter

    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True)  # noqa: S603
    fmt = env.get("CORRECTIONS_LOG_FORMAT", "auto")
    if fmt == "auto":
        fmt = "text" if sys.stdout.isatty() else "json"
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    for line in done.stdout.splitlines():
        if line.strip():
            record = logging.LogRecord(
                "corrections.entrypoint", logging.INFO, __file__, 0, line, None, None
            )
            print(formatter.format(record), flush=True)


def _exec(argv: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process with our own command


if __name__ == "__main__":
    main()
