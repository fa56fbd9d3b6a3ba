"""Schema of ``rules/supervision.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import marshmallow as ma
from flask import current_app

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
    # 暂予监外执行: the monthly report on the person's health and the hospital's re-examination
    # results (实施办法 24); the reason for temporary execution has ceased (刑诉 268(3)).
    "health_report",
    "medical_reexam",
    "release_condition_ended",
    # 矫正期满前: the summary and the agency's written assessment (实施办法 53).
    "term_summary",
)
CHANNELS = ("in_person", "phone", "app", "video", "field")
OBLIGATION_KINDS = (
    "report",
    "check",
    "visit",
    "education",
    "service",
    "health_report",
    "medical_reexam",
    "term_summary",
)
CATEGORIES = ("control_order", "suspended_sentence", "parole", "temporary_outside_custody")
PERIOD_UNITS = ("days", "calendar_months")
# Measures of another authority that hold a person (the obligations pause while they last).
DETENTION_KINDS = (
    "administrative_detention",
    "judicial_detention",
    "compulsory_drug_treatment",
    "criminal_detention",
    "arrest",
    "residential_surveillance",
    "other",
)
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
    # Only persons of these categories can have such an event (with the article that says so).
    only_for = ma.fields.List(
        ma.fields.String(
            validate=ma.validate.OneOf(
                ["control_order", "suspended_sentence", "parole", "temporary_outside_custody"]
            )
        )
    )
    article = ma.fields.String(validate=ma.validate.Length(min=2, max=200))

    @ma.validates_schema
    def _only_for_has_article(self, data, **kwargs):
        if "only_for" in data and "article" not in data:
            raise ma.ValidationError("only_for needs the article that says so", "article")


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
    """An obligation kind. The grade's kinds take their interval or hours from
    rules/grading.yaml; the others name their own period (``period`` in ``unit``, from the
    last fulfilment) or the clock of rules/clocks.yaml they fall due by (``clock``, once), and
    the article that sets it. ``categories``: only persons of these categories owe it."""

    label_zh = _label
    fulfilled_by = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)))
    hours_from = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)))
    channels = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CHANNELS)))
    remote_channels_while_away = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    )
    period = ma.fields.Integer(validate=ma.validate.Range(min=1, max=366))
    unit = ma.fields.String(validate=ma.validate.OneOf(PERIOD_UNITS))
    clock = ma.fields.String(validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$"))
    categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CATEGORIES)),
        validate=ma.validate.Length(min=1),
    )
    article = ma.fields.String(validate=ma.validate.Length(min=2, max=200))
    basis = ma.fields.String(validate=ma.validate.OneOf(["statute", "local"]))

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if ("fulfilled_by" in data) == ("hours_from" in data):
            raise ma.ValidationError(
                "give exactly one of fulfilled_by or hours_from", "fulfilled_by"
            )
        if ("period" in data) != ("unit" in data):
            raise ma.ValidationError("period and unit go together", "unit")
        if "period" in data and "clock" in data:
            raise ma.ValidationError("give a period or a clock, not both", "clock")
        if ("period" in data or "clock" in data) and not (
            data.get("article") and data.get("basis")
        ):
            raise ma.ValidationError("a period or a clock names its article and basis", "article")


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


class DetentionSchema(ma.Schema):
    """Held by another authority (拘留, 强制隔离戒毒, 刑事强制措施 ...): obligations pause."""

    kinds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=_label,
        required=True,
        validate=registry.exact_keys(DETENTION_KINDS),
    )
    article = _article
    basis = _basis
    # The reason written on the obligations the pause excuses.
    suspended_reason_zh = _label


class GroundSchema(ma.Schema):
    number = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=5))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    article = _article


class MonitoringSchema(ma.Schema):
    grounds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(GroundSchema),
        required=True,
        validate=registry.exact_keys(MONITORING_GROUNDS),
    )


class EventFieldSchema(LabelSchema):
    choices = ma.fields.Dict(keys=ma.fields.String(), values=_label)


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
    detention = ma.fields.Nested(DetentionSchema, required=True)
    # The labels of event fields for generated forms (event_forms.py checks completeness).
    event_fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(EventFieldSchema), load_default=dict
    )


# --- the typed accessor --------------------------------------------------------------------


@dataclass(frozen=True)
class EventTypeRule:
    label_zh: str
    default_channel: str | None = None
    # Only persons of these categories can have such an event (None: everyone), and why.
    only_for: frozenset[str] | None = None
    article: str | None = None

    def allows(self, category: str) -> bool:
        return self.only_for is None or category in self.only_for


@dataclass(frozen=True)
class ObligationRule:
    kind: str
    label_zh: str
    fulfilled_by: tuple[str, ...] = ()
    hours_from: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    remote_channels_while_away: tuple[str, ...] = ()
    period: int | None = None
    unit: str | None = None
    clock: str | None = None
    categories: frozenset[str] | None = None
    article: str | None = None
    basis: str | None = None

    def owed_by(self, category: str) -> bool:
        return self.categories is None or category in self.categories


@dataclass(frozen=True)
class DecisionRule:
    level: str
    article: str
    basis: str
    sanction_free_months: int = 0


@dataclass(frozen=True)
class SupervisionRules:
    """``rules/supervision.yaml``, typed. ``travel`` stays the validated mapping the pure
    ``travel_rules.TravelRules.from_yaml`` reads."""

    version: str
    future_tolerance: timedelta
    event_types: Mapping[str, EventTypeRule]
    channels: Mapping[str, str]
    refused_for: Mapping[str, frozenset[str]]  # sanction -> categories it cannot be given to
    obligations: Mapping[str, ObligationRule]
    decision_levels: Mapping[str, DecisionRule]
    monitoring_grounds: Mapping[str, Mapping[str, Any]]
    detention_kinds: Mapping[str, str]
    detention_suspended_reason_zh: str
    detention_article: str
    labels: Mapping[str, Mapping[str, str]]
    raw: Mapping[str, Any]

    def label(self, group: str, key: str) -> str:
        """The Chinese label of a state the API shows (approval_levels, permit_statuses,
        obligation_statuses)."""
        return self.labels[group][key]

    def obligation_kind_of(self, event_type: str) -> str | None:
        """The obligation kind an event of ``event_type`` counts toward, if any."""
        for kind, rule in self.obligations.items():
            if event_type in rule.fulfilled_by or event_type in rule.hours_from:
                return kind
        return None


def _frozen(values) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def build(data: Mapping[str, Any]) -> SupervisionRules:
    obligations = {
        kind: ObligationRule(
            kind=kind,
            label_zh=r["label_zh"],
            fulfilled_by=tuple(r.get("fulfilled_by", ())),
            hours_from=tuple(r.get("hours_from", ())),
            channels=tuple(r.get("channels", ())),
            remote_channels_while_away=tuple(r.get("remote_channels_while_away", ())),
            period=r.get("period"),
            unit=r.get("unit"),
            clock=r.get("clock"),
            categories=_frozen(r.get("categories")),
            article=r.get("article"),
            basis=r.get("basis"),
        )
        for kind, r in data["obligations"].items()
    }
    return SupervisionRules(
        version=data["version"],
        future_tolerance=timedelta(minutes=data["future_tolerance_minutes"]),
        event_types=MappingProxyType(
            {
                k: EventTypeRule(
                    label_zh=v["label_zh"],
                    default_channel=v.get("default_channel"),
                    only_for=_frozen(v.get("only_for")),
                    article=v.get("article"),
                )
                for k, v in data["event_types"].items()
            }
        ),
        channels=MappingProxyType(dict(data["channels"])),
        refused_for=MappingProxyType(
            {k: frozenset(v.get("refused_for", ())) for k, v in data["sanctions"].items()}
        ),
        obligations=MappingProxyType(obligations),
        decision_levels=MappingProxyType(
            {
                k: DecisionRule(
                    level=v["level"],
                    article=v["article"],
                    basis=v["basis"],
                    sanction_free_months=v.get("sanction_free_months", 0),
                )
                for k, v in data["decision_levels"].items()
            }
        ),
        monitoring_grounds=MappingProxyType(dict(data["monitoring"]["grounds"])),
        detention_kinds=MappingProxyType(dict(data["detention"]["kinds"])),
        detention_suspended_reason_zh=data["detention"]["suspended_reason_zh"],
        detention_article=data["detention"]["article"],
        labels=MappingProxyType({g: MappingProxyType(v) for g, v in data["labels"].items()}),
        raw=data,
    )


def current() -> SupervisionRules:
    """The running app's supervision rules (built once per loaded file)."""
    data = registry.get("supervision")
    cache = current_app.extensions.setdefault("corrections.supervision_rules", {})
    if cache.get("data") is not data:
        cache["data"], cache["rules"] = data, build(data)
    return cache["rules"]
