"""Schemas of ``rules/incidents.yaml`` (lost contact, out-of-supervision thresholds) and
``rules/sanctions.yaml`` (proposal kinds and levels, the ladder, 禁止令 breaches, the person's
statement), and their typed form: the incidents service and the ladder read only this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry
from corrections.core.clock import add_months
from corrections.supervision.rules import EVENT_TYPES, OBLIGATION_KINDS

STATES = ("overdue", "lost_contact", "absconded", "closed")
CLOSE_REASONS = ("returned", "found", "custody", "revoked", "detained")
PROPOSAL_KINDS = ("admonition", "warning", "revocation", "return_to_custody", "police_penalty")
# The grounds of the ladder (ladder.Proposal.ground) with a label in sanctions.yaml ``grounds``;
# the custody grounds' labels are in ``custody_grounds``.
GROUNDS = ("absence", "late_intake", "admonitions", "warnings", "prohibition")
CATEGORIES = ("control_order", "suspended_sentence", "parole", "temporary_outside_custody")
BASES = ("statute", "local")
UNITS = ("days", "calendar_months", "hours")
LEVELS = ("office", "district", "city")

_article = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=120))
_basis = ma.fields.String(required=True, validate=ma.validate.OneOf(BASES))
_label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))


class QuantitySchema(ma.Schema):
    value = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=3650))
    unit = ma.fields.String(required=True, validate=ma.validate.OneOf(UNITS))


def _quantity(*units: str) -> ma.fields.Nested:
    def check(q: dict[str, Any]) -> None:
        if q["unit"] not in units:
            raise ma.ValidationError(f"unit must be one of {', '.join(units)}")

    return ma.fields.Nested(QuantitySchema, required=True, validate=check)


class OpenedByMissedSchema(ma.Schema):
    kinds = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_KINDS)), required=True
    )
    article = _article
    basis = _basis


class LostContactSchema(ma.Schema):
    after = _quantity("hours")
    article = _article
    basis = _basis


class ThresholdsSchema(ma.Schema):
    admonition_max = _quantity("days")
    admonition_article = _article
    warning_after = _quantity("days")
    warning_article = _article
    # Its article per category: rules/sanctions.yaml revocation_by_category.*.absence.
    revocation_after = _quantity("calendar_months", "days")
    basis = _basis


def _labels(keys: tuple[str, ...]) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(), values=_label, required=True, validate=registry.exact_keys(keys)
    )


class LabelsSchema(ma.Schema):
    states = _labels(STATES)
    close_reasons = _labels(CLOSE_REASONS)


@registry.register("incidents.yaml")
class IncidentRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    opened_by_missed = ma.fields.Nested(OpenedByMissedSchema, required=True)
    lost_contact = ma.fields.Nested(LostContactSchema, required=True)
    contact_events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    absence = ma.fields.Nested(ThresholdsSchema, required=True)
    late_intake = ma.fields.Nested(ThresholdsSchema, required=True)
    labels = ma.fields.Nested(LabelsSchema, required=True)


class KindSchema(ma.Schema):
    label_zh = _label
    decided_by = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    proposed_by = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    article = _article
    basis = _basis


class TopStepSchema(ma.Schema):
    proposes = ma.fields.String(required=True, validate=ma.validate.OneOf(PROPOSAL_KINDS))
    absence = _article
    warnings = _article
    prohibition = _article


class NotCorrectedSchema(ma.Schema):
    window = _quantity("calendar_months", "days")
    reset_by = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)), required=True
    )
    basis = _basis


class StepSchema(ma.Schema):
    count = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=10))
    proposes = ma.fields.String(required=True, validate=ma.validate.OneOf(PROPOSAL_KINDS))
    article = ma.fields.String(validate=ma.validate.Length(min=2, max=120))
    basis = _basis


class LadderSchema(ma.Schema):
    admonitions = ma.fields.Nested(StepSchema, required=True)
    warnings = ma.fields.Nested(StepSchema, required=True)


class BreachSchema(ma.Schema):
    proposes = ma.fields.String(required=True, validate=ma.validate.OneOf(PROPOSAL_KINDS))
    article = ma.fields.String(validate=ma.validate.Length(min=2, max=120))
    basis = _basis


class ProhibitionSchema(ma.Schema):
    minor = ma.fields.Nested(BreachSchema, required=True)
    serious = ma.fields.Nested(BreachSchema, required=True)


class ReexamGroundSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    obligation = ma.fields.String(required=True, validate=ma.validate.OneOf(OBLIGATION_KINDS))
    article = _article
    basis = _basis


class ConditionGroundSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    event = ma.fields.String(required=True, validate=ma.validate.OneOf(EVENT_TYPES))
    article = _article
    basis = _basis


class CustodyGroundsSchema(ma.Schema):
    """Grounds of a return-to-custody proposal beyond the ladder's (实施办法 49)."""

    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CATEGORIES))
    reexam_not_submitted = ma.fields.Nested(ReexamGroundSchema, required=True)
    condition_ended = ma.fields.Nested(ConditionGroundSchema, required=True)


