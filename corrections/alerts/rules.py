"""Schema of ``rules/alerts.yaml``: alert kinds, escalation, deadlines, flags (the incident
thresholds live in ``rules/incidents.yaml``, see ``corrections/incidents/rules.py``)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

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
)
SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
SEVERITY_LABELS = {"critical": "紧急", "warning": "警示", "info": "提示"}

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


def current() -> dict[str, Any]:
    return registry.get("alerts")
