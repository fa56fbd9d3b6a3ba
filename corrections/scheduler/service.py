"""Running scheduled jobs: the leader lease, the job wrapper that records every run, and the
registry of jobs.

Only the holder of the unexpired lease runs jobs; a second scheduler process skips until the
lease expires (its holder died or stopped), then takes over. A job works from "what is due
now", commits its own batches, and records per-person errors without stopping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.core.clock import now_utc
from corrections.core.i18n import _
from corrections.scheduler.models import JobRun, SchedulerLease
from corrections.scheduler.triggers import JOB_NAMES

log = logging.getLogger(__name__)
LEASE = "scheduler"


def default_holder() -> str:
    """Who this scheduler process is (host and pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- the lease ---------------------------------------------------------------------------


# Per holder in this process: "leader", or the holder it stands by for, as last logged, so
# a change is logged once (INFO) and the heartbeats in between are not.
_lease_states: dict[str, str] = {}
_lease_states_lock = threading.Lock()


def _log_lease(holder: str, *, leading: bool, other: str | None, name: str = LEASE) -> None:
    state = "leader" if leading else f"standby:{other}"
    with _lease_states_lock:
        if _lease_states.get((name, holder)) == state:
            return
        _lease_states[(name, holder)] = state
    if not leading:
        log.info("%s %s: standing by for %s", name, holder, other)
    elif other and other != holder:
        log.info("%s %s: took over the lease from %s", name, holder, other)
    else:
        log.info("%s %s: lease acquired", name, holder)


def acquire_lease(
    session: Session, *, holder: str, ttl: timedelta, now: datetime, name: str = LEASE
) -> bool:
    """Take or renew the leader lease; True if ``holder`` holds it now. Commits.

    One conditional UPDATE decides (the row lock serialises two contenders; the loser sees
    the winner's unexpired lease and matches nothing); the first ever run INSERTs the row.
    ``acquired_at`` becomes ``now`` at each take-over and renewal: the holder's heartbeat,
    which the deep health check reports (``expires_at`` minus the reader's own lease length
    would be wrong whenever the scheduler runs with another ``SCHEDULER_LEASE_SECONDS``).
    A change (acquired, took over, standing by) is logged once. ``name``: which lease (the
    scheduler's, or another leader-elected process's such as ``exchange-relay``).
    """
    before = session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == name))
    renewed = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=now + ttl, acquired_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if renewed:
        session.commit()
        _log_lease(holder, leading=True, other=before, name=name)
        return True
    current = session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == name))
    if current:
        session.commit()
        _log_lease(holder, leading=False, other=current, name=name)
        return False
    try:
        session.add(SchedulerLease(name=name, holder=holder, acquired_at=now, expires_at=now + ttl))
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    _log_lease(holder, leading=True, other=None, name=name)
    return True