class GroundSchema(ma.Schema):
    label_zh = _label


class StatementSchema(ma.Schema):
    required_for = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PROPOSAL_KINDS)), required=True
    )
    article = _article
    basis = _basis


class OfficerGroundSchema(ma.Schema):
    """A ground a judicial office proposes a sanction on (its item of 实施办法 34-49)."""

    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z_]+\.[a-z_]+$"))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    article = _article
    categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CATEGORIES)),
        data_key="for",
        validate=ma.validate.Length(min=1),
    )


@registry.register("sanctions.yaml")
class SanctionRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    kinds = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(PROPOSAL_KINDS)),
        values=ma.fields.Nested(KindSchema),
        required=True,
        validate=registry.exact_keys(PROPOSAL_KINDS),
    )
    grounds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(GroundSchema),
        required=True,
        validate=registry.exact_keys(GROUNDS),
    )
    revocation_by_category = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(CATEGORIES)),
        values=ma.fields.Nested(TopStepSchema),
        required=True,
        validate=registry.exact_keys(CATEGORIES),
    )
    not_corrected = ma.fields.Nested(NotCorrectedSchema, required=True)
    ladder = ma.fields.Nested(LadderSchema, required=True)
    prohibition_breach = ma.fields.Nested(ProhibitionSchema, required=True)
    custody_grounds = ma.fields.Nested(CustodyGroundsSchema, required=True)
    statement = ma.fields.Nested(StatementSchema, required=True)
    officer_grounds = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(PROPOSAL_KINDS)),
        values=ma.fields.List(
            ma.fields.Nested(OfficerGroundSchema), validate=ma.validate.Length(min=1)
        ),
        required=True,
    )

    @ma.validates_schema
    def _officer_grounds(self, data: dict[str, Any], **_: Any) -> None:
        # Codes are unique and name their kind; revocation and return to custody are offered
        # only for the categories whose top step they are (revocation_by_category; a police
        # penalty is asked for any category, 实施办法 36).
        seen: set[str] = set()
        for kind, grounds in data["officer_grounds"].items():
            for i, ground in enumerate(grounds):
                path = f"officer_grounds.{kind}.{i}"
                code = ground["code"]
                if code in seen or code.partition(".")[0] != kind:
                    raise ma.ValidationError(
                        f"codes are unique and start with '{kind}.'", field_name=path
                    )
                seen.add(code)
                tops = {
                    c
                    for c, top in data["revocation_by_category"].items()
                    if top["proposes"] == kind and kind in ("revocation", "return_to_custody")
                }
                if tops and not set(ground.get("categories") or CATEGORIES) <= tops:
                    raise ma.ValidationError(
                        f"{kind} is the top step of {sorted(tops)} only", field_name=path
                    )

    @ma.validates_schema
    def _articles(self, data: dict[str, Any], **_: Any) -> None:
        # A step that proposes a fixed kind names its article; "revocation" takes the
        # category's article from revocation_by_category.
        for path, step in (
            ("ladder.admonitions", data["ladder"]["admonitions"]),
            ("ladder.warnings", data["ladder"]["warnings"]),
            ("prohibition_breach.minor", data["prohibition_breach"]["minor"]),
            ("prohibition_breach.serious", data["prohibition_breach"]["serious"]),
        ):
            if step["proposes"] != "revocation" and not step.get("article"):
                raise ma.ValidationError(
                    "an article is required unless it proposes revocation", field_name=path
                )


# --- typed view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    value: int
    unit: str

    def after(self, start: date) -> date:
        """The last day still within this quantity counted from ``start`` (day 0)."""
        if self.unit == "calendar_months":
            return add_months(start, self.value)
        return start + timedelta(days=self.value)

    def exceeded(self, start: date, today: date) -> bool:
        """Strictly more than this quantity has passed from ``start`` to ``today``."""
        return today > self.after(start)


