"""The scheduler process: APScheduler 3 (BlockingScheduler) running the registered jobs on
their configured triggers in Asia/Shanghai, each run inside an app context.

Misfires after downtime are coalesced into one run that catches up (the jobs work from what
is due now); an interval job runs soon after a start, unless a scheduler ran it less than an
interval before (:func:`first_run_time`); one instance of a job at a time; a heartbeat renews
the leader lease, and a clean stop (SIGTERM, SIGINT) releases it, so a restarted or standby
scheduler need not wait it out.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from flask import Flask

from corrections.core.clock import BUSINESS_TZ
from corrections.scheduler import service, triggers

log = logging.getLogger(__name__)


def build(app: Flask, holder: str, *, background: bool = False) -> BaseScheduler:
    """The scheduler with every job on its trigger; ``background``: in a thread of this
    process (the demo), else blocking (``corrections scheduler run``)."""
    kind = BackgroundScheduler if background else BlockingScheduler
    # APScheduler announces every execution at INFO; the job runs log their own outcome.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = kind(
        timezone=BUSINESS_TZ,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    ttl = timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"])

    def run(name: str) -> None:
        from corrections.core.db import db

        with app.app_context():
            try:
                service.run_job(db.session, name, holder=holder, lease_ttl=ttl)
            except Exception:  # the lease or the run record itself failed: log, keep going
                log.exception("job %s could not run", name)
            finally:
                db.session.remove()

    def heartbeat() -> None:
        from corrections.core.clock import now_utc
        from corrections.core.db import db

        with app.app_context():
            try:
                leader = service.acquire_lease(db.session, holder=holder, ttl=ttl, now=now_utc())
                log.debug("lease %s", "held" if leader else "standing by")
            except Exception:
                log.exception("lease heartbeat failed")
            finally:
                db.session.remove()

    specs = {name: triggers.parse(spec) for name, spec in app.config["SCHEDULER_TRIGGERS"].items()}
    first = first_runs(app, specs)
    for name, trigger in specs.items():
        # An interval job's first run: soon after start (APScheduler's own is one interval
        # later), unless a scheduler ran it less than an interval ago. Cron jobs keep their
        # times.
        start = {"next_run_time": first[name]} if name in first else {}
        scheduler.add_job(run, trigger, args=[name], id=name, name=name, **start)
    scheduler.add_job(
        heartbeat,
        "interval",
        seconds=max(1, app.config["SCHEDULER_LEASE_SECONDS"] // 3),
        id="_lease",
        name="lease heartbeat",
        # At start too: a scheduler that finds the lease free leads at once.
        next_run_time=datetime.now(BUSINESS_TZ),
    )
    from corrections.core.runtime import settle

    settle()
    return scheduler


# The interval jobs' first runs are spread over this many seconds after start (at most half
# their interval), so a restarted scheduler does not start them all in the same second.
START_JITTER_SECONDS = 10.0


def first_run_time(
    interval: timedelta,
    last_started: datetime | None,
    now: datetime,
    jitter: float = 0.0,
    job: str = "",
) -> datetime:
    """When an interval job first runs in a scheduler starting at ``now``: one interval after
    its last run (``last_started``, by any scheduler) if that is still ahead, else ``now``
    plus ``jitter`` seconds. Without this APScheduler waits a whole interval first: a
    scheduler restarted every few minutes would never sweep.

    A last run that started after ``now`` was recorded by a scheduler whose clock ran ahead
    (a standby a year fast, hostile review): counted as unknown, so the job runs soon instead
    of a year later, with a WARNING naming the job and the recorded start."""
    if last_started is not None and last_started > now:
        log.warning(
            "job %s: its last run is recorded as started at %s, after this scheduler's clock "
            "(%s); a clock is wrong (check NTP on the scheduler hosts); running it soon",
            job,
            last_started.isoformat(),
            now.isoformat(),
        )
        last_started = None
    if last_started is not None and last_started + interval > now:
        return last_started + interval
    return now + timedelta(seconds=jitter)


def first_runs(app: Flask, specs: dict[str, BaseTrigger]) -> dict[str, datetime]:
    """The first run time of every interval job (:func:`first_run_time`), from the last runs
    recorded in ``job_runs`` and the app's clock; a database that does not answer leaves the
    last runs unknown (the jobs then run soon, and a run records its own failure)."""
    import random

    from sqlalchemy import func, select

    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.scheduler.models import JobRun

    intervals = {
        name: every
        for name, trigger in specs.items()
        if (every := triggers.interval_of(trigger)) is not None
    }
    if not intervals:
        return {}
    with app.app_context():
        now = now_utc()
        try:
            last = dict(
                db.session.execute(
                    select(JobRun.job, func.max(JobRun.started_at))
                    .where(JobRun.job.in_(intervals))
                    .group_by(JobRun.job)
                ).all()
            )
        except Exception:
            log.warning("last job runs not read; interval jobs start soon", exc_info=True)
            last = {}
        finally:
            db.session.remove()
    spread = random.Random()  # noqa: S311 - start times spread apart, not a secret
    return {
        name: first_run_time(
            every,
            last.get(name),
            now,
            spread.uniform(0, min(START_JITTER_SECONDS, every.total_seconds() / 2)),
            job=name,
        )
        for name, every in intervals.items()
    }


def _stop(signum, frame) -> None:
    raise SystemExit(0)


def serve(
    app: Flask, holder: str, *, on_start: Callable[[BaseScheduler], None] | None = None
) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT, then let running jobs
    finish and release the lease (``corrections scheduler run``). A second SIGTERM while jobs
    finish stops the process at once.

    Without the release a restarted scheduler, or the standby, would wait out the lease
    (``SCHEDULER_LEASE_SECONDS``) before running anything. A SIGKILL cannot be caught: then
    the lease expires by itself and the standby takes over.
    """
    from corrections.core.db import db

    scheduler = build(app, holder)
    if on_start is not None:
        on_start(scheduler)
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if scheduler.running:
            scheduler.shutdown(wait=True)  # a job in progress keeps the lease until it ends
        with app.app_context():
            try:
                service.release_lease(db.session, holder=holder)  # logs the release
                log.info("scheduler %s stopped", holder)
            finally:
                db.session.remove()
