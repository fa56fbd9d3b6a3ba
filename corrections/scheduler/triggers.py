"""Job triggers as short text: ``every 15m`` (interval) or ``cron M H DOM MON DOW`` (crontab),
always in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from corrections.core.clock import BUSINESS_TZ
from corrections.core.i18n import _

JOB_NAMES = (
    "sweep_obligations",
    "detect_lost_contact",
    "travel_returns",
    "intake_deadlines",
    "term_endings",
    "monitoring_expiry",
    "monthly_assessment",
    "flag_reviews",
    "alert_escalation",
    "risk_scoring",
    "audit_seal",
    "prune_login_attempts",
    "backup",
    "backup_drill",
    "public_statistics",
    "exchange_receipts",
    "oversight_deadlines",
    "risk_monitoring",
    "event_partitions",
)
_EVERY = re.compile(r"^every\s+(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse(spec: str) -> BaseTrigger:
    """``every 15m`` or ``cron 0 3 1 * *``; ValueError naming what is wrong."""
    spec = spec.strip()
    if m := _EVERY.match(spec):
        amount = int(m.group(1))
        if amount <= 0:
            raise ValueError("an interval must be positive")
        return IntervalTrigger(timezone=BUSINESS_TZ, **{_UNITS[m.group(2)]: amount})
    if spec.startswith("cron "):
        return CronTrigger.from_crontab(spec[5:].strip(), timezone=BUSINESS_TZ)
    raise ValueError(f"expected 'every 15m' or 'cron M H DOM MON DOW', got {spec!r}")


def interval_of(trigger: BaseTrigger) -> timedelta | None:
    return getattr(trigger, "interval", None)


def trigger_errors(triggers: Any) -> list[str]:
    """Start-up validation of ``SCHEDULER_TRIGGERS``: every job known, every spec valid."""
    if not isinstance(triggers, dict):
        return [_("SCHEDULER_TRIGGERS: must be a mapping of job name to trigger")]
    errors = []
    for name, spec in triggers.items():
        if name not in JOB_NAMES:
            known = ", ".join(JOB_NAMES)
            errors.append(
                _("SCHEDULER_TRIGGERS.{name}: unknown job (known: {known})", name=name, known=known)
            )
            continue
        try:
            parse(str(spec))
        except ValueError as exc:
            errors.append(_("SCHEDULER_TRIGGERS.{name}: {error}", name=name, error=str(exc)))
    missing = [n for n in JOB_NAMES if n not in triggers]
    if missing:
        errors.append(_("SCHEDULER_TRIGGERS: no trigger for {jobs}", jobs=", ".join(missing)))
    return errors
