"""Schema of ``rules/procedures.yaml`` and the pure decisions the procedures service asks of
it: whether a correction team meets its requirements (社区矫正法 25, 52), whether a correction
plan is due for review (24), and the state of every step of a person's intake and discharge
checklist. Inputs in, result out, like the grading engine; table tests in
``tests/procedures/test_rules.py`` are named after the article each rule encodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry
from corrections.core.clock import add_months

STATES = ("done", "missing", "not_applicable", "due")
STEPS = (
    "investigation_assessment",
    "intake_announcement",
    "correction_team",
    "correction_plan",
    "exit_ban_filing",
    "exit_ban_lifting",
    "discharge_announcement",
)
REASONS = (
    "no_team_members",
    "assessment_unfinished",
    "not_discharged",
    "term_not_ended",
    "no_filing",
)
ANNOUNCEMENT_KINDS = ("intake", "discharge")
TEAM_ROLES = (
    "officer",
    "social_worker",
    "volunteer",
    "guardian",
    "family",
    "residents_committee",
    "village_committee",
    "employer",
    "school",
    "juvenile_expert",
)
GENDERS = ("male", "female")
APPLIES_TO = ("all", "female", "juvenile")
PLAN_STATUSES = ("current", "superseded", "closed")
REVIEW_KINDS = ("grade_changed", "scheduled")
ASSESSMENT_STATES = ("requested", "finished")
CONCLUSIONS = ("suitable", "unsuitable")
EXIT_BAN_STATES = ("filed", "lift_due", "lifted")
TERM_END_KINDS = ("discharge", "pardon", "revocation", "return_to_custody", "death")
BASES = ("statute", "local")

# Person statuses (rules/persons.yaml): before intake reporting, under supervision, ended.
PENDING_INTAKE = "pending_intake"
ENDED_STATUSES = frozenset({"discharged", "terminated", "transferred", "deceased"})

_article = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=120))
_basis = ma.fields.String(required=True, validate=ma.validate.OneOf(BASES))
_label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
_verified = ma.fields.Boolean(load_default=True)


class LabelSchema(ma.Schema):
    label_zh = _label


class ArticleSchema(ma.Schema):
    label_zh = _label
    article = _article
    basis = _basis
    verified = _verified


def _labels(ids: tuple[str, ...], schema: type[ma.Schema] = LabelSchema) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(schema),
        required=True,
        validate=registry.exact_keys(ids),
    )


class MemberConditionSchema(ma.Schema):
    gender = ma.fields.String(validate=ma.validate.OneOf(GENDERS))
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(TEAM_ROLES)),
        validate=ma.validate.Length(min=1),
    )

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("name a gender or roles", field_name="gender")


class RequirementSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    applies_to = ma.fields.String(required=True, validate=ma.validate.OneOf(APPLIES_TO))
    member = ma.fields.Nested(MemberConditionSchema, required=True)
    label_zh = _label
    article = _article
    basis = _basis
    verified = _verified


class TeamSchema(ma.Schema):
    roles = _labels(TEAM_ROLES)
    requirements = ma.fields.List(ma.fields.Nested(RequirementSchema), required=True)

    @ma.validates_schema
    def _unique_ids(self, data: dict[str, Any], **_: Any) -> None:
        ids = [r["id"] for r in data["requirements"]]
        if len(ids) != len(set(ids)):
            raise ma.ValidationError("requirement ids must be unique", field_name="requirements")


class QuantitySchema(ma.Schema):
    label_zh = _label
    value = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=24))
    unit = ma.fields.String(required=True, validate=ma.validate.OneOf(["calendar_months"]))
    article = _article
    basis = _basis
    verified = _verified


class PlanSchema(ma.Schema):
    statuses = _labels(PLAN_STATUSES)
    review_within = ma.fields.Nested(QuantitySchema, required=True)
    review_kinds = _labels(REVIEW_KINDS, ArticleSchema)


class AssessmentSchema(ma.Schema):
    states = _labels(ASSESSMENT_STATES)
    conclusions = _labels(CONCLUSIONS)


class ExitBanSchema(ma.Schema):
    label_zh = _label
    states = _labels(EXIT_BAN_STATES)
    lift_on_term_end = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(TERM_END_KINDS)),
        values=ma.fields.Nested(LabelSchema),
        required=True,
    )
    article = _article
    basis = _basis
    verified = _verified


@registry.register("procedures.yaml")
class ProceduresRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    states = _labels(STATES)
    steps = _labels(STEPS, ArticleSchema)
    reasons = _labels(REASONS)
    announcements = _labels(ANNOUNCEMENT_KINDS, ArticleSchema)
    team = ma.fields.Nested(TeamSchema, required=True)
    plan = ma.fields.Nested(PlanSchema, required=True)
    assessment = ma.fields.Nested(AssessmentSchema, required=True)
    exit_ban = ma.fields.Nested(ExitBanSchema, required=True)


# --- typed view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    id: str
    applies_to: str
    gender: str | None
    roles: frozenset[str]
    label_zh: str
    article: str
    basis: str

    def applies(self, *, gender: str, juvenile: bool) -> bool:
        if self.applies_to == "female":
            return gender == "female"
        if self.applies_to == "juvenile":
            return juvenile
        return True

    def met_by(self, member: Member) -> bool:
        return (self.gender is None or member.gender == self.gender) and (
            not self.roles or member.role in self.roles
        )


@dataclass(frozen=True)
class ProcedureRules:
    version: str
    states: Mapping[str, str]  # id -> label_zh
    steps: Mapping[str, Mapping[str, Any]]  # id -> label_zh, article, basis
    reasons: Mapping[str, str]
    announcements: Mapping[str, Mapping[str, Any]]
    roles: Mapping[str, str]
    requirements: tuple[Requirement, ...]
    plan_statuses: Mapping[str, str]
    review_months: int
    review_kinds: Mapping[str, Mapping[str, Any]]
    assessment_states: Mapping[str, str]
    conclusions: Mapping[str, str]
    exit_ban_states: Mapping[str, str]
    exit_ban_article: str
    lift_on_term_end: Mapping[str, str]  # term-end kind -> label_zh

    def reason_label(self, code: str) -> str:
        """The label of a checklist reason: a fixed one, a requirement or a review kind."""
        if code in self.reasons:
            return self.reasons[code]
        if code in self.review_kinds:
            return self.review_kinds[code]["label_zh"]
        return next(r.label_zh for r in self.requirements if r.id == code)

    def default_review_on(self, day: date) -> date:
        """The latest day a new plan's first review may be set to (and its default)."""
        return add_months(day, self.review_months)


