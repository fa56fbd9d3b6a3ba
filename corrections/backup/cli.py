"""``corrections backup``: create, verify, restore, drill, list and prune backups."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group()
def backup() -> None:
    """Backup and restore (容灾备份): copies with signed manifests, restore drills."""


def _fail(exc) -> click.ClickException:
    """A domain error as the command's message (Chinese, the English in parentheses: see
    core/i18n.py ``cli_text``), then each finding by kind."""
    from corrections.core.i18n import cli_text

    lines = [cli_text(exc.detail)]
    for kind, text in (exc.errors or {}).items():
        lines.append(f"  {kind}: {text}")
    return click.ClickException("\n".join(lines))


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
        # The reason, not only where it was raised (new-user review: "ToolFailed at
        # dialects.py:158" told the operator nothing).
        click.echo(f"备份失败 backup FAILED: {run['error']}", err=True)
        for kind, text in (run["errors"] or {}).items():
            click.echo(f"  {kind}: {text}", err=True)
        sys.exit(1)
    c = run["counts"]
    click.echo(
        f"backup {c['backup']} written to {c['directory']}: {c['bytes']} bytes, "
        f"{c['tables']} tables, {c['rows']} rows ({c['seconds']} s)"
    )


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
        click.echo(f"BACKUP {path} FAILS ITS CHECKS:", err=True)
        for f in report.findings:
            click.echo(f"  {f.kind}: {f.text}", err=True)
        sys.exit(1)
    m = report.manifest
    click.echo(
        f"backup {m['id']} intact: {m['database']['kind']}, migration {m['migration_head']}, "
        f"{len(m['tables'])} tables, {m['rows']} rows, signed with {m['signature']['key_id']}"
    )


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
@with_appcontext
def restore_cmd(directory: Path, to: str | None, force: bool, reason: str | None) -> None:
    """Restore a backup (verified first) into an empty database and check that it holds
    what the manifest says. Stop the web service and the scheduler first.

    Into this instance's own database, the restore is acknowledged in the audit checkpoints
    at once (what ``corrections audit acknowledge-restore`` does), before anything can seal
    on the restored trail; into another database, the command says what to run there."""
    from corrections.backup import dialects, service
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError

    configured = current_app.config["DATABASE_URL"]
    target = to or configured
    try:
        path = service.resolve(directory)
        own = dialects.same_database(target, configured)
        if own:  # no pooled connection of ours may sit on what is replaced
            db.session.remove()
            db.engine.dispose()
        restored = service.restore_backup(path, to=target, force=force)
    except DomainError as exc:
        raise _fail(exc) from None
    m = restored.manifest
    click.echo(
        f"restored backup {m['id']} ({m['created_at']}) into {restored.target}: "
        f"migration {restored.facts.migration_head}, {sum(restored.facts.tables.values())} rows "
        f"in {len(restored.facts.tables)} tables, as the manifest says"
    )
    if own:
        record = service.acknowledge_restore(
            db.session, restored=restored, now=now_utc(), reason=reason
        )
        click.echo(
            f"restore acknowledged in the audit checkpoints: the trail ends at seq "
            f"{record['seq']}; rows sealed after the backup are reported as this restore's "
            "losses. Check with: corrections audit verify"
        )
    else:
        click.echo(
            "to serve this database, point CORRECTIONS_DATABASE_URL at it and, BEFORE "
            "starting the service or the scheduler, run:\n"
            f'  corrections audit acknowledge-restore --reason "restored backup {m["id"]}"\n'
            "then: corrections audit verify"
        )
    unsealed = (m.get("audit") or {}).get("unsealed") or 0
    if unsealed:
        click.echo(
            f"{unsealed} audit row(s) were not yet sealed when the backup was made (their ids "
            "are the manifest's audit.unsealed_ids): the next seal takes them, and audit "
            "verify reports them as sealed late; they are the backup's, not an insertion"
        )
    head = service.code_head()
    if restored.facts.migration_head != head:
        click.echo(f"the schema is at {restored.facts.migration_head}, this code's at {head}:")
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
        click.echo(f"恢复演练失败 DRILL FAILED: {run['error']}", err=True)
        for kind, text in (run["errors"] or {}).items():
            click.echo(f"  {kind}: {text}", err=True)
        sys.exit(1)
    c = run["counts"]
    click.echo(
        f"drill passed: backup {c['backup']} restored into a scratch database, {c['rows']} "
        f"rows and the audit trail as recorded ({c['seconds']} s)"
    )


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
    for r in rows:
        click.echo(
            f"{r['id']:<20} {r['kind']:<10} {r['migration_head'] or '-':<8} "
            f"{r['rows']:>10} rows {r['bytes']:>14} bytes"
        )


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
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"kept {len(pruned.kept)}; {verb} {len(pruned.deleted)}")
    for name in pruned.deleted:
        click.echo(f"  {name}")
