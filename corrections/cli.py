"""The ``corrections`` command: Flask CLI groups for operators."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, with_appcontext

from corrections import create_app
from corrections.core.i18n import _, cli_column, cli_render, cli_text, install_click_messages

# click's own messages ("Usage:", "Error:", "Missing argument") in the operator's language too.
install_click_messages()


def _create_app():
    """The app for a command; a bad setting, a keyring that is not the database's or an
    instance folder this user cannot write ends the command with one line (exit 2), not a
    traceback (:func:`~corrections.core.cli_errors.startup_error`)."""
    from corrections.config import ConfigError
    from corrections.core.cli_errors import OperatorError, startup_error

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(2)
    except Exception as exc:
        line = startup_error(exc)
        if line is None:
            raise
        raise OperatorError(line) from None


class CorrectionsGroup(FlaskGroup):
    """Flask's command group, with two differences for operators.

    Its command groups are its own (:func:`app_groups`), not looked up in a created app: the
    app is made only when a command runs (``with_appcontext``), so ``corrections --help``,
    ``corrections users --help`` or ``corrections db upgrade --help`` create no instance
    folder, keyring, secret or database file.

    A command run against a database that was never migrated ends with one line saying so
    (:func:`~corrections.core.cli_errors.missing_table_message`), exit status 1, instead of a
    SQLAlchemy traceback; one that lacks a table of a migrated schema names the table as lost
    (damaged or tampered with), exit status 1.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(click.Group.list_commands(self, ctx))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load_plugin_commands()
        return click.Group.get_command(self, ctx, name)

    def invoke(self, ctx: click.Context):
        from corrections.core.cli_errors import missing_table, missing_table_message

        try:
            return super().invoke(ctx)
        except Exception as exc:
            from corrections.core.cli_errors import OperatorError
            from corrections.core.keys import KeyringError

            if isinstance(exc, KeyringError):  # a key the data needs is not in the keyring
                raise OperatorError(cli_text(exc.args[0] if exc.args else str(exc))) from None
            table = missing_table(exc)
            if table is None:
                raise
            from flask.cli import ScriptInfo

            from corrections.core.db import db

            try:
                app = ctx.ensure_object(ScriptInfo).load_app()
                with app.app_context():
                    message = missing_table_message(db.engine, table)
            except Exception:  # no app to ask the database with: name the table
                message = missing_table_message(None, table)
            raise click.ClickException(cli_text(message)) from None


def _version(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from corrections import __version__

    click.echo(f"corrections {__version__}")
    ctx.exit()


@click.group(cls=CorrectionsGroup, create_app=_create_app, add_version_option=False)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Show the version and exit.",
)
def main() -> None:
    """corrections: community-corrections supervision (社区矫正)."""


def _migrations_group() -> click.Group:
    """Flask-Migrate's ``db`` commands, the app made only when one runs: its own group makes
    the app in the group's callback, before a subcommand's ``--help`` is read. Each command
    here sets what that callback set (``g.directory``, ``g.x_arg``) in the app context its
    own ``with_appcontext`` pushes."""
    import copy
    import functools

    from flask import g
    from flask_migrate.cli import db as original

    def deferred(callback):
        @functools.wraps(callback)
        @with_appcontext
        def run(*args, **kwargs):
            params = click.get_current_context().parent.params
            g.directory, g.x_arg = params.get("directory"), params.get("x_arg") or ()
            return callback(*args, **kwargs)

        return run

    def summarised(callback):
        """``db upgrade`` ends with one line in the operator's language after alembic's own
        (English) log lines: where the database now is, or that it already was there."""

        @functools.wraps(callback)
        def run(*args, **kwargs):
            if kwargs.get("sql"):  # offline: prints SQL, changes nothing
                return callback(*args, **kwargs)
            before = _schema_revision()
            result = callback(*args, **kwargs)
            after = _schema_revision()
            if after == before:
                message = _("the database is up to date ({revision})", revision=after or "-")
            else:
                message = _("database upgraded to {revision}", revision=after or "-")
            click.echo(cli_render(message))
            return result

        return run

    commands = {}
    for name, command in original.commands.items():
        commands[name] = copy.copy(command)
        callback = summarised(command.callback) if name == "upgrade" else command.callback
        commands[name].callback = deferred(callback)
    from corrections.supervision.partitions_cli import COMMANDS

    commands.update({command.name: command for command in COMMANDS})
    return click.Group(
        name=original.name,
        params=list(original.params),
        commands=commands,
        help=original.help,
    )


