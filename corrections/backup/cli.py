"""``corrections backup``: create, verify, restore, drill, list and prune backups."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from corrections.core.i18n import _, cli_column, cli_locale, cli_render, cli_text, lookup_stored


@click.group()
def backup() -> None:
    """Backup and restore (容灾备份): copies with signed manifests, restore drills."""


def _fail(exc) -> click.ClickException:
    """A domain error as the command's message (Chinese, the English in parentheses: see
    core/i18n.py ``cli_text``), then each finding by kind."""
    lines = [cli_text(exc.detail)]
    for kind, text in (exc.errors or {}).items():
        lines.append(f"  {kind}: {cli_text(text)}")
    return click.ClickException("\n".join(lines))


def _stored(text) -> str:
    """A job run's error text as stored (the English of its messages) in the operator's
    language."""
    return lookup_stored(str(text), cli_locale())


def _failed(run: dict, heading) -> None:
    """A failed backup or drill run as the operator reads it: ``heading`` (a message with an
    ``{error}`` field) with the first of the run's errors by kind (README: what failed, by
    kind), each further one on a line of its own, then exit 1. Never the run's ``error``
    (``ToolFailed at dialects.py:160``: the class and where it was raised are for the log,
    which has them)."""
    errors = list((run["errors"] or {}).items())
    if errors:
        first = f"{errors[0][0]}: {_stored(errors[0][1])}"
    else:
        first = cli_render(
            _(
                "an unexpected error; the log has its class and where it was raised (job run {id})",
                id=run["id"],
            )
        )
    click.echo(cli_render(heading.format(error=first)), err=True)
    for kind, text in errors[1:]:
        click.echo(f"  {kind}: {_stored(text)}", err=True)
    sys.exit(1)


def _run(job: str, options: dict) -> dict:
    """Run a backup job now, recorded in job_runs like the scheduler's runs."""
    from datetime import timedelta

    from corrections.core.db import db
    from corrections.scheduler import service

    run = service.run_job(
        db.session,
        job,
        holder=service.default_holder(),
        lease_ttl=timedelta(seconds=current_app.config["SCHEDULER_LEASE_SECONDS"]),
        require_lease=False,
        options=options,
    )
    return service.run_view(run)


@backup.command("create")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to put the backup under (default: BACKUP_DIR)",
)
@with_appcontext
def create_cmd(out: Path | None) -> None:
    """Back up the database into a new timestamped directory under OUT (or BACKUP_DIR), with
    its signed manifest.json. PostgreSQL: pg_dump --format=custom; SQLite: the online backup
    API. Safe while the service runs. Deletes nothing (the nightly job prunes BACKUP_DIR)."""
    run = _run("backup", {"out": str(out) if out else None, "prune": False})
    if run["status"] != "succeeded":
        # The reason, not where it was raised (new-user review: "ToolFailed at
        # dialects.py:158" told the operator nothing).
        _failed(run, _("backup FAILED: {error}"))
    c = run["counts"]
    written = _(
        "backup {id} written to {directory}: {bytes} bytes, {tables} tables, {rows} rows "
        "({seconds} s)",
        id=c["backup"],
        directory=c["directory"],
        bytes=c["bytes"],
        tables=c["tables"],
        rows=c["rows"],
        seconds=c["seconds"],
    )
    click.echo(cli_render(written))


@backup.command("verify")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def verify_cmd(directory: Path) -> None:
    """Check a backup without restoring it: manifest and its signature, every file's sha256,
    and that the copy reads (pg_restore --list; SQLite: PRAGMA integrity_check and the row
    counts). DIRECTORY is one backup, or a folder of them (then the newest). Exit 1 with
    every finding if anything is wrong."""
    from corrections.backup import service
    from corrections.core.errors import DomainError

    try:
        path = service.resolve(directory)
    except DomainError as exc:
        raise _fail(exc) from None
    report = service.verify_backup(path)
    if not report.ok:
        click.echo(cli_render(_("BACKUP {path} FAILS ITS CHECKS:", path=str(path))), err=True)
        for f in report.findings:
            click.echo(f"  {f.kind}: {cli_render(f.text)}", err=True)
        sys.exit(1)
    m = report.manifest
    intact = _(
        "backup {id} intact: {kind}, migration {head}, {tables} tables, {rows} rows, signed "
        "with {key_id}",
        id=m["id"],
        kind=m["database"]["kind"],
        head=m["migration_head"],
        tables=len(m["tables"]),
        rows=m["rows"],
        key_id=m["signature"]["key_id"],
    )
    click.echo(cli_render(intact))


