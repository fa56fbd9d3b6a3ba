"""Request and response schemas of the intake and discharge procedures."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from corrections.core.i18n import _
from corrections.core.schemas import Date, DateTime, Identifier, TrimmedString
from corrections.persons.schemas import sealed_marker
from corrections.procedures.rules import ANNOUNCEMENT_KINDS, CONCLUSIONS, GENDERS, TEAM_ROLES

_NOTE = TrimmedString(validate=ma.validate.Length(min=1, max=4000), load_default=None)
_DOCUMENT = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=64))
_PHONE = ma.validate.Regexp(r"^\+?[0-9][0-9 -]{4,19}$", error=_("must be a phone number"))


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# --- announcements -------------------------------------------------------------------------


class AttendeeSchema(_Strict):
    name = TrimmedString(required=True, validate=ma.validate.Length(min=1, max=50))
    capacity = TrimmedString(
        validate=ma.validate.Length(min=1, max=100),
        load_default=None,
        metadata={"description": "In what capacity, e.g. 矫正小组成员, 家属, 检察官"},
    )


class AnnouncementPatchSchema(_Strict):
    held_at = DateTime(
        required=True,
        # Far-off years cannot be moved between time zones (Python's datetime overflows).
        validate=ma.validate.Range(
            min=datetime(2000, 1, 1, tzinfo=UTC),
            max=datetime(2200, 1, 1, tzinfo=UTC),
            error=_("must be a time between 2000 and 2200"),
        ),
    )
    place = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=200))
    presided_by = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=100),
        metadata={"description": "Who presided (the office's or the agency's staff)"},
    )
    attendees = ma.fields.List(
        ma.fields.Nested(AttendeeSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "Who attended besides the person (team members, family ...)"},
    )
    notes = _NOTE


class AnnouncementInSchema(AnnouncementPatchSchema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ANNOUNCEMENT_KINDS))


class AttendeeOutSchema(ma.Schema):
    name = ma.fields.String(allow_none=True)
    capacity = ma.fields.String(allow_none=True)


class AnnouncementSchema(ma.Schema):
    sealed = sealed_marker()
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    article = ma.fields.String()
    held_at = ma.fields.DateTime()
    place = ma.fields.String(allow_none=True)
    presided_by = ma.fields.String(allow_none=True)
    attendees = ma.fields.List(ma.fields.Nested(AttendeeOutSchema))
    notes = ma.fields.String(allow_none=True)
    recorded_by = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    version = ma.fields.Integer()


# --- the correction team -------------------------------------------------------------------


class TeamMemberInSchema(_Strict):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(TEAM_ROLES))
    name = TrimmedString(required=True, validate=ma.validate.Length(min=1, max=50))
    phone = Identifier(validate=_PHONE, load_default=None)
    gender = ma.fields.String(required=True, validate=ma.validate.OneOf(GENDERS))
    organisation = TrimmedString(
        validate=ma.validate.Length(min=1, max=200),
        load_default=None,
        metadata={"description": "e.g. the residents committee, the school, the employer"},
    )


class TeamMemberPatchSchema(TeamMemberInSchema):
    """Used partially: the fields to change."""


class TeamMemberSchema(ma.Schema):
    sealed = sealed_marker()
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    role = ma.fields.String()
    role_label_zh = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    gender = ma.fields.String()
    gender_label_zh = ma.fields.String()
    organisation = ma.fields.String(allow_none=True)
    added_by = ma.fields.String()
    added_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    version = ma.fields.Integer()


class TeamRequirementSchema(ma.Schema):
    rule_id = ma.fields.String()
    rule_label_zh = ma.fields.String()
    article = ma.fields.String()
    basis = ma.fields.String()
    met = ma.fields.Boolean()


class CorrectionTeamSchema(ma.Schema):
    sealed = sealed_marker()
    person_id = ma.fields.Integer()
    members = ma.fields.List(ma.fields.Nested(TeamMemberSchema))
    requirements = ma.fields.List(
        ma.fields.Nested(TeamRequirementSchema),
        metadata={"description": "The rules that apply to this person's team, each met or not"},
    )
    complete = ma.fields.Boolean(
        metadata={"description": "At least one member, and every requirement met"}
    )


# --- the correction plan -------------------------------------------------------------------


class CorrectionPlanInSchema(_Strict):
    needs = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=8000),
        metadata={"description": "The person's needs and risks the plan answers (矫正需求)"},
    )
    measures = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=8000),
        metadata={"description": "The measures (矫正措施)"},
    )
    next_review_on = Date(
        load_default=None,
        metadata={"description": "Default and latest: rules/procedures.yaml plan.review_within"},
    )
    change_note = TrimmedString(
        validate=ma.validate.Length(min=1, max=2000),
        load_default=None,
        metadata={"description": "Why this version (what the review found)"},
    )


class PlanReviewSchema(ma.Schema):
    due = ma.fields.Boolean()
    kind = ma.fields.String(allow_none=True)
    kind_label_zh = ma.fields.String(allow_none=True)
    article = ma.fields.String(allow_none=True)
    since = ma.fields.DateTime(allow_none=True)
    due_on = ma.fields.Date()
    inputs = ma.fields.Dict(allow_none=True)


class CorrectionPlanSchema(ma.Schema):
    sealed = sealed_marker()
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    number = ma.fields.Integer()
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    needs = ma.fields.String(allow_none=True)
    measures = ma.fields.String(allow_none=True)
    change_note = ma.fields.String(allow_none=True)
    next_review_on = ma.fields.Date()
    review = ma.fields.Nested(
        PlanReviewSchema,
        metadata={
            "description": "Plan review due (矫正方案调整): on next_review_on or at once "
            "when the grade changes"
        },
    )
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    superseded_at = ma.fields.DateTime(allow_none=True)
    superseded_by_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()


# --- the investigation assessment ----------------------------------------------------------


class InvestigationAssessmentInSchema(_Strict):
    requested_by = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=200),
        metadata={"description": "The decision organ that asked for it (e.g. the court)"},
    )
    requesting_document = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=64),
        metadata={"description": "The letter of entrustment (调查评估委托函) number"},
    )
    requested_on = Date(load_default=None)
    conclusion = ma.fields.String(load_default=None, validate=ma.validate.OneOf(CONCLUSIONS))
    finished_on = Date(load_default=None)
    submitted_to = TrimmedString(load_default=None, validate=ma.validate.Length(min=2, max=200))
    note = _NOTE


class InvestigationAssessmentPatchSchema(InvestigationAssessmentInSchema):
    """Used partially: the fields to change."""


class InvestigationAssessmentSchema(ma.Schema):
    sealed = sealed_marker()
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    state = ma.fields.String()
    state_label_zh = ma.fields.String()
    requested_by = ma.fields.String(allow_none=True)
    requesting_document = ma.fields.String(allow_none=True)
    requested_on = ma.fields.Date(allow_none=True)
    conclusion = ma.fields.String(allow_none=True)
    conclusion_label_zh = ma.fields.String(allow_none=True)
    finished_on = ma.fields.Date(allow_none=True)
    submitted_to = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    recorded_by = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    version = ma.fields.Integer()


# --- the exit ban --------------------------------------------------------------------------


class ExitBanInSchema(_Strict):
    filed_on = Date(required=True)
    filed_with = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=200),
        metadata={"description": "The public-security exit-entry office (出入境管理部门)"},
    )
    document_number = _DOCUMENT
    note = _NOTE


class ExitBanLiftSchema(_Strict):
    lifted_on = Date(required=True)
    document_number = _DOCUMENT


class ExitBanLiftingSchema(ma.Schema):
    kind = ma.fields.String(allow_none=True)
    kind_label_zh = ma.fields.String(allow_none=True)
    due_since = ma.fields.DateTime(allow_none=True)
    lifted_on = ma.fields.Date(allow_none=True)
    document_number = ma.fields.String(allow_none=True)
    lifted_by = ma.fields.String(allow_none=True)


class ExitBanSchema(ma.Schema):
    sealed = sealed_marker()
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    state = ma.fields.String()
    state_label_zh = ma.fields.String()
    article = ma.fields.String()
    filed_on = ma.fields.Date()
    filed_with = ma.fields.String(allow_none=True)
    document_number = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    filed_by = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    lifting = ma.fields.Nested(ExitBanLiftingSchema)
    updated_at = ma.fields.DateTime()
    version = ma.fields.Integer()


# --- the checklist -------------------------------------------------------------------------


class ChecklistReasonSchema(ma.Schema):
    rule_id = ma.fields.String()
    rule_label_zh = ma.fields.String()


class ChecklistStepSchema(ma.Schema):
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    state = ma.fields.String()
    state_label_zh = ma.fields.String()
    article = ma.fields.String()
    basis = ma.fields.String()
    reasons = ma.fields.List(ma.fields.Nested(ChecklistReasonSchema))


class ProceduresChecklistSchema(ma.Schema):
    sealed = sealed_marker()
    person_id = ma.fields.Integer()
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    complete = ma.fields.Boolean(metadata={"description": "No step missing or due"})
    rules_version = ma.fields.String()
    steps = ma.fields.List(ma.fields.Nested(ChecklistStepSchema))