def _schema_revision() -> str | None:
    """The migration the database is at (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    from corrections.core.db import db

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def app_groups() -> list[click.Command]:
    """The command groups that work on the app (``users``, ``db``, ``backup`` ...)."""
    from flask_smorest.spec import openapi_cli

    from corrections.backup.cli import backup
    from corrections.demo.cli import demo
    from corrections.exchange.cli import exchange
    from corrections.org.cli import USER_COMMANDS, display, org
    from corrections.persons.cli import persons
    from corrections.risk.cli import risk

    for command in USER_COMMANDS:
        users.add_command(command)
    return [
        users,
        org,
        display,
        audit,
        keys,
        demo,
        grading,
        supervision,
        scheduler,
        risk,
        persons,
        backup,
        exchange,
        _migrations_group(),
        openapi_cli,
    ]


def register(app) -> None:
    """Attach the command groups that need the app to ``app.cli`` (``flask`` sees them too;
    ``corrections`` has them as its own, :class:`CorrectionsGroup`)."""
    for group in app_groups():
        if group.name not in app.cli.commands:  # db and openapi: their extensions add them
            app.cli.add_command(group)


# --- users -------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Manage staff accounts."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:  # nothing piped in (or an empty line): say so, not "too short"
            raise click.ClickException(cli_text(_("no password on standard input")))
    elif os.environ.get("CORRECTIONS_NEW_USER_PASSWORD"):
        password = os.environ["CORRECTIONS_NEW_USER_PASSWORD"]
    elif sys.stdin.isatty():
        label = cli_render(_("Password"))
        password = click.prompt(label, hide_input=True, confirmation_prompt=True)
    else:
        message = _(
            "give the password on standard input with --password-stdin, or in "
            "CORRECTIONS_NEW_USER_PASSWORD, or let the user set it with --issue-code; never "
            "on the command line"
        )
        raise click.UsageError(cli_text(message))
    return password


@users.command("create")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "commander", "city", "analyst", "auditor", "admin"]),
)
@click.option("--unit", "unit_code", required=True, help="Unit code (office for an officer, ...)")
@click.option("--name", "display_name", default="", help="Display name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@click.option(
    "--issue-code",
    is_flag=True,
    help="No password: print a one-time reset code for the user to set their own",
)
@with_appcontext
def users_create(username, role, unit_code, display_name, password_stdin, issue_code) -> None:
    """Create an account. The password comes from stdin or the environment, never argv; or,
    with --issue-code, the user sets it with a one-time code printed here."""
    from corrections.core.auth import Role
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import BUSINESS_TZ
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.org import accounts, service
    from corrections.org.cli import reset_code_text

    if issue_code and password_stdin:
        raise click.UsageError(cli_text(_("--issue-code and --password-stdin exclude each other")))
    password = None if issue_code else _read_password(password_stdin)
    try:
        if issue_code:
            issued = accounts.create_account(
                db.session,
                username=username,
                role=Role(role),
                unit_code=unit_code,
                display_name=display_name,
                actor=cli_actor(),
            )
            user = issued.user
        else:
            user = service.create_user(
                db.session,
                username=username,
                password=password,
                role=Role(role),
                unit_code=unit_code,
                display_name=display_name,
                actor=cli_actor(),
            )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(domain_message(exc)) from exc
    name, role = user.username, user.role
    created = _("created {username} ({role}, {unit})", username=name, role=role, unit=unit_code)
    click.echo(cli_render(created))
    if issue_code:
        click.echo(reset_code_text(issued, BUSINESS_TZ))


@users.command("disable")
@click.argument("username")
@with_appcontext
def users_disable(username) -> None:
    """Disable an account and revoke its tokens and reset codes."""
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.org import service

    try:
        service.disable_user(db.session, username=username, actor=cli_actor())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(domain_message(exc)) from exc
    click.echo(cli_render(_("disabled {username}", username=username)))


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts")
@with_appcontext
def users_list(as_json) -> None:
    """List accounts: username, role, unit code, unit name, active."""
    from corrections.core.db import db
    from corrections.org import service

    rows = [
        {
            "username": u.username,
            "role": u.role,
            "unit_code": u.unit.code,
            "unit_name": u.unit.name_zh,
            "active": u.active,
        }
        for u in service.list_users(db.session)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    widths = (24, 10, 12, 6)

    def line(*cells) -> str:
        return " ".join([*map(cli_column, cells[:-1], widths), cells[-1]])

    heading = (_("username"), _("role"), _("unit code"), _("active"), _("unit name"))
    click.echo(line(*(cli_render(h) for h in heading)))
    yes, no = cli_render(_("yes")), cli_render(_("no"))
    for r in rows:
        active = yes if r["active"] else no
        click.echo(line(r["username"], r["role"], r["unit_code"], active, r["unit_name"]))


# --- audit -------------------------------------------------------------------------------


@click.group()
def audit() -> None:
    """Audit trail: seal, verify and anchor the keyed hash chain."""


@audit.command("seal")
@with_appcontext
def audit_seal() -> None:
    """Chain every audit row not yet sealed (and append the seal's signed checkpoint)."""
    from corrections.audit.service import seal_and_commit
    from corrections.core.db import db

    n = seal_and_commit(db.session)
    click.echo(cli_render(_("sealed {count} audit rows", count=n)))


@audit.command("verify")
@click.option(
    "--checkpoints",
    "checkpoint_path",
    type=click.Path(dir_okay=False),
    help="Checkpoint file to check against (default: AUDIT_CHECKPOINT_PATH)",
)
@with_appcontext
def audit_verify(checkpoint_path) -> None:
    """Check the chain against the audit keys and the signed checkpoints; never seals.

    Exit 1 with every rewritten, missing, inserted or truncated row by sequence number.
    """
    from corrections.audit.service import verify
    from corrections.core.db import db

    result = verify(db.session, checkpoint_path=checkpoint_path)
    db.session.rollback()
    for note in result.notes:
        click.echo(cli_render(note))
    if result.ok:
        intact = _(
            "audit trail intact: {checked} rows verified against {checkpoints} checkpoint(s), "
            "{unsealed} not yet sealed",
            checked=result.checked,
            checkpoints=result.checkpoints,
            unsealed=result.unsealed,
        )
        click.echo(cli_render(intact))
        return
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(result.counts.items()))
    broken = _(
        "AUDIT TRAIL BROKEN ({summary}); {checked} sealed rows read:",
        summary=summary,
        checked=result.checked,
    )
    click.echo(cli_render(broken), err=True)
    for finding in result.findings:
        click.echo(f"  {finding.kind}: {cli_render(finding.text)}", err=True)
    sys.exit(1)


