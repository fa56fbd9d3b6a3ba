"""Schema of ``rules/supervision.yaml``."""

from __future__ import annotations

import marshmallow as ma

from corrections.core import rules as registry

EVENT_TYPES = (
    "report",
    "phone_check",
    "location_check",
    "field_visit",
    "talk",
    "education",
    "community_service",
    "address_change",
    "job_change",
    "family_event",
    "contact_attempt_failed",
    "police_notified",
    "commendation",
    "admonition",
    "warning",
    "police_penalty",
    "prohibition_breach",
    "monitor_alarm",
    "travel_departure",
    "travel_return",
    "note",
)
CHANNELS = ("in_person", "phone", "app", "video", "field")
OBLIGATION_KINDS = ("report", "check", "visit", "education", "service")
SANCTIONS = ("admonition", "warning", "police_penalty")
LEVELS = ("office", "district", "city")
MONITORING_GROUNDS = (
    "violated_prohibition_order",
    "left_without_approval",
    "refused_to_report_after_warning",
    "police_penalty",
    "revocation_proposed",
)

_label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))


class LabelSchema(ma.Schema):
    label_zh = _label


class SanctionRuleSchema(ma.Schema):
    decided_at = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    refused_for = ma.fields.List(ma.fields.String(), load_default=list)


class ObligationRuleSchema(ma.Schema):
    label_zh = _label
    fulfilled_by = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)))
    hours_from = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)))
    channels = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CHANNELS)))
    remote_channels_while_away = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    )

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if ("fulfilled_by" in data) == ("hours_from" in data):
            raise ma.ValidationError(
                "give exactly one of fulfilled_by or hours_from", "fulfilled_by"
            )


class TravelSchema(ma.Schema):
    office_max_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=60))
    max_days_per_permit = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=366)
    )
    window_months = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))
    max_total_days_in_window = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=366)
    )


class TransferSchema(ma.Schema):
    report_within_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=60))


class GroundSchema(ma.Schema):
    number = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=5))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class MonitoringSchema(ma.Schema):
    max_months_per_period = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=12)
    )
    grounds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(GroundSchema),
        required=True,
        validate=registry.exact_keys(MONITORING_GROUNDS),
    )


@registry.register("supervision.yaml")
class SupervisionRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    future_tolerance_minutes = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=60)
    )
    event_types = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(LabelSchema),
        required=True,
        validate=registry.exact_keys(EVENT_TYPES),
    )
    channels = ma.fields.Dict(
        keys=ma.fields.String(),
        values=_label,
        required=True,
        validate=registry.exact_keys(CHANNELS),
    )
    sanctions = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SanctionRuleSchema),
        required=True,
        validate=registry.exact_keys(SANCTIONS),
    )
    obligations = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(ObligationRuleSchema),
        required=True,
        validate=registry.exact_keys(OBLIGATION_KINDS),
    )
    travel = ma.fields.Nested(TravelSchema, required=True)
    transfer = ma.fields.Nested(TransferSchema, required=True)
    monitoring = ma.fields.Nested(MonitoringSchema, required=True)


def current() -> dict:
    return registry.get("supervision")