def release_lease(session: Session, *, holder: str, name: str = LEASE) -> bool:
    """Give the lease up if ``holder`` holds it (a clean stop, the end of ``run-once``), so
    another scheduler need not wait it out; True if it did. Commits."""
    released = session.execute(
        delete(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
    ).rowcount
    session.commit()
    with _lease_states_lock:
        _lease_states.pop((name, holder), None)
    if released:
        log.info("%s %s: lease released", name, holder)
    return bool(released)


def lease_holder(session: Session, name: str = LEASE) -> SchedulerLease | None:
    return session.scalar(select(SchedulerLease).where(SchedulerLease.name == name))


# --- jobs --------------------------------------------------------------------------------

JobFunc = Callable[["JobContext"], dict[str, Any] | None]


@dataclass
class JobContext:
    session: Session
    now: datetime
    errors: dict[str, str]
    # When the job's last successful (or partial) run started; None if it never ran.
    last_success: datetime | None = None
    # What an operator's command asked of this run (``corrections backup create --out``);
    # empty when the scheduler runs it.
    options: dict[str, Any] = field(default_factory=dict)
    # This run's row in ``job_runs`` (what an alert about the run names).
    run_id: int | None = None


@dataclass(frozen=True)
class Job:
    name: str
    label_zh: str
    run: JobFunc


def _sweep_obligations(ctx: JobContext):
    from corrections.supervision.jobs import sweep_obligations

    return sweep_obligations(ctx.session, now=ctx.now, last_success=ctx.last_success)


def _detect_lost_contact(ctx: JobContext):
    from corrections.incidents.service import detect

    d = detect(ctx.session, now=ctx.now, errors=ctx.errors)
    counts = {
        "opened": d.opened,
        "lost_contact": d.lost_contact,
        "closed": d.closed,
        "proposals": d.proposals,
    }
    if d.lost_contact_deferred:  # a backlog past LOST_CONTACT_MAX_PER_RUN: the next runs'
        counts["lost_contact_deferred"] = d.lost_contact_deferred
    return counts


def _supervision_job(name: str) -> JobFunc:
    def run(ctx: JobContext):
        from corrections.supervision import jobs

        return getattr(jobs, name)(ctx.session, now=ctx.now)

    return run


def _monthly_assessment(ctx: JobContext):
    from corrections.grading.jobs import previous_month, run_monthly_assessment

    result = run_monthly_assessment(ctx.session, month=previous_month(ctx.now), now=ctx.now)
    ctx.errors.update({str(k): v for k, v in result.errors.items()})
    return result.counts()


def _flag_reviews(ctx: JobContext):
    from corrections.incidents.flags import review_job

    return review_job(ctx.session, now=ctx.now)


def _alert_escalation(ctx: JobContext):
    from corrections.alerts.service import escalate

    return {"escalated": escalate(ctx.session, now=ctx.now)}


class JobRefused(Exception):
    """A job that refused to work, with a message naming no person (so the run record keeps
    it, unlike other errors'): the risk model's files refused, and why. Its cause is the
    original error."""


# The risk-scoring run without an active model: said in its errors (status partial) and
# logged, not a quiet "scored 0" (a fresh installation has no model until the bureau
# activates one).
NO_ACTIVE_MODEL = _(
    "no active risk model, nobody was scored: run `corrections risk activate-shipped` (the "
    "model the package ships) or `corrections risk activate VERSION`"
)


def _risk_scoring(ctx: JobContext):
    from corrections.core.i18n import ZH
    from corrections.risk.artifact import ArtifactError
    from corrections.risk.service import score_all

    try:
        result = score_all(ctx.session, now=ctx.now)
    except ArtifactError as exc:
        # Names the model version, its files and checksums, who signed it: never a person.
        raise JobRefused(str(exc)) from exc
    if result.model is None:
        ctx.errors["model"] = f"{NO_ACTIVE_MODEL.render(ZH)} ({NO_ACTIVE_MODEL})"
        log.warning("job risk_scoring: %s", NO_ACTIVE_MODEL)
    return result.counts()


def _risk_monitoring(ctx: JobContext):
    from corrections.risk.monitoring import run

    return run(ctx.session, now=ctx.now).counts()


def _audit_seal(ctx: JobContext):
    from corrections.audit.service import seal_pending

    return {"sealed": seal_pending(ctx.session)}


def _exchange_receipts(ctx: JobContext):
    from corrections.exchange.jobs import receipt_deadlines

    return receipt_deadlines(ctx)


def _oversight_deadlines(ctx: JobContext):
    from corrections.oversight.jobs import reply_deadlines

    return reply_deadlines(ctx)


def _prune_login_attempts(ctx: JobContext):
    from corrections.org.service import prune_login_attempts

    return {"pruned": prune_login_attempts(ctx.session)}


def _backup(ctx: JobContext):
    from corrections.backup.jobs import nightly_backup

    return nightly_backup(ctx)


def _backup_drill(ctx: JobContext):
    from corrections.backup.jobs import backup_drill

    return backup_drill(ctx)


def _public_statistics(ctx: JobContext):
    from corrections.public.service import compute

    return compute(ctx.session, now=ctx.now)


def _event_partitions(ctx: JobContext):
    from flask import current_app

    from corrections.supervision.partitions import create_ahead

    ahead = current_app.config["EVENT_PARTITIONS_AHEAD"]
    return {"created": len(create_ahead(ctx.session, now=ctx.now, ahead=ahead))}


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("sweep_obligations", "未履行义务扫描", _sweep_obligations),
        Job("detect_lost_contact", "失联/脱管认定", _detect_lost_contact),
        Job("travel_returns", "外出逾期未归", _supervision_job("travel_returns")),
        Job("intake_deadlines", "报到与审批期限", _supervision_job("intake_deadlines")),
        Job("term_endings", "矫正期满提醒", _supervision_job("term_endings")),
        Job("monitoring_expiry", "电子定位到期", _supervision_job("monitoring_expiry")),
        Job("monthly_assessment", "月度考核", _monthly_assessment),
        Job("flag_reviews", "挂牌管控复核", _flag_reviews),
        Job("alert_escalation", "预警升级", _alert_escalation),
        Job("risk_scoring", "脱管风险评分", _risk_scoring),
        Job("audit_seal", "审计链封存", _audit_seal),
        Job("prune_login_attempts", "登录记录清理", _prune_login_attempts),
        Job("backup", "数据库备份", _backup),
        Job("backup_drill", "备份恢复演练", _backup_drill),
        Job("public_statistics", "矫务公开统计", _public_statistics),
        Job("exchange_receipts", "协作单位回执期限", _exchange_receipts),
        Job("oversight_deadlines", "检察监督回复期限", _oversight_deadlines),
        Job("risk_monitoring", "模型监测", _risk_monitoring),
        Job("event_partitions", "事件表分区预建", _event_partitions),
    )
}
assert tuple(JOBS) == JOB_NAMES