@backup.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    help="Database to restore into (default: this instance's DATABASE_URL). Leave the "
    "password out (PGPASSWORD or ~/.pgpass): a command line is visible to every user",
)
@click.option("--force", is_flag=True, help="Replace everything in a non-empty target")
@click.option("--reason", default=None, help="Why (kept with the audit acknowledgement)")
@click.option(
    "--elsewhere",
    is_flag=True,
    help="The target is not this instance's database (needed only when that cannot be told: "
    "a server does not answer)",
)
@with_appcontext
def restore_cmd(
    directory: Path, to: str | None, force: bool, reason: str | None, elsewhere: bool
) -> None:
    """Restore a backup (verified first) into an empty database and check that it holds
    what the manifest says. Stop the web service and the scheduler first.

    Into this instance's own database (asked of the database servers, whatever the URL's
    spelling), the restore is acknowledged in the audit checkpoints at once (what
    ``corrections audit acknowledge-restore`` does), before anything can seal on the restored
    trail; into another database, the command says what to run there. When that cannot be
    told (the instance's database server does not answer) and the URLs differ, nothing is
    done without --elsewhere."""
    from corrections.backup import dialects, service
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError

    configured = current_app.config["DATABASE_URL"]
    target = to or configured
    try:
        path = service.resolve(directory)
        own = dialects.same_database(target, configured)
        if own is None and not elsewhere:
            undecided = _(
                "cannot tell whether {target} is this instance's database (one of the two "
                "servers does not answer): nothing was restored. If it is another instance's, "
                "run the command again with --elsewhere; if it is this instance's, once its "
                "server answers",
                target=dialects.masked(target),
            )
            raise click.ClickException(cli_text(undecided))
        own = bool(own)
        if own:  # no pooled connection of ours may sit on what is replaced
            db.session.remove()
            db.engine.dispose()
        restored = service.restore_backup(path, to=target, force=force)
    except DomainError as exc:
        raise _fail(exc) from None
    m = restored.manifest
    done = _(
        "restored backup {id} ({created_at}) into {target}: migration {head}, {rows} rows in "
        "{tables} tables, as the manifest says",
        id=m["id"],
        created_at=m["created_at"],
        target=restored.target,
        head=restored.facts.migration_head,
        rows=sum(restored.facts.tables.values()),
        tables=len(restored.facts.tables),
    )
    click.echo(cli_render(done))
    if own:
        record = service.acknowledge_restore(
            db.session, restored=restored, now=now_utc(), reason=reason
        )
        acknowledged = _(
            "restore acknowledged in the audit checkpoints: the trail ends at seq {seq}; rows "
            "sealed after the backup are reported as this restore's losses. Check with: "
            "{command}",
            seq=record["seq"],
            command="corrections audit verify",
        )
        click.echo(cli_render(acknowledged))
    else:
        # Not this instance's database: its checkpoint file is left alone. Acknowledging here
        # (the instance's file) a copy another instance serves would make this instance's
        # checkpoints above the backup count as lost in a restore, hiding a real truncation.
        elsewhere = _(
            "this instance's audit checkpoints are unchanged: {target} is not its database. "
            "The instance that will serve it acknowledges the restore in its own checkpoint "
            "file: run the command below with that instance's settings (here only if this "
            "instance moves onto that database for good)",
            target=restored.target,
        )
        click.echo(cli_render(elsewhere))
        before = _(
            "to serve this database, point CORRECTIONS_DATABASE_URL at it and, BEFORE starting "
            "the service or the scheduler, run:"
        )
        click.echo(cli_render(before))
        click.echo(f'  corrections audit acknowledge-restore --reason "restored backup {m["id"]}"')
        click.echo(cli_render(_("then: {command}", command="corrections audit verify")))
    unsealed = (m.get("audit") or {}).get("unsealed") or 0
    if unsealed:
        late = _(
            "{count} audit row(s) were not yet sealed when the backup was made (their ids are "
            "the manifest's audit.unsealed_ids): the next seal takes them, and audit verify "
            "reports them as sealed late; they are the backup's, not an insertion",
            count=unsealed,
        )
        click.echo(cli_render(late))
    head = service.code_head()
    if restored.facts.migration_head != head:
        behind = _(
            "the schema is at {schema}, this code's at {head}:",
            schema=restored.facts.migration_head,
            head=head,
        )
        click.echo(cli_render(behind))
        click.echo("  corrections db upgrade")


