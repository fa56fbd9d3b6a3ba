"""The scheduled backup jobs: the nightly backup into ``BACKUP_DIR`` with retention, and the
restore drill. Each run is a row of ``job_runs`` (the scheduler's wrapper records it); a
failure fails the run, which the command centre's scheduler panel, ``/healthz?deep=1``
(``degraded``) and the ``corrections_job_runs`` metric show, and is logged at ERROR.

``corrections backup create`` and ``drill`` run these same jobs (with the operator's
options), so a backup made by hand counts as the newest backup too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import current_app

from corrections.backup import service
from corrections.core.errors import DomainError
from corrections.scheduler.service import JobContext

log = logging.getLogger(__name__)


class BackupDrillFailed(RuntimeError):
    """The drill found the backup could not be put back as it was (the run's errors say
    what, by kind)."""


def _failed(job: str, what: str) -> None:
    """The one place a backup failure is announced. Alerts (``alerts``) belong to a person
    under correction, so a failure of the system is a failed job run and an ERROR line here
    (class names and finding kinds only: a message can quote data)."""
    log.error("%s failed: %s", job, what)


def _why(ctx: JobContext, exc: Exception) -> str:
    """What failed, for the run's errors: a domain error's own text (the tools' messages
    come with quoted values taken out, see ``dialects.ToolFailed``), else the class only."""
    if isinstance(exc, DomainError):
        ctx.errors[exc.code] = exc.detail[:500]
        for kind, text in (exc.errors or {}).items():
            ctx.errors[kind] = str(text)[:500]
        return f"{type(exc).__name__}: {exc.detail[:300]}"
    return type(exc).__name__


def nightly_backup(ctx: JobContext) -> dict[str, Any]:
    """Back up into ``BACKUP_DIR`` (or the operator's ``out``), then keep
    ``BACKUP_KEEP_DAILY`` daily and ``BACKUP_KEEP_MONTHLY`` monthly backups there."""
    config = current_app.config
    out = Path(ctx.options.get("out") or config["BACKUP_DIR"])
    try:
        created = service.create_backup(ctx.session, out=out, now=ctx.now)
        ctx.session.commit()
        m = created.manifest
        counts: dict[str, Any] = {
            "backup": created.id,
            "directory": str(created.path),
            "bytes": sum(f["bytes"] for f in m["files"].values()),
            "tables": len(m["tables"]),
            "rows": m["rows"],
            "seconds": m["seconds"],
        }
        if ctx.options.get("prune", True):
            pruned = service.prune(
                out,
                now=ctx.now,
                keep_daily=config["BACKUP_KEEP_DAILY"],
                keep_monthly=config["BACKUP_KEEP_MONTHLY"],
            )
            counts.update(kept=len(pruned.kept), deleted=len(pruned.deleted))
    except Exception as exc:
        ctx.session.rollback()
        _failed(service.BACKUP_JOB, _why(ctx, exc))
        raise
    return counts


def backup_drill(ctx: JobContext) -> dict[str, Any]:
    """Rehearse restoring the newest backup in ``BACKUP_DIR`` (or the operator's
    ``source``); a drill that finds anything fails its run, the findings by kind in its
    errors."""
    source = Path(ctx.options.get("source") or current_app.config["BACKUP_DIR"])
    try:
        report = service.drill(ctx.session, source=source, now=ctx.now)
    except Exception as exc:
        ctx.session.rollback()
        _failed(service.DRILL_JOB, _why(ctx, exc))
        raise
    service.record_drill(ctx.session, report, now=ctx.now)
    ctx.session.commit()
    manifest = report.manifest or {}
    counts = {
        "backup": manifest.get("id"),
        "rows": manifest.get("rows"),
        "seconds": report.seconds,
    }
    if not report.ok:
        ctx.errors.update(report.errors())
        _failed(service.DRILL_JOB, ", ".join(sorted(report.errors())))
        raise BackupDrillFailed(", ".join(sorted(report.errors())))
    return counts