def run_job(
    session: Session,
    name: str,
    *,
    holder: str,
    lease_ttl: timedelta,
    now: datetime | None = None,
    require_lease: bool = True,
    options: dict[str, Any] | None = None,
) -> JobRun | None:
    """Run one job now and record the run; None if another scheduler holds the lease.

    The run row is committed before the work starts, so a crash leaves a ``running`` row
    behind as evidence (the next run of the job marks such rows ``interrupted``).
    """
    job = JOBS[name]
    now = now or now_utc()
    if require_lease and not acquire_lease(session, holder=holder, ttl=lease_ttl, now=now):
        return None
    session.execute(
        update(JobRun)
        .where(JobRun.job == name, JobRun.status == "running", JobRun.holder != holder)
        .values(status="interrupted", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    last_success = session.scalar(
        select(func.max(JobRun.started_at)).where(
            JobRun.job == name, JobRun.status.in_(("succeeded", "partial"))
        )
    )
    run = JobRun(job=name, holder=holder, started_at=now, status="running", counts={}, errors={})
    session.add(run)
    session.commit()
    run_id = run.id
    ctx = JobContext(
        session=session,
        now=now,
        errors={},
        last_success=last_success,
        options=options or {},
        run_id=run_id,
    )
    try:
        counts = job.run(ctx) or {}
        session.commit()
    except Exception as exc:
        session.rollback()
        if isinstance(exc, JobRefused):  # a message known to name no person: kept
            error = f"{type(exc.__cause__ or exc).__name__}: {exc}"
        else:
            # The class and where, not the message: a message can quote personal data.
            frames = traceback.extract_tb(exc.__traceback__)
            where = (
                f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
            )
            error = f"{type(exc).__name__} at {where}"
        log.error("job %s failed: %s", name, error)
        run = session.get(JobRun, run_id)
        run.status, run.error = "failed", error
        run.finished_at, run.errors = now_utc(), ctx.errors
        session.commit()
        return run
    run = session.get(JobRun, run_id)
    run.status = "partial" if ctx.errors else "succeeded"
    run.counts, run.errors, run.finished_at = counts, ctx.errors, now_utc()
    session.commit()
    log.info("job %s %s: %s", name, run.status, counts)
    return run


def last_runs(session: Session) -> dict[str, dict[str, JobRun | None]]:
    """Per job: the last run and the last failed run."""
    out: dict[str, dict[str, JobRun | None]] = {}
    for name in JOBS:
        last = session.scalar(
            select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(1)
        )
        failed = session.scalar(
            select(JobRun)
            .where(JobRun.job == name, JobRun.status.in_(("failed", "interrupted")))
            .order_by(JobRun.id.desc())
            .limit(1)
        )
        out[name] = {"last": last, "last_failure": failed}
    return out


def run_view(run: JobRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "job": run.job,
        "holder": run.holder,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "counts": run.counts or {},
        "errors": run.errors or {},
        "error": run.error,
    }


def overview(session: Session, trigger_specs: dict[str, str], now: datetime) -> dict[str, Any]:
    """The leader, and per job: trigger, next run after ``now``, last run, last failure."""
    from corrections.scheduler.triggers import parse

    lease = lease_holder(session)
    runs = last_runs(session)
    jobs = []
    for name, job in JOBS.items():
        trigger = parse(trigger_specs[name])
        last = runs[name]["last"]
        jobs.append(
            {
                "name": name,
                "label_zh": job.label_zh,
                "trigger": trigger_specs[name],
                "next_run_at": trigger.get_next_fire_time(last.started_at if last else None, now),
                "last_run": run_view(last),
                "last_failure": run_view(runs[name]["last_failure"]),
            }
        )
    live = lease is not None and lease.expires_at > now
    return {
        "leader": lease.holder if live else None,
        "lease_expires_at": lease.expires_at if live else None,
        "jobs": jobs,
    }
