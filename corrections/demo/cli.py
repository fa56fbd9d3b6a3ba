"""``corrections demo``: migrate, seed a demo city if the database is empty, serve."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import WSGIRequestHandler

from corrections.core.i18n import _, cli_text


def _upgrade() -> None:
    from flask_migrate import upgrade

    upgrade()


def _seed(persons: int, seed: int, history_months: int = 12) -> None:
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.demo.generator import build_agencies, build_persons, build_units_and_users
    from corrections.org.models import Unit

    if db.session.query(Unit.id).first() is not None:
        message = _("the database already has units; demo seed needs an empty one")
        raise click.ClickException(cli_text(message))
    password = current_app.config["DEMO_PASSWORD"]
    accounts = build_units_and_users(db.session, password=password)
    build_agencies(db.session, accounts)
    with click.progressbar(length=persons, label="persons") as bar:
        build_persons(
            db.session,
            count=persons,
            seed=seed,
            now=now_utc(),
            progress=bar.update,
            history_months=history_months,
        )
    db.session.commit()
    # The scheduler's detection jobs once, so the command centre has something to show.
    from datetime import timedelta

    from corrections.scheduler import service as scheduler

    ttl = timedelta(seconds=current_app.config["SCHEDULER_LEASE_SECONDS"])
    for job in DEMO_JOBS:
        scheduler.run_job(db.session, job, holder="demo-seed", lease_ttl=ttl, require_lease=False)
    _activate_default_model(ttl)
    click.echo(f"\nDemo accounts (password: {password}):")
    for row in accounts.rows:
        click.echo(f"  {row['username']:<22} {row['role']:<10} {row['unit']:<10} {row['name']}")


def _activate_default_model(ttl) -> None:
    """Install the shipped default risk model as ``corrections risk activate-shipped`` does
    (copied into RISK_MODELS_DIR if missing, signed with this instance's key only if its card
    is the one reviewed in the repository: ``DEFAULT_MODEL_CARD_SHA256``), and score."""
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.risk import service as risk
    from corrections.scheduler import service as scheduler

    actor = cli_actor()  # whoever seeded the demo at this shell
    try:
        risk.activate_shipped(db.session, actor=actor, now=now_utc())
    except DomainError as exc:
        db.session.rollback()
        click.echo(cli_text(_("risk model not activated: {why}", why=exc.detail)))
        return
    db.session.commit()
    run = scheduler.run_job(
        db.session, "risk_scoring", holder="demo-seed", lease_ttl=ttl, require_lease=False
    )
    click.echo(f"risk model {risk.DEFAULT_MODEL} active; scored: {run.counts}")


DEMO_JOBS = (
    "sweep_obligations",
    "travel_returns",
    "detect_lost_contact",
    "intake_deadlines",
    "term_endings",
    "monitoring_expiry",
    "flag_reviews",
)


class _PathOnlyLogHandler(WSGIRequestHandler):
    """Access log without query strings: a search for a name must not land in the log."""

    def log_request(self, code="-", size="-") -> None:
        try:
            line = f"{self.command} {self.path.split('?', 1)[0]}"
        except AttributeError:  # the request line did not parse; do not echo it
            line = "<malformed request line>"
        self.log("info", '"%s" %s %s', line, code, size)

    def log_error(self, format: str, *args) -> None:
        # http.server puts the raw request line in its messages; keep only the status code.
        code = args[0] if args and isinstance(args[0], int) else "-"
        self.log("error", "request error, code %s", code)


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Run the job scheduler in the same process (production runs it on its own)",
)
@click.pass_context
def demo(ctx, host, port, scheduler) -> None:
    """Upgrade the database, seed a demo city if it is empty, and serve it (with the job
    scheduler running in the background)."""
    if ctx.invoked_subcommand is not None:
        return
    from flask.cli import ScriptInfo

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        from sqlalchemy import select

        from corrections.core.auth import Role
        from corrections.core.db import db
        from corrections.org.models import Unit, User

        _upgrade()
        if db.session.query(Unit.id).first() is None:
            _seed(persons=300, seed=20261127)
        else:
            click.echo("database already seeded; serving it as it is")
        if not app.config["DISTRICT_HEADS"]:
            # The demo names its district commanders as the heads of their district bureaus
            # (who open electronic monitoring); a real bureau names its own in DISTRICT_HEADS.
            app.config["DISTRICT_HEADS"] = list(
                db.session.scalars(select(User.username).where(User.role == Role.COMMANDER))
            )
        db.session.remove()
    if scheduler:
        from corrections.scheduler import process
        from corrections.scheduler import service as scheduler_service

        background = process.build(app, scheduler_service.default_holder(), background=True)
        background.start()
        click.echo("scheduler running in the background (corrections scheduler list)")
    click.echo(f"\nServing on http://{host}:{port}")
    click.echo(f"  command centre: http://{host}:{port}/command-centre")
    click.echo(f"  workbench:      http://{host}:{port}/workbench")
    click.echo(f"  public figures: http://{host}:{port}/public/statistics")
    click.echo(f"  API docs:       http://{host}:{port}/api/docs")
    from werkzeug.serving import run_simple

    run_simple(
        host, port, app, threaded=True, use_reloader=False, request_handler=_PathOnlyLogHandler
    )


@demo.command("seed")
@click.option("--persons", default=300, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--seed", default=20261127, show_default=True, type=int)
@click.option(
    "--history-months",
    default=12,
    show_default=True,
    type=click.IntRange(0, 60),
    help="Months of simulated supervision history per person (0: none)",
)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Build the city as of this day (Asia/Shanghai midnight) instead of now: with the "
    "same seed, the same data on any day (the default model is trained on such data)",
)
@with_appcontext
def demo_seed(persons, seed, history_months, as_of) -> None:
    """Build a deterministic demo city: 5 districts, 3–6 offices each, staff, N persons, each
    with up to --history-months of supervision history."""
    if as_of is not None:
        from corrections.core.clock import FrozenClock, start_of_business_day

        current_app.extensions["corrections.clock"] = FrozenClock(
            start_of_business_day(as_of.date())
        )
    _seed(persons, seed, history_months)