def _labels_of(data: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    return {k: v["label_zh"] for k, v in data.items()}


def build(data: dict[str, Any]) -> ProcedureRules:
    return ProcedureRules(
        version=data["version"],
        states=_labels_of(data["states"]),
        steps=data["steps"],
        reasons=_labels_of(data["reasons"]),
        announcements=data["announcements"],
        roles=_labels_of(data["team"]["roles"]),
        requirements=tuple(
            Requirement(
                id=r["id"],
                applies_to=r["applies_to"],
                gender=r["member"].get("gender"),
                roles=frozenset(r["member"].get("roles", ())),
                label_zh=r["label_zh"],
                article=r["article"],
                basis=r["basis"],
            )
            for r in data["team"]["requirements"]
        ),
        plan_statuses=_labels_of(data["plan"]["statuses"]),
        review_months=data["plan"]["review_within"]["value"],
        review_kinds=data["plan"]["review_kinds"],
        assessment_states=_labels_of(data["assessment"]["states"]),
        conclusions=_labels_of(data["assessment"]["conclusions"]),
        exit_ban_states=_labels_of(data["exit_ban"]["states"]),
        exit_ban_article=data["exit_ban"]["article"],
        lift_on_term_end=_labels_of(data["exit_ban"]["lift_on_term_end"]),
    )


def current() -> ProcedureRules:
    """The procedure rules of the running app (built once per app)."""
    from flask import current_app

    cache = current_app.extensions.setdefault("corrections.procedure_rules", {})
    if "rules" not in cache:
        cache["rules"] = build(registry.get("procedures"))
    return cache["rules"]


# --- the decisions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    role: str
    gender: str


@dataclass(frozen=True)
class RequirementResult:
    requirement: Requirement
    met: bool


def team_requirements(
    rules: ProcedureRules, *, gender: str, juvenile: bool, members: tuple[Member, ...]
) -> tuple[RequirementResult, ...]:
    """The requirements that apply to a person's team (社区矫正法 25, 52), each met or not."""
    return tuple(
        RequirementResult(r, any(r.met_by(m) for m in members))
        for r in rules.requirements
        if r.applies(gender=gender, juvenile=juvenile)
    )


def team_complete(members: tuple[Member, ...], results: tuple[RequirementResult, ...]) -> bool:
    """A team is in place: at least one member, and every requirement that applies met."""
    return bool(members) and all(r.met for r in results)


@dataclass(frozen=True)
class Review:
    """Whether a correction plan is due for review, why (a review kind) and since when it was
    marked (a scheduled review is due from the plan's ``next_review_on``)."""

    due: bool
    kind: str | None = None
    since: datetime | None = None


def plan_review(
    *,
    next_review_on: date,
    review_due_kind: str | None,
    review_due_since: datetime | None,
    today: date,
) -> Review:
    """A plan is due for review when something marked it (a grade change) or on its
    ``next_review_on`` day; a mark wins, being the more specific reason (社区矫正法 24)."""
    if review_due_kind is not None:
        return Review(True, review_due_kind, review_due_since)
    if next_review_on <= today:
        return Review(True, "scheduled")
    return Review(False)


@dataclass(frozen=True)
class PlanFacts:
    review: Review


@dataclass(frozen=True)
class AssessmentFacts:
    finished: bool


@dataclass(frozen=True)
class ExitBanFacts:
    lift_due: bool
    lifted: bool


@dataclass(frozen=True)
class Facts:
    """What the checklist needs to know of a person's file."""

    status: str
    gender: str
    juvenile: bool
    announcements: frozenset[str] = frozenset()
    members: tuple[Member, ...] = ()
    plan: PlanFacts | None = None
    assessment: AssessmentFacts | None = None
    exit_ban: ExitBanFacts | None = None


@dataclass(frozen=True)
class Step:
    id: str
    state: str
    reasons: tuple[str, ...] = ()


def _intake_step(step: str, done: bool, status: str, reasons: tuple[str, ...] = ()) -> Step:
    # Before intake reporting a step is still to be done; afterwards it is a gap in the file.
    if done:
        return Step(step, "done")
    return Step(step, "due" if status == PENDING_INTAKE else "missing", reasons)


def checklist(rules: ProcedureRules, facts: Facts) -> tuple[Step, ...]:
    """The state of every procedure step of a person, in the order of ``rules.steps``."""
    ended = facts.status in ENDED_STATUSES
    steps: dict[str, Step] = {}

    if facts.assessment is None:  # the decision organ asked for none (社区矫正法 18: 可以)
        steps["investigation_assessment"] = Step("investigation_assessment", "not_applicable")
    elif facts.assessment.finished:
        steps["investigation_assessment"] = Step("investigation_assessment", "done")
    else:
        steps["investigation_assessment"] = Step(
            "investigation_assessment", "missing", ("assessment_unfinished",)
        )

    steps["intake_announcement"] = _intake_step(
        "intake_announcement", "intake" in facts.announcements, facts.status
    )

    unmet = tuple(
        r.requirement.id
        for r in team_requirements(
            rules, gender=facts.gender, juvenile=facts.juvenile, members=facts.members
        )
        if not r.met
    )
    reasons = (() if facts.members else ("no_team_members",)) + unmet
    steps["correction_team"] = _intake_step("correction_team", not reasons, facts.status, reasons)

    plan = facts.plan
    if plan is None:
        steps["correction_plan"] = _intake_step("correction_plan", False, facts.status)
    elif plan.review.due and not ended:
        steps["correction_plan"] = Step("correction_plan", "due", (plan.review.kind,))
    else:
        steps["correction_plan"] = Step("correction_plan", "done")

    ban = facts.exit_ban
    steps["exit_ban_filing"] = _intake_step("exit_ban_filing", ban is not None, facts.status)
    if ban is None:
        steps["exit_ban_lifting"] = Step("exit_ban_lifting", "not_applicable", ("no_filing",))
    elif ban.lifted:
        steps["exit_ban_lifting"] = Step("exit_ban_lifting", "done")
    elif ban.lift_due or ended:
        steps["exit_ban_lifting"] = Step("exit_ban_lifting", "due")
    else:
        steps["exit_ban_lifting"] = Step("exit_ban_lifting", "not_applicable", ("term_not_ended",))

    if facts.status != "discharged":
        steps["discharge_announcement"] = Step(
            "discharge_announcement", "not_applicable", ("not_discharged",)
        )
    elif "discharge" in facts.announcements:
        steps["discharge_announcement"] = Step("discharge_announcement", "done")
    else:
        steps["discharge_announcement"] = Step("discharge_announcement", "due")

    return tuple(steps[s] for s in rules.steps)


def complete(steps: tuple[Step, ...]) -> bool:
    """Nothing is missing or due."""
    return all(s.state in ("done", "not_applicable") for s in steps)
