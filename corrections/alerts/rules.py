"""Schema of ``rules/alerts.yaml``: alert kinds, escalation, deadlines, flags (the incident
thresholds live in ``rules/incidents.yaml``, see ``corrections/incidents/rules.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import marshmallow as ma
from flask import current_app

from corrections.core import rules as registry
from corrections.supervision.rules import OBLIGATION_KINDS

ALERT_KINDS = (
    "obligation_missed",
    "lost_contact",
    "absconded",
    "intake_overdue",
    "travel_overdue",
    "term_ending",
    "monitoring_expiring",
    "monitor_alarm",
    "grade_approval_due",
    "sanction_proposed",
    "flag_review_due",
    "high_risk",
    # A receiver has not acknowledged an exchange message in time (exchange/jobs.py); about a
    # person, or (an audit checkpoint) the system's own.
    "exchange_unacknowledged",
    # A procuratorate's 纠正意见 / 检察建议 not replied to by its day (oversight/jobs.py);
    # about a person, or (a district or an office) the system's own.
    "oversight_reply_overdue",
    # A court's ruling on a revocation / return-to-custody proposal came in (exchange/inbound.py):
    # the district records what follows (termination, or the case goes on).
    "court_ruling",
    # The system's own (no person): seen by the city and the administrators.
    "backup_failed",
    "backup_drill_failed",
    # The risk model's monthly check crossed a threshold (risk/monitoring.py): no person; the
    # analysts see it too.
    "model_drift",
)
SEVERITIES = ("info", "warning", "critical")
# The grounds the jobs propose a flag on (incidents/flags.py, risk/service.py).
FLAG_BASES = ("sanctions", "risk_model")
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
ALERT_STATUSES = ("open", "acknowledged", "resolved", "dismissed")
FLAG_LEVELS = ("district", "office")
FLAG_STATUSES = ("proposed", "active", "converted", "declined", "ended")

_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=3650))


class KindSchema(ma.Schema):
    severity = ma.fields.String(required=True, validate=ma.validate.OneOf(SEVERITIES))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))


class EscalationSchema(ma.Schema):
    after_minutes = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=1440))
    max_level = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=5))


class DeadlinesSchema(ma.Schema):
    monitoring_notice_days = _days
    grade_approval_days = _days


class FlagRulesSchema(ma.Schema):
    review_every_days = _days
    propose_after_sanctions = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=20)
    )
    sanctions_window_days = _days


def _labels(keys: tuple[str, ...]) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        required=True,
        validate=registry.exact_keys(keys),
    )


class LabelsSchema(ma.Schema):
    severities = _labels(SEVERITIES)
    statuses = _labels(ALERT_STATUSES)
    flag_levels = _labels(FLAG_LEVELS)
    flag_statuses = _labels(FLAG_STATUSES)
    # What a proposed flag rests on (Flag.basis of the jobs' proposals), as decision lists say.
    flag_bases = _labels(FLAG_BASES)


@registry.register("alerts.yaml")
class AlertRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    kinds = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(ALERT_KINDS)),
        values=ma.fields.Nested(KindSchema),
        required=True,
        validate=registry.exact_keys(ALERT_KINDS),
    )
    alert_on_missed = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_KINDS)), required=True
    )
    escalation = ma.fields.Nested(EscalationSchema, required=True)
    deadlines = ma.fields.Nested(DeadlinesSchema, required=True)
    flags = ma.fields.Nested(FlagRulesSchema, required=True)
    labels = ma.fields.Nested(LabelsSchema, required=True)


@dataclass(frozen=True)
class AlertRules:
    """``rules/alerts.yaml``, typed: what each kind is, when alerts escalate, the scheduler's
    local deadlines, flagged control, and the labels of the states."""

    version: str
    kinds: Mapping[str, Mapping[str, str]]  # kind -> {severity, label_zh}
    alert_on_missed: tuple[str, ...]
    escalate_after: timedelta
    escalation_max_level: int
    monitoring_notice_days: int
    grade_approval_days: int
    flag_review_every_days: int
    flags_propose_after_sanctions: int
    flags_sanctions_window_days: int
    labels: Mapping[str, Mapping[str, str]]

    def kind(self, kind: str) -> Mapping[str, str]:
        return self.kinds[kind]

    def label(self, group: str, key: str) -> str:
        """The Chinese label of ``key`` in ``group`` (severities, statuses, flag_levels,
        flag_statuses)."""
        return self.labels[group][key]


def build(data: Mapping[str, Any]) -> AlertRules:
    return AlertRules(
        version=data["version"],
        kinds=MappingProxyType({k: MappingProxyType(v) for k, v in data["kinds"].items()}),
        alert_on_missed=tuple(data["alert_on_missed"]),
        escalate_after=timedelta(minutes=data["escalation"]["after_minutes"]),
        escalation_max_level=data["escalation"]["max_level"],
        monitoring_notice_days=data["deadlines"]["monitoring_notice_days"],
        grade_approval_days=data["deadlines"]["grade_approval_days"],
        flag_review_every_days=data["flags"]["review_every_days"],
        flags_propose_after_sanctions=data["flags"]["propose_after_sanctions"],
        flags_sanctions_window_days=data["flags"]["sanctions_window_days"],
        labels=MappingProxyType({g: MappingProxyType(v) for g, v in data["labels"].items()}),
    )


def current() -> AlertRules:
    """The running app's alert rules (built once per loaded file)."""
    data = registry.get("alerts")
    cache = current_app.extensions.setdefault("corrections.alert_rules", {})
    if cache.get("data") is not data:
        cache["data"], cache["rules"] = data, build(data)
    return cache["rules"]
