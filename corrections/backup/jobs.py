"""The scheduled backup jobs: the nightly backup into ``BACKUP_DIR`` with retention, and the
restore drill. Each run is a row of ``job_runs`` (the scheduler's wrapper records it); a
failure fails the run, which the command centre's scheduler panel, ``/healthz?deep=1``
(``degraded``) and the ``corrections_job_runs`` metric show, is logged at ERROR and raises a
system alert (``backup_failed`` 备份失败, ``backup_drill_failed`` 备份恢复演练失败) for the
city and the administrators; the job's next success where the schedule runs it resolves it: a
backup into ``BACKUP_DIR``, a drill of the newest backup there. A backup made elsewhere
(``backup create --out``) or a drill of another backup (``drill --from``) proves nothing about
those, and leaves the alert live.

``corrections backup create`` and ``drill`` run these same jobs (with the operator's
options), so a backup made by hand counts as the newest backup too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import current_app

from corrections.alerts import service as alerts
from corrections.alerts.models import Alert
from corrections.backup import service
from corrections.core.errors import DomainError
from corrections.scheduler.service import JobContext

log = logging.getLogger(__name__)


class BackupDrillFailed(RuntimeError):
    """The drill found the backup could not be put back as it was (the run's errors say
    what, by kind)."""


# The system alert (rules/alerts.yaml) each job's failure raises. Its subject is the job, not
# the run: one stays live however often the job fails, until a run succeeds.
FAILURE_ALERTS = {service.BACKUP_JOB: "backup_failed", service.DRILL_JOB: "backup_drill_failed"}
_SUBJECT_TYPE, _SUBJECT_ID = "job", 0


def _failed(ctx: JobContext, job: str, what: str, kinds: list[str]) -> None:
    """The one place a backup failure is announced: an ERROR line (class names and finding
    kinds only: a message can quote data) and the job's system alert, in a transaction of its
    own (the job's was rolled back or committed). The alert names the job, the run and the
    error kinds, nothing else; it is not raised again while one is live."""
    log.error("%s failed: %s", job, what)
    session = ctx.session
    try:
        alerts.raise_one(
            session,
            person_id=None,
            kind=FAILURE_ALERTS[job],
            subject_type=_SUBJECT_TYPE,
            subject_id=_SUBJECT_ID,
            detail={"job": job, "run_id": ctx.run_id, "errors": kinds},
            now=ctx.now,
        )
        session.commit()
    except Exception as exc:
        # The database may be what failed: the run's record and the line above still tell.
        session.rollback()
        log.error("%s: its alert could not be raised: %s", job, type(exc).__name__)


def _recovered(ctx: JobContext, job: str, note: str) -> None:
    """The job worked: its live failure alert is resolved by the system (the wrapper commits
    with the run)."""
    alerts.resolve_where(
        ctx.session,
        Alert.person_id.is_(None) & (Alert.kind == FAILURE_ALERTS[job]),
        now=ctx.now,
        note=f"{note}（运行 {ctx.run_id}）",
    )


def _configured(folder: Path) -> bool:
    """Whether ``folder`` is ``BACKUP_DIR`` (however spelled): where the nightly backup goes
    and the drill reads."""
    return folder.resolve() == Path(current_app.config["BACKUP_DIR"]).resolve()


def _kinds(ctx: JobContext, exc: Exception) -> list[str]:
    """The error kinds of a failed run (its errors' keys; else the exception's class)."""
    return sorted(ctx.errors) or [type(exc).__name__]


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
        _failed(ctx, service.BACKUP_JOB, _why(ctx, exc), _kinds(ctx, exc))
        raise
    if _configured(out):
        _recovered(ctx, service.BACKUP_JOB, "备份已成功")
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
        _failed(ctx, service.DRILL_JOB, _why(ctx, exc), _kinds(ctx, exc))
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
        kinds = sorted(report.errors())
        _failed(ctx, service.DRILL_JOB, ", ".join(kinds), kinds)
        raise BackupDrillFailed(", ".join(kinds))
    if _configured(source):
        _recovered(ctx, service.DRILL_JOB, "恢复演练已通过")
    return counts