@audit.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Print the latest signed checkpoint (write it down, or file it elsewhere)."""
    from flask import current_app

    from corrections.audit import checkpoints
    from corrections.core import keys

    top = checkpoints.latest(current_app.config["AUDIT_CHECKPOINT_PATH"], keys.current())
    if top is None:
        click.echo(cli_text(_("no checkpoint yet: run `corrections audit seal` first")), err=True)
        sys.exit(1)
    click.echo(json.dumps(top, sort_keys=True))


@audit.command("acknowledge-restore")
@click.option("--reason", required=True, help="Which backup was restored, and why")
@with_appcontext
def audit_acknowledge_restore(reason) -> None:
    """After restoring the database from a backup: record, signed, where the restored trail
    ends, so checkpoints of the rows lost with the restore are not taken for truncation."""
    from flask import current_app

    from corrections.audit import checkpoints
    from corrections.audit.models import AuditChainHead
    from corrections.core import keys
    from corrections.core.clock import now_utc
    from corrections.core.db import db

    head = db.session.get(AuditChainHead, 1)
    seq, digest = (head.last_seq, head.last_hash) if head else (0, "0" * 64)
    record = checkpoints.acknowledge_restore(
        current_app.config["AUDIT_CHECKPOINT_PATH"],
        seq=seq,
        hash=digest,
        at=now_utc(),
        reason=reason,
        keyring=keys.current(),
    )
    db.session.rollback()
    message = _("restore acknowledged: the trail ends at seq {seq}", seq=record["seq"])
    click.echo(cli_render(message))
    from corrections.backup.dialects import masked

    # Which instance's checkpoints now take the restore, and for which database: the file
    # and the database must be the same instance's (README, Restoring after a loss).
    where = _(
        "in the checkpoint file {path}, for the database {database}",
        path=current_app.config["AUDIT_CHECKPOINT_PATH"],
        database=masked(current_app.config["DATABASE_URL"]),
    )
    click.echo(cli_render(where))


# --- keys --------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """The keyring (field encryption, blind indexes, audit HMAC): rotate, and status."""


_RESTART = _(
    "running web workers and the scheduler reload the keyring file within a second; "
    "a keyring given by CORRECTIONS_KEYRING must be set anew there and the service restarted"
)


@keys.command("rotate")
@click.option(
    "--purpose", type=click.Choice(["field", "index", "audit"]), required=True, help="Which key"
)
@click.option(
    "--batch",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows per batch (one commit per batch)",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Add no key: finish bringing the data under the active key (after an interrupted run)",
)
@click.option(
    "--key-only",
    is_flag=True,
    help="Add the key and stop (bring the data under it later with --resume)",
)
@with_appcontext
def keys_rotate(purpose, batch, resume, key_only) -> None:
    """Add a key for PURPOSE and make it active (old keys stay, to read what they protect),
    then bring the stored data under it: ``field`` re-encrypts every value still under an
    older field key, ``index`` recomputes every blind index; ``audit`` only rotates (each
    sealed row names its key). Batched and resumable: an interrupted run is finished by
    ``--resume`` (or a later rotation), which takes only what is not yet under the active key.
    Lookups try every index key, so search and the duplicate check work throughout; running
    web workers and the scheduler reload the rewritten keyring file within a second."""
    from corrections.core import keys as keyring
    from corrections.core import rotation
    from corrections.core.db import db

    ring = keyring.current()
    if resume and key_only:
        message = _("--resume adds no key and --key-only only adds one: pick one")
        raise click.UsageError(cli_text(message))
    if not resume:
        try:
            key_id = ring.rotate(purpose)
        except keyring.KeyringError as exc:
            raise click.ClickException(cli_text(exc.args[0] if exc.args else str(exc))) from None
        message = _(
            "{purpose}: new active key {key_id} (older keys kept)", purpose=purpose, key_id=key_id
        )
        click.echo(cli_render(message))
        _audit_rotation(purpose, key_id)
    if purpose == "audit" or key_only:
        if purpose == "audit":
            click.echo(
                cli_render(_("audit: rows sealed from now on are chained under the new key"))
            )
        click.echo(cli_render(_RESTART))
        if key_only and purpose != "audit":
            command = f"corrections keys rotate --purpose {purpose} --resume"
            click.echo(cli_render(_("then: {command}", command=command)))
        return
    active = ring.active_id(purpose)
    done = 0

    def progress(table: str, n: int) -> None:
        nonlocal done
        done += n
        message = _(
            "{table}: {count} rows under {key_id} ({done} so far)",
            table=table,
            count=n,
            key_id=active,
            done=done,
        )
        click.echo("  " + cli_render(message))

    rotation.run(
        db.session.connection,
        rotation.tables_from_metadata(db.metadata),
        ring,
        fields=purpose == "field",
        indexes=purpose == "index",
        batch=batch,
        commit=db.session.commit,
        progress=progress,
    )
    left = _pending_counts(purpose)
    message = _(
        "{purpose}: {count} rows brought under {key_id}; still under older keys: {left}",
        purpose=purpose,
        count=done,
        key_id=active,
        left=left,
    )
    click.echo(cli_render(message))
    if not resume:
        click.echo(cli_render(_RESTART))


def _audit_rotation(purpose: str, key_id: str) -> None:
    """A key rotation is recorded in the trail (by whom on which machine; never the key)."""
    import socket

    from corrections.audit import service as audit
    from corrections.core.cli_identity import cli_actor, os_user
    from corrections.core.db import db

    audit.record(
        db.session,
        actor=cli_actor(),
        action="keys.rotate",
        detail={
            "purpose": purpose,
            "key_id": key_id,
            "os_user": os_user(),
            "host": socket.gethostname(),
        },
    )
    db.session.commit()


def _pending_counts(purpose: str) -> dict[str, int]:
    from corrections.core import keys as keyring
    from corrections.core import rotation
    from corrections.core.db import db

    ring = keyring.current()
    active = ring.active_id(purpose)
    counts = {}
    for spec in rotation.tables_from_metadata(db.metadata):
        n = rotation.count_pending(
            db.session.connection(),
            spec,
            field_key=active if purpose == "field" else None,
            index_key=active if purpose == "index" else None,
        )
        has = (spec.fields or spec.json_members) if purpose == "field" else spec.indexes
        if has:
            counts[spec.name] = n
    db.session.rollback()
    return counts


@keys.command("status")
@with_appcontext
def keys_status() -> None:
    """Per purpose: the key ids, the active one, and (field, index) how many rows per table
    are still under an older key."""
    from corrections.core import keys as keyring

    ring = keyring.current()
    for purpose in keyring.PURPOSES:
        ids = sorted(ring.all(purpose), key=lambda k: (len(k), k))
        message = _(
            "{purpose}: active {key_id}; keys {keys}",
            purpose=purpose,
            key_id=ring.active_id(purpose),
            keys=", ".join(ids),
        )
        click.echo(cli_render(message))
        if purpose != "audit":
            for table, n in _pending_counts(purpose).items():
                message = _("{table}: {count} rows under older keys", table=table, count=n)
                click.echo("  " + cli_render(message))


# --- grading -----------------------------------------------------------------------------


@click.group()
def grading() -> None:
    """Three-level five-grade management (三级五等)."""


@grading.command("assess")
@click.option("--month", "month_text", help="YYYY-MM; default: the month that ended last")
@with_appcontext
def grading_assess(month_text) -> None:
    """Score a month for every supervised person; re-running the same month changes nothing."""
    from sqlalchemy import func, select

    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.grading.jobs import (
        parse_month,
        previous_month,
        run_monthly_assessment,
    )
    from corrections.persons.models import SUPERVISED_STATUSES, Person

    now = now_utc()
    try:
        month = parse_month(month_text) if month_text else previous_month(now)
    except ValueError as exc:
        raise click.BadParameter(_why(exc), param_hint="--month") from exc
    total = (
        db.session.scalar(select(func.count()).where(Person.status.in_(SUPERVISED_STATUSES))) or 0
    )
    try:
        with click.progressbar(length=total, label=f"assessing {month:%Y-%m}") as bar:
            run = run_monthly_assessment(db.session, month=month, now=now, progress=bar.update)
    except ValueError as exc:
        raise click.BadParameter(_why(exc), param_hint="--month") from exc
    counts = run.counts()
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
    if run.errors:
        click.echo(
            "errors (person id: error): "
            + ", ".join(f"{pid}: {err}" for pid, err in sorted(run.errors.items())),
            err=True,
        )
        sys.exit(1)


def _why(exc: Exception) -> str:
    """An exception's reason for the terminal: a message (core/i18n.py) in Chinese, then
    English; any other text as it is."""
    reason = exc.args[0] if exc.args else ""
    return cli_text(reason) if isinstance(reason, str) else str(exc)


# --- supervision -------------------------------------------------------------------------


@click.group()
def supervision() -> None:
    """Supervision log and obligations."""


@supervision.command("sweep")
@with_appcontext
def supervision_sweep() -> None:
    """Mark overdue obligations missed, plan the next ones and this month's hour windows, and
    mark travel permits whose holder is not back in time overdue. Safe to run any time."""
    from corrections.core.db import db
    from corrections.supervision.worklist import sweep

    result = sweep(db.session)
    db.session.commit()
    swept = _(
        "{missed} obligations marked missed, {planned} planned, {hour_windows} hour windows "
        "planned",
        missed=result.missed,
        planned=result.planned,
        hour_windows=result.hour_windows,
    )
    click.echo(cli_render(swept))


# --- scheduler ---------------------------------------------------------------------------


@click.group()
def scheduler() -> None:
    """The job scheduler: run it, list its jobs, run one now."""


@scheduler.command("run")
@click.option("--holder", default=None, help="Name of this scheduler (default host:pid)")
@with_appcontext
def scheduler_run(holder: str | None) -> None:
    """Start the scheduler (blocks). Run two for fail-over: only the lease holder acts; the
    other takes over when the lease expires. SIGTERM or Ctrl-C lets running jobs finish and
    releases the lease, so a restart or the standby takes over at once."""
    from flask import current_app

    from corrections.scheduler import process, service

    name = holder or service.default_holder()

    def started(sched) -> None:
        jobs = len(sched.get_jobs()) - 1
        banner = _(
            "scheduler {name}: {jobs} jobs (Asia/Shanghai); Ctrl-C or SIGTERM stops",
            name=name,
            jobs=jobs,
        )
        click.echo(cli_render(banner))

    process.serve(current_app._get_current_object(), name, on_start=started)


@scheduler.command("list")
@with_appcontext
def scheduler_list() -> None:
    """Jobs with their triggers, next and last runs, and the current leader."""
    from flask import current_app

    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.scheduler import service

    now = now_utc()
    view = service.overview(db.session, current_app.config["SCHEDULER_TRIGGERS"], now)
    lease = service.lease_holder(db.session)
    if view["leader"] and lease is not None:
        leader = _(
            "leader: {holder} (lease renewed {renewed}, until {until})",
            holder=view["leader"],
            renewed=_beijing(lease.acquired_at),
            until=_beijing(lease.expires_at),
        )
    else:
        leader = _("leader: (none)")
    click.echo(cli_render(leader))
    click.echo(cli_render(_("times: Beijing (Asia/Shanghai, +08:00)")))
    widths = (22, 18, 27)
    heading = (_("job"), _("trigger"), _("next run"), _("last run"))
    names = [cli_render(h) for h in heading]
    click.echo(" ".join([*map(cli_column, names[:-1], widths), names[-1]]))
    never = cli_render(_("never"))
    for job in view["jobs"]:
        last = job["last_run"]
        last_text = f"{_beijing(last['started_at'])} {last['status']}" if last else never
        cells = (job["name"], job["trigger"], _beijing(job["next_run_at"]))
        click.echo(" ".join([*map(cli_column, cells, widths), last_text]))


def _beijing(at) -> str:
    """An instant as Beijing time with its offset, ``2026-12-01 10:00:00+08:00``."""
    from corrections.core.clock import BUSINESS_TZ

    if at is None:
        return "-"
    return at.astimezone(BUSINESS_TZ).isoformat(sep=" ", timespec="seconds")


@scheduler.command("run-once")
@click.argument("job")
@click.option(
    "--ignore-lease",
    is_flag=True,
    help="Run even while a scheduler holds the lease (the job is idempotent)",
)
@with_appcontext
def scheduler_run_once(job: str, ignore_lease: bool) -> None:
    """Run one job now and print what it did."""
    from datetime import timedelta

    from flask import current_app

    from corrections.core.db import db
    from corrections.scheduler import service

    if job not in service.JOBS:
        message = _("unknown job; one of: {jobs}", jobs=", ".join(service.JOBS))
        raise click.BadParameter(cli_text(message), param_hint="JOB")
    holder = service.default_holder()
    try:
        run = service.run_job(
            db.session,
            job,
            holder=holder,
            lease_ttl=timedelta(seconds=current_app.config["SCHEDULER_LEASE_SECONDS"]),
            require_lease=not ignore_lease,
        )
    finally:
        # The lease was taken for this one run only: a scheduler (or the next run-once) must
        # not wait it out. Releases nothing when another scheduler holds it.
        db.session.rollback()
        service.release_lease(db.session, holder=holder)
    if run is None:
        lease = service.lease_holder(db.session)
        db.session.rollback()
        held = (
            _(
                "scheduler {holder} holds the leader lease until {until}",
                holder=lease.holder,
                until=_beijing(lease.expires_at),
            )
            if lease is not None
            else _("another scheduler held the leader lease a moment ago")
        )
        message = _(
            "{held}: the leader runs {job} on its schedule (`corrections scheduler list` "
            "shows when). To run it here now anyway, add --ignore-lease (a job is idempotent: "
            "running it beside the leader duplicates nothing).",
            held=held,
            job=job,
        )
        raise click.ClickException(cli_text(message))
    click.echo(json.dumps(service.run_view(run), default=str, ensure_ascii=False, indent=2))
    if run.status == "failed":
        sys.exit(1)


# --- rules -------------------------------------------------------------------------------


@main.group(cls=click.Group)
def rules() -> None:
    """Rules as data (rules/*.yaml)."""


def _rules_dir():
    """The rules folder, for commands that work without starting the app (every rules schema
    registered, the folder from CORRECTIONS_RULES_DIR or the default)."""
    from pathlib import Path

    from corrections import _import_models
    from corrections.config import DEFAULT_RULES_DIR

    _import_models()
    return Path(os.environ.get("CORRECTIONS_RULES_DIR", DEFAULT_RULES_DIR))


@rules.command("validate")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def rules_validate(files) -> None:
    """Validate rules files (all registered ones in the rules folder by default).

    Works without starting the app, so a broken file can be checked before a deploy.
    """
    from pathlib import Path

    from corrections.core import rules as registry

    rules_dir = _rules_dir()
    paths = [Path(f) for f in files] or [rules_dir / n for n in registry.registered_files()]
    failed = False
    from corrections.core import clocks

    if not files:
        paths += sorted((rules_dir / "holidays").glob("*.yaml"))
    for path in paths:
        try:
            if path.parent.name == "holidays":
                data = clocks.load_holidays_file(path)
                data["version"] = data["year"]
            else:
                data = registry.load_file(path)
        except registry.RulesError as exc:
            failed = True
            click.echo(cli_render(_("FAIL {error}", error=str(exc))), err=True)
        else:
            ok = _("ok   {file} (version {version})", file=path.name, version=data.get("version"))
            click.echo(cli_render(ok))
    _warn_missing_holidays(rules_dir, bool(files))
    if failed:
        sys.exit(1)


def _warn_missing_holidays(rules_dir: Path, only_files: bool) -> None:
    """In November and December (Asia/Shanghai), a warning (not a failure) when next year's
    holiday calendar (rules/holidays/YYYY.yaml) is missing: the working-day clocks (intake
    and report deadlines) past 1 January need it, and the State Council publishes next
    year's holidays around November."""
    from corrections.core.clock import business_date, now_utc

    today = business_date(now_utc())
    if only_files or today.month < 11:
        return
    year = today.year + 1
    path = rules_dir / "holidays" / f"{year}.yaml"
    if path.exists():
        return
    message = _(
        "warning: {path} is missing: the working-day clocks need next year's holidays from 1 "
        "January (the State Council publishes them around November); add it before the year "
        "ends",
        path=str(path),
    )
    click.echo(cli_text(message), err=True)


def _show_articles() -> None:
    """Every rule that names its article, across all rules files, and the holiday calendars."""
    from corrections.core import clocks
    from corrections.core import rules as registry

    rules_dir = _rules_dir()
    rows = []
    try:
        for name in registry.registered_files():
            data = registry.load_file(rules_dir / name)
            rows += [{"file": name, **row} for row in registry.articles(data)]
        holidays = sorted((rules_dir / "holidays").glob("*.yaml"))
        calendars = [(p.name, clocks.load_holidays_file(p)) for p in holidays]
    except registry.RulesError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'file: rule':<48} {'value':<12} {'unit / counts':<36} article 条款 [basis]")
    for row in rows:
        flag = "" if row["verified"] else "  ⚠ UNVERIFIED"
        click.echo(
            f"{row['file'] + ': ' + row['path']:<48} {row['value']:<12} {row['unit']:<36} "
            f"{row['article']} [{row['basis'] or '-'}]{flag}  {row['label_zh']}"
        )
    for filename, data in calendars:
        flag = "" if data["verified"] else "  ⚠ UNVERIFIED"
        click.echo(
            f"holidays/{filename}: {len(data['holidays'])} holidays, "
            f"{len(data['working_weekends'])} working weekends ({data['source']}){flag}"
        )


@rules.command("show")
@click.option(
    "--articles", is_flag=True, help="Every rule with its article and value, across rules files."
)
def rules_show(articles: bool) -> None:
    """Print the grading rules as a table (Chinese and English); with ``--articles``, every
    rule that names its legal basis, across all rules files."""
    if articles:
        _show_articles()
        return
    from corrections.core import rules as registry
    from corrections.grading.rules import build

    rules_dir = _rules_dir()
    try:
        g = build(
            registry.load_file(rules_dir / "grading.yaml"),
            registry.load_file(rules_dir / "assessment.yaml"),
        )
    except registry.RulesError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rules version {g.combined_version}\n")
    click.echo(
        "grade 等级         level 管理级别     report 报到  check 核查  visit 走访  "
        "edu 教育h/月  service 服务h/月  travel 外出"
    )
    for grade in g.grades:
        r = grade.requirements
        level = g.levels[grade.level]
        limit = [f"≤{r.travel_max_days}d"] if r.travel_max_days else []
        travel = "/".join([r.travel_approver, *limit, *r.travel_conditions])
        click.echo(
            f"{grade.id:<9}{grade.label_zh:<6}{grade.level:<9}{level['label_zh']:<6}"
            f"{r.report_interval_days:>7}d {r.check_interval_days:>8}d {r.visit_interval_days:>8}d"
            f" {r.education_hours_per_month:>10} {r.service_hours_per_month:>14}    {travel}"
        )
    click.echo(f"\nintake 入矫 (first {g.intake_period_months} months):")
    for rule in g.intake_rules:
        click.echo(f"  {rule.id:<48} -> {rule.data['grade']:<9} {rule.label_zh}")
    click.echo("stricter at once 立即从严:")
    for rule in g.stricter_rules:
        click.echo(f"  {rule.id:<48} -> {rule.data['at_least']:<9} {rule.label_zh}")
    lo = g.looser
    click.echo(
        f"looser 逐级放宽: one step, approved by {lo['approval']}; >= {lo['min_months_in_grade']}"
        f" months in grade; last {lo['good_assessments_required']} assessments good; no sanction"
        f" in {lo['sanction_free_months']} months"
    )
    click.echo(f"review 复核: every {g.review_interval_months} months")
    click.echo(
        f"assessment 考核: base {g.base_points}; ratings "
        + ", ".join(f"{r['id']} {r['label_zh']} >= {r['min_score']}" for r in g.ratings)
    )
    for d in g.deductions:
        pts = d.data.get("points", d.data.get("points_per_hour"))
        unit = "/h" if "points_per_hour" in d.data else ""
        click.echo(f"  {d.id:<32} -{pts}{unit:<3} {d.label_zh}")


# --- config and deploy: what an installation needs from the package ----------------------


@main.group("config", cls=click.Group)
def config_group() -> None:
    """The settings file (instance/config.py)."""


@config_group.command("example")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to this file (mode 0600: it will hold secrets) instead of printing it",
)
@click.option("--force", is_flag=True, help="Replace the file if it is there")
def config_example(out: Path | None, force: bool) -> None:
    """Print the example settings file, every setting with its default, or write it with
    --out (mode 0600, since it will hold the secret key and database password; an existing
    file only with --force): ``corrections config example --out
    /var/lib/corrections/instance/config.py``, then edit it. Works without a database."""
    from corrections.config import CONFIG_EXAMPLE

    text = CONFIG_EXAMPLE.read_text(encoding="utf-8")
    if out is None:
        click.echo(text, nl=False)
        return
    if force:
        out.unlink(missing_ok=True)
    try:
        # Created private, never widened afterwards: a shell's "> file" makes it 0644 first.
        fd = _create(out, 0o600)
    except FileExistsError:
        message = _("{file} exists: nothing written (--force replaces it)", file=str(out))
        raise click.ClickException(cli_text(message)) from None
    except OSError as exc:
        from corrections.core.cli_errors import os_reason

        message = _("{file}: {reason}", file=str(out), reason=os_reason(exc))
        raise click.ClickException(cli_text(message)) from None
    _write(fd, text)
    click.echo(str(out))


def _create(path: Path, mode: int) -> int:
    """A new file at ``path`` with ``mode`` from the start (``O_EXCL``: an existing file or
    a planted link is refused, never followed or widened)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)


def _write(fd: int, text: str) -> None:
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


# What a path pasted into a unit's ExecStart= may hold.
UNIT_PATH = re.compile(r"/[\w.+@/-]*")


@main.group("deploy", cls=click.Group)
def deploy_group() -> None:
    """Files a deployment needs, from the installed package."""


@deploy_group.command("systemd")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the files into this folder (made if missing) instead of printing them",
)
@click.option(
    "--venv",
    default=None,
    help="The virtualenv the units start (default: this one, where corrections runs from)",
)
@click.option("--force", is_flag=True, help="Replace files that are already in --out")
def deploy_systemd(out, venv, force) -> None:
    """The systemd units (corrections-web.service, corrections-scheduler.service) and the
    example settings file they read (corrections.env.example), with ExecStart pointing at
    the virtualenv this command runs from (or --venv: an absolute path of letters, digits
    and . _ - + @ /). Printed one after the other, or written into --out: then install them
    (README, Installing from the wheel)."""
    from corrections.config import SYSTEMD_DIR

    prefix = (venv or sys.prefix).rstrip("/")
    if not UNIT_PATH.fullmatch(prefix):
        # Pasted into ExecStart= as it is: a newline would add a line of its own to the unit
        # (ExecStartPre=... run as root, hostile review), a space splits the command, "%" is
        # a systemd specifier.
        message = _(
            "{path}: the virtualenv must be an absolute path of letters, digits and . _ - + @ / "
            "(no spaces, quotes, % or control characters): systemd reads it in ExecStart=",
            path=repr(prefix),
        )
        raise click.UsageError(cli_text(message))
    files = {}
    for path in sorted(SYSTEMD_DIR.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        files[path.name] = path.read_text(encoding="utf-8").replace(
            "/opt/corrections/venv/", f"{prefix}/"
        )
    if out is None:
        for name, text in files.items():
            click.echo(f"# ==> {name} <==")
            click.echo(text, nl=not text.endswith("\n"))
        return
    existing = [name for name in files if (out / name).exists()]
    if existing and not force:
        message = _(
            "{files} already in {folder}: nothing written (--force replaces them)",
            files=", ".join(existing),
            folder=str(out),
        )
        raise click.ClickException(cli_text(message))
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        # The settings file will hold the database password and the secret key.
        mode = 0o600 if name.endswith(".env.example") else 0o644
        target = out / name
        target.unlink(missing_ok=True)
        _write(_create(target, mode), text)
        click.echo(f"{target}")


for _group in app_groups():
    main.add_command(_group)


if __name__ == "__main__":
    main()
