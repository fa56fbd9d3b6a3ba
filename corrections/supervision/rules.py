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
    "police_penalty_proposal",
    "prohibition_breach",
    "monitor_alarm",
    "travel_departure",
    "travel_return",
    "note",
)
CHANNELS = ("in_person", "phone", "app", "video", "field")
OBLIGATION_KINDS = ("report", "check", "visit", "education", "service")
SANCTIONS = ("admonition", "warning", "police_penalty")
# Decisions recorded as events, each with a decision record (who, at which level, on what).
DECISION_EVENTS = (*SANCTIONS, "police_penalty_proposal", "commendation")
LEVELS = ("office", "district", "city")
# Decisions whose level lives here (the sanctions' levels: rules/sanctions.yaml).
DECISIONS = (
    "commendation",
    "police_penalty_proposal",
    "police_penalty",
    "discharge",
    "termination",
    "transfer",
    "monitoring",
)
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


class EventTypeSchema(LabelSchema):
    default_channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))


def _labels(keys: tuple[str, ...]) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(), values=_label, required=True, validate=registry.exact_keys(keys)
    )


PERMIT_STATUSES = (
    "requested",
    "approved",
    "rejected",
    "departed",
    "returned",
    "overdue",
    "expired",
    "cancelled",
)
OBLIGATION_STATUSES = ("open", "fulfilled", "missed", "excused")


class LabelsSchema(ma.Schema):
    approval_levels = _labels(LEVELS)
    permit_statuses = _labels(PERMIT_STATUSES)
    obligation_statuses = _labels(OBLIGATION_STATUSES)


_article = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200))
_basis = ma.fields.String(required=True, validate=ma.validate.OneOf(["statute", "local"]))


class SanctionRuleSchema(ma.Schema):
    refused_for = ma.fields.List(ma.fields.String(), load_default=list)


class DecisionLevelSchema(ma.Schema):
    level = ma.fields.String(required=True, validate=ma.validate.OneOf([*LEVELS, "district_head"]))
    article = _article
    basis = _basis
    sanction_free_months = ma.fields.Integer(validate=ma.validate.Range(min=0, max=60))
    conditions_basis = ma.fields.String(validate=ma.validate.OneOf(["statute", "local"]))


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


class DaysRuleSchema(ma.Schema):
    value = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=366))
    article = _article
    basis = _basis


class WindowRuleSchema(ma.Schema):
    months = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))
    max_total_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=366))
    article = _article
    basis = _basis


class NotifyRuleSchema(ma.Schema):
    procuratorate = ma.fields.Boolean(required=True)
    article = _article
    basis = _basis


class TravelSchema(ma.Schema):
    office_max_days = ma.fields.Nested(DaysRuleSchema, required=True)
    district_max_days = ma.fields.Nested(DaysRuleSchema, required=True)
    window = ma.fields.Nested(WindowRuleSchema, required=True)
    city_approval_notifies = ma.fields.Nested(NotifyRuleSchema, required=True)

    @ma.validates_schema
    def _order(self, data, **kwargs):
        if data["district_max_days"]["value"] < data["office_max_days"]["value"]:
            raise ma.ValidationError("must not be below office_max_days", "district_max_days")


class GroundSchema(ma.Schema):
    number = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=5))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class MonitoringSchema(ma.Schema):
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
        values=ma.fields.Nested(EventTypeSchema),
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
    decision_levels = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(DecisionLevelSchema),
        required=True,
        validate=registry.exact_keys(DECISIONS),
    )
    travel = ma.fields.Nested(TravelSchema, required=True)
    monitoring = ma.fields.Nested(MonitoringSchema, required=True)
    labels = ma.fields.Nested(LabelsSchema, required=True)


def current() -> dict:
    return registry.get("supervision")