@backup.command("drill")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A backup, or a folder of them (the newest); default BACKUP_DIR",
)
@with_appcontext
def drill_cmd(source: Path | None) -> None:
    """Rehearse a restore (恢复演练): restore the newest backup into a scratch database
    (PostgreSQL: a new database, dropped afterwards; SQLite: a temporary file), check the
    migration head against this code's, every table's rows against the manifest and the
    audit trail against this instance's checkpoints. Recorded as a run of the backup_drill
    job; exit 1 if it fails."""
    run = _run("backup_drill", {"source": str(source) if source else None})
    if run["status"] != "succeeded":
        _failed(run, _("DRILL FAILED: {error}"))
    c = run["counts"]
    passed = _(
        "drill passed: backup {id} restored into a scratch database, {rows} rows and the audit "
        "trail as recorded ({seconds} s)",
        id=c["backup"],
        rows=c["rows"],
        seconds=c["seconds"],
    )
    click.echo(cli_render(passed))


@backup.command("list")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts")
@with_appcontext
def list_cmd(root: Path | None, as_json: bool) -> None:
    """The backups in BACKUP_DIR (or --dir), newest first."""
    from corrections.backup import service

    rows = [
        {
            "id": m["id"],
            "created_at": m["created_at"],
            "kind": (m.get("database") or {}).get("kind"),
            "migration_head": m.get("migration_head"),
            "rows": m.get("rows"),
            "bytes": sum(f.get("bytes", 0) for f in (m.get("files") or {}).values()),
            "path": str(path),
        }
        for path, m in service.list_backups(root or Path(current_app.config["BACKUP_DIR"]))
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        where = str(root or current_app.config["BACKUP_DIR"])
        click.echo(cli_render(_("no backups in {folder}", folder=where)))
        return

    def line(backup_id, kind, head, count, size) -> str:
        return " ".join(
            [
                cli_column(backup_id, 20),
                cli_column(kind, 10),
                cli_column(head, 8),
                " " * max(0, 10 - _width(count)) + count,
                " " * max(0, 14 - _width(size)) + size,
            ]
        )

    heading = (_("backup"), _("database"), _("migration"), _("rows"), _("bytes"))
    click.echo(line(*(cli_render(h) for h in heading)))
    for r in rows:
        head = r["migration_head"] or "-"
        click.echo(line(r["id"], r["kind"], head, str(r["rows"]), str(r["bytes"])))


def _width(text: str) -> int:
    """Columns ``text`` takes at a terminal (a Chinese character two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@backup.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted, delete nothing")
@with_appcontext
def prune_cmd(dry_run: bool) -> None:
    """Apply the retention to BACKUP_DIR now: keep the newest backup of each of the last
    BACKUP_KEEP_DAILY days and BACKUP_KEEP_MONTHLY months, delete the others."""
    from corrections.backup import service
    from corrections.core.clock import now_utc

    config = current_app.config
    pruned = service.prune(
        Path(config["BACKUP_DIR"]),
        now=now_utc(),
        keep_daily=config["BACKUP_KEEP_DAILY"],
        keep_monthly=config["BACKUP_KEEP_MONTHLY"],
        dry_run=dry_run,
    )
    kept, deleted = len(pruned.kept), len(pruned.deleted)
    if dry_run:
        message = _("kept {kept}; would delete {deleted}", kept=kept, deleted=deleted)
    else:
        message = _("kept {kept}; deleted {deleted}", kept=kept, deleted=deleted)
    click.echo(cli_render(message))
    for name in pruned.deleted:
        click.echo(f"  {name}")
