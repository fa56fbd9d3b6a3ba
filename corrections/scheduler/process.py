"""The scheduler process: APScheduler 3 (BlockingScheduler) running the registered jobs on
their configured triggers in Asia/Shanghai, each run inside an app context.

Misfires after downtime are coalesced into one run that catches up (the jobs work from what
is due now); one instance of a job at a time; a heartbeat renews the leader lease, and a clean
stop (SIGTERM, SIGINT) releases it, so a restarted or standby scheduler need not wait it out.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
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

    for name, spec in app.config["SCHEDULER_TRIGGERS"].items():
        scheduler.add_job(run, triggers.parse(spec), args=[name], id=name, name=name)
    scheduler.add_job(
        heartbeat,
        "interval",
        seconds=max(1, app.config["SCHEDULER_LEASE_SECONDS"] // 3),
        id="_lease",
        name="lease heartbeat",
        # At start too: a scheduler that finds the lease free leads at once.
        next_run_time=datetime.now(BUSINESS_TZ),
    )
    return scheduler


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