@dataclass(frozen=True)
class Thresholds:
    admonition_max: Quantity
    admonition_article: str
    warning_after: Quantity
    warning_article: str
    revocation_after: Quantity


@dataclass(frozen=True)
class IncidentRules:
    version: str
    sanctions_version: str
    opened_by_missed: tuple[str, ...]
    lost_contact_after_hours: int
    contact_events: tuple[str, ...]
    absence: Thresholds
    late_intake: Thresholds
    kinds: dict[str, dict[str, Any]]
    revocation_by_category: dict[str, dict[str, str]]
    not_corrected_window: Quantity
    reset_by: tuple[str, ...]
    ladder: dict[str, dict[str, Any]]
    prohibition_breach: dict[str, dict[str, Any]]
    # Grounds of return to custody beyond the ladder's, and the category they apply to.
    custody_grounds: dict[str, Any]
    statement_required_for: frozenset[str]
    statement_article: str
    state_labels: dict[str, str]
    close_reason_labels: dict[str, str]
    ground_labels: dict[str, str]
    # What a judicial office proposes on, by kind (rules/sanctions.yaml officer_grounds), and
    # each ground by its code.
    officer_grounds: dict[str, list[dict[str, Any]]]
    officer_ground_by_code: dict[str, dict[str, Any]]

    def label(self, kind: str) -> str:
        return self.kinds[kind]["label_zh"]

    def ground_label(self, ground: str | None) -> str | None:
        """The Chinese label of a proposal's ground (a ladder, custody or officer's ground)."""
        if ground in self.ground_labels:
            return self.ground_labels[ground]
        if ground in self.officer_ground_by_code:
            return self.officer_ground_by_code[ground]["label_zh"]
        custody = self.custody_grounds.get(ground) if ground else None
        return custody["label_zh"] if isinstance(custody, dict) else None

    def top_step(self, category: str) -> str:
        """What the top step (revocation) proposes for ``category``."""
        return self.revocation_by_category[category]["proposes"]

    def top_article(self, category: str, ground: str) -> str:
        return self.revocation_by_category[category][ground]

    @property
    def combined_version(self) -> str:
        return f"{self.version}+{self.sanctions_version}"


def _q(data: dict[str, Any]) -> Quantity:
    return Quantity(data["value"], data["unit"])


def _thresholds(data: dict[str, Any]) -> Thresholds:
    return Thresholds(
        admonition_max=_q(data["admonition_max"]),
        admonition_article=data["admonition_article"],
        warning_after=_q(data["warning_after"]),
        warning_article=data["warning_article"],
        revocation_after=_q(data["revocation_after"]),
    )


def build(incidents: dict[str, Any], sanctions: dict[str, Any]) -> IncidentRules:
    return IncidentRules(
        version=incidents["version"],
        sanctions_version=sanctions["version"],
        opened_by_missed=tuple(incidents["opened_by_missed"]["kinds"]),
        lost_contact_after_hours=incidents["lost_contact"]["after"]["value"],
        contact_events=tuple(incidents["contact_events"]),
        absence=_thresholds(incidents["absence"]),
        late_intake=_thresholds(incidents["late_intake"]),
        kinds=sanctions["kinds"],
        revocation_by_category=sanctions["revocation_by_category"],
        not_corrected_window=_q(sanctions["not_corrected"]["window"]),
        reset_by=tuple(sanctions["not_corrected"]["reset_by"]),
        ladder=sanctions["ladder"],
        prohibition_breach=sanctions["prohibition_breach"],
        custody_grounds=sanctions["custody_grounds"],
        statement_required_for=frozenset(sanctions["statement"]["required_for"]),
        statement_article=sanctions["statement"]["article"],
        state_labels=incidents["labels"]["states"],
        close_reason_labels=incidents["labels"]["close_reasons"],
        ground_labels={k: v["label_zh"] for k, v in sanctions["grounds"].items()},
        officer_grounds=sanctions["officer_grounds"],
        officer_ground_by_code={
            g["code"]: {**g, "kind": kind}
            for kind, grounds in sanctions["officer_grounds"].items()
            for g in grounds
        },
    )


def current() -> IncidentRules:
    """The incident and sanction rules of the running app (built once per app)."""
    from flask import current_app

    cache = current_app.extensions.setdefault("corrections.incident_rules", {})
    if "rules" not in cache:
        cache["rules"] = build(registry.get("incidents"), registry.get("sanctions"))
    return cache["rules"]
