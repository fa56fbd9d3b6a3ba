"""Schemas of ``rules/grading.yaml`` and ``rules/assessment.yaml``, and their typed form.

The engine works on the frozen dataclasses built here, never on raw YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry
from corrections.persons.rules import CATEGORY_IDS

EVENT_KINDS = (
    "admonition",
    "warning",
    "police_penalty",
    "lost_contact",
    "electronic_monitoring",
    "commendation",
    "late_report",
)
OBLIGATION_KINDS = ("report", "check", "visit", "education", "service")
RISK_BANDS = ("low", "medium", "high")

_label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
_rule_id = ma.fields.String(
    required=True, validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{2,79}$", error="snake_case id")
)
_days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=366))
_hours = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=200))
_months = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=60))


class LevelSchema(ma.Schema):
    label_zh = _label
    label_en = _label


class TravelSchema(ma.Schema):
    """What a grade adds to a trip (Art. 27: a legitimate trip is approved, never forbidden):
    a higher approval level, a shorter maximum, conditions while away."""

    approver = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["office", "district", "city"])
    )
    max_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=366), load_default=None)
    conditions = ma.fields.List(ma.fields.String(), load_default=list)


class TravelConditionSchema(ma.Schema):
    label_zh = _label
    article = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200))
    basis = ma.fields.String(required=True, validate=ma.validate.OneOf(["statute", "local"]))


class RequirementsSchema(ma.Schema):
    report_interval_days = _days
    check_interval_days = _days
    visit_interval_days = _days
    education_hours_per_month = _hours
    service_hours_per_month = _hours
    travel = ma.fields.Nested(TravelSchema, required=True)


class GradeSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z][a-z_]{1,19}$"))
    label_zh = _label
    level = ma.fields.String(required=True)
    requirements = ma.fields.Nested(RequirementsSchema, required=True)


class IntakeConditionSchema(ma.Schema):
    intake_risk = ma.fields.String(validate=ma.validate.OneOf(RISK_BANDS))
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORY_IDS))
    has_guarantor = ma.fields.Boolean()
    juvenile = ma.fields.Boolean()


class IntakeRuleSchema(ma.Schema):
    id = _rule_id
    label_zh = _label
    when = ma.fields.Nested(IntakeConditionSchema, required=True)
    grade = ma.fields.String(required=True)


class IntakeSchema(ma.Schema):
    initial_period_months = _months
    rules = ma.fields.List(
        ma.fields.Nested(IntakeRuleSchema), required=True, validate=ma.validate.Length(min=1)
    )


class StricterRuleSchema(ma.Schema):
    id = _rule_id
    label_zh = _label
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_KINDS)),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    at_least = ma.fields.String(required=True)


class IntoLenientSchema(ma.Schema):
    months_out_of_strict_level = _months
    quarterly_average_score_min = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=100)
    )
    consecutive_commendations = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=12)
    )
    risk_band = ma.fields.String(required=True, validate=ma.validate.OneOf(RISK_BANDS))


class LooserSchema(ma.Schema):
    approval = ma.fields.String(required=True, validate=ma.validate.OneOf(["district", "city"]))
    min_months_in_grade = _months
    good_assessments_required = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=12)
    )
    sanction_free_months = _months
    sanctions = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_KINDS)), required=True
    )
    into_lenient_level = ma.fields.Nested(IntoLenientSchema, required=True)


class ReviewSchema(ma.Schema):
    interval_months = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))


@registry.register("grading.yaml")
class GradingRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    levels = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(["strict", "ordinary", "lenient"])),
        values=ma.fields.Nested(LevelSchema),
        required=True,
    )
    grades = ma.fields.List(
        ma.fields.Nested(GradeSchema), required=True, validate=ma.validate.Length(min=2)
    )
    intake = ma.fields.Nested(IntakeSchema, required=True)
    stricter = ma.fields.List(ma.fields.Nested(StricterRuleSchema), required=True)
    looser = ma.fields.Nested(LooserSchema, required=True)
    review = ma.fields.Nested(ReviewSchema, required=True)
    travel_conditions = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$")),
        values=ma.fields.Nested(TravelConditionSchema),
        load_default=dict,
    )

    @ma.validates_schema
    def _references(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        grade_ids = [g["id"] for g in data["grades"]]
        for i, grade in enumerate(data["grades"]):
            unknown = [
                c
                for c in grade["requirements"]["travel"]["conditions"]
                if c not in data.get("travel_conditions", {})
            ]
            if unknown:
                errors.setdefault("grades", {})[i] = {
                    "requirements": {
                        "travel": {"conditions": [f"unknown travel condition {', '.join(unknown)}"]}
                    }
                }
            if grade_ids.count(grade["id"]) > 1:
                errors.setdefault("grades", {})[i] = {"id": [f"duplicate grade {grade['id']}"]}
            if grade["level"] not in data["levels"]:
                errors.setdefault("grades", {}).setdefault(i, {})["level"] = [
                    f"unknown level {grade['level']}"
                ]
        order = ["strict", "ordinary", "lenient"]
        ranks = [order.index(g["level"]) for g in data["grades"] if g["level"] in order]
        if ranks != sorted(ranks):
            errors.setdefault("grades", {})["_order"] = [
                "grades must go from the strictest level to the most lenient"
            ]
        for i, rule in enumerate(data["intake"]["rules"]):
            if rule["grade"] not in grade_ids:
                errors.setdefault("intake", {}).setdefault("rules", {})[i] = {
                    "grade": [f"unknown grade {rule['grade']}"]
                }
        for i, rule in enumerate(data["stricter"]):
            if rule["at_least"] not in grade_ids:
                errors.setdefault("stricter", {})[i] = {
                    "at_least": [f"unknown grade {rule['at_least']}"]
                }
        ids = [r["id"] for r in data["intake"]["rules"]] + [r["id"] for r in data["stricter"]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            errors["_rule_ids"] = [f"duplicate rule id {', '.join(dupes)}"]
        if errors:
            raise ma.ValidationError(errors)


class DeductionSchema(ma.Schema):
    id = _rule_id
    label_zh = _label
    obligation = ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_KINDS))
    event = ma.fields.String(validate=ma.validate.OneOf(EVENT_KINDS))
    points = ma.fields.Integer(validate=ma.validate.Range(min=0, max=100))
    points_per_hour = ma.fields.Integer(validate=ma.validate.Range(min=0, max=100))

    @ma.validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("obligation" in data) == ("event" in data):
            raise ma.ValidationError("name exactly one of obligation or event", "obligation")
        if ("points" in data) == ("points_per_hour" in data):
            raise ma.ValidationError("give exactly one of points or points_per_hour", "points")


class RatingSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.OneOf(["good", "pass", "fail"]))
    label_zh = _label
    min_score = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=1000))


@registry.register("assessment.yaml")
class AssessmentRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    base_points = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=1000))
    deductions = ma.fields.List(ma.fields.Nested(DeductionSchema), required=True)
    ratings = ma.fields.List(
        ma.fields.Nested(RatingSchema), required=True, validate=ma.validate.Length(equal=3)
    )
    fail_on = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_KINDS)), required=True
    )

    @ma.validates_schema
    def _ratings(self, data: dict[str, Any], **kwargs: Any) -> None:
        ids = [r["id"] for r in data["ratings"]]
        if sorted(ids) != ["fail", "good", "pass"]:
            raise ma.ValidationError("needs good, pass and fail once each", "ratings")
        scores = [r["min_score"] for r in data["ratings"]]
        if scores != sorted(scores, reverse=True) or ids[0] != "good" or ids[-1] != "fail":
            raise ma.ValidationError("list good, pass, fail with falling min_score", "ratings")
        rule_ids = [d["id"] for d in data["deductions"]]
        if len(set(rule_ids)) != len(rule_ids):
            raise ma.ValidationError("duplicate deduction id", "deductions")


# --- typed view for the engine ------------------------------------------------------------


@dataclass(frozen=True)
class Requirements:
    report_interval_days: int
    check_interval_days: int
    visit_interval_days: int
    education_hours_per_month: int
    service_hours_per_month: int
    travel_approver: str
    travel_max_days: int | None
    travel_conditions: tuple[str, ...]


@dataclass(frozen=True)
class Grade:
    id: str
    label_zh: str
    level: str
    rank: int  # 0 = strictest
    requirements: Requirements


@dataclass(frozen=True)
class Rule:
    id: str
    label_zh: str
    data: dict[str, Any]


@dataclass(frozen=True)
class GradingRules:
    version: str
    levels: dict[str, dict[str, str]]
    grades: tuple[Grade, ...]
    intake_period_months: int
    intake_rules: tuple[Rule, ...]
    stricter_rules: tuple[Rule, ...]
    looser: dict[str, Any]
    review_interval_months: int
    assessment_version: str
    base_points: int
    deductions: tuple[Rule, ...]
    ratings: tuple[dict[str, Any], ...]
    fail_on: frozenset[str]
    travel_conditions: dict[str, dict[str, str]]

    def grade(self, grade_id: str) -> Grade:
        for g in self.grades:
            if g.id == grade_id:
                return g
        raise KeyError(grade_id)

    def grade_ids(self) -> list[str]:
        return [g.id for g in self.grades]

    def rating_label(self, rating: str) -> str:
        return next(r["label_zh"] for r in self.ratings if r["id"] == rating)

    @property
    def combined_version(self) -> str:
        return f"{self.version}+{self.assessment_version}"


def build(grading: dict[str, Any], assessment: dict[str, Any]) -> GradingRules:
    grades = tuple(
        Grade(
            id=g["id"],
            label_zh=g["label_zh"],
            level=g["level"],
            rank=i,
            requirements=Requirements(
                report_interval_days=g["requirements"]["report_interval_days"],
                check_interval_days=g["requirements"]["check_interval_days"],
                visit_interval_days=g["requirements"]["visit_interval_days"],
                education_hours_per_month=g["requirements"]["education_hours_per_month"],
                service_hours_per_month=g["requirements"]["service_hours_per_month"],
                travel_approver=g["requirements"]["travel"]["approver"],
                travel_max_days=g["requirements"]["travel"].get("max_days"),
                travel_conditions=tuple(g["requirements"]["travel"].get("conditions", ())),
            ),
        )
        for i, g in enumerate(grading["grades"])
    )
    return GradingRules(
        version=grading["version"],
        levels=grading["levels"],
        grades=grades,
        intake_period_months=grading["intake"]["initial_period_months"],
        intake_rules=tuple(Rule(r["id"], r["label_zh"], r) for r in grading["intake"]["rules"]),
        stricter_rules=tuple(Rule(r["id"], r["label_zh"], r) for r in grading["stricter"]),
        looser=grading["looser"],
        review_interval_months=grading["review"]["interval_months"],
        assessment_version=assessment["version"],
        base_points=assessment["base_points"],
        deductions=tuple(Rule(d["id"], d["label_zh"], d) for d in assessment["deductions"]),
        ratings=tuple(assessment["ratings"]),
        fail_on=frozenset(assessment["fail_on"]),
        travel_conditions=grading.get("travel_conditions", {}),
    )


def current() -> GradingRules:
    """The grading rules of the running app (built once per app)."""
    from flask import current_app

    cache = current_app.extensions.setdefault("corrections.grading_rules", {})
    if "rules" not in cache:
        cache["rules"] = build(registry.get("grading"), registry.get("assessment"))
    return cache["rules"]
