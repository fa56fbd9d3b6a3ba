from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import PageQuerySchema, TrimmedString, page_of
from corrections.grading.models import DECISION_KINDS, DECISION_STATUSES
from corrections.grading.rules import current
from corrections.persons.schemas import QueueItemSchema, sealed_marker


class RequirementsSchema(ma.Schema):
    report_interval_days = ma.fields.Integer(metadata={"description": "在矫报到间隔（天）"})
    check_interval_days = ma.fields.Integer(metadata={"description": "信息化核查间隔（天）"})
    visit_interval_days = ma.fields.Integer(metadata={"description": "实地查访间隔（天）"})
    education_hours_per_month = ma.fields.Integer(metadata={"description": "教育学习（小时/月）"})
    service_hours_per_month = ma.fields.Integer(metadata={"description": "社区服务（小时/月）"})
    travel_approver = ma.fields.String()
    travel_max_days = ma.fields.Integer(allow_none=True)
    travel_conditions = ma.fields.List(ma.fields.String())


class GradeSchema(ma.Schema):
    person_id = ma.fields.Integer()
    grade = ma.fields.String()
    grade_label_zh = ma.fields.String()
    level = ma.fields.String()
    level_label_zh = ma.fields.String()
    since = ma.fields.DateTime()
    next_review_date = ma.fields.Date()
    review_overdue = ma.fields.Boolean(metadata={"description": "The review date has passed"})
    rules_version = ma.fields.String()
    requirements = ma.fields.Nested(RequirementsSchema)
    pending_proposal_id = ma.fields.Integer(allow_none=True)
    sealed = sealed_marker()


class ReasonSchema(ma.Schema):
    rule_id = ma.fields.String()
    text_zh = ma.fields.String()


class DecisionSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    office_code = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf(DECISION_KINDS))
    status = ma.fields.String(validate=ma.validate.OneOf(DECISION_STATUSES))
    from_grade = ma.fields.String(allow_none=True)
    from_grade_label_zh = ma.fields.String(allow_none=True)
    to_grade = ma.fields.String()
    to_grade_label_zh = ma.fields.String()
    rules_version = ma.fields.String()
    rule_ids = ma.fields.List(ma.fields.String())
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))
    inputs = ma.fields.Dict()
    note = ma.fields.String(allow_none=True)
    basis = ma.fields.String(allow_none=True)
    proposed_by = ma.fields.String()
    proposed_at = ma.fields.DateTime()
    decided_by = ma.fields.String(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    decision_note = ma.fields.String(allow_none=True)
    effective_at = ma.fields.DateTime(allow_none=True)
    sealed = sealed_marker()


class DecisionQueueItemSchema(DecisionSchema, QueueItemSchema):
    """A grade decision as ``GET /grade-decisions`` lists it: with its person and what
    decides it."""


DecisionPageSchema = page_of(DecisionQueueItemSchema, "DecisionPageSchema")


class DecisionInSchema(ma.Schema):
    to_grade = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))


class DecisionNoteSchema(ma.Schema):
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class RejectSchema(ma.Schema):
    note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))


class DecisionQuerySchema(PageQuerySchema):
    status = ma.fields.String(validate=ma.validate.OneOf(DECISION_STATUSES))
    kind = ma.fields.String(validate=ma.validate.OneOf(DECISION_KINDS))


class DeductionSchema(ma.Schema):
    rule_id = ma.fields.String()
    text_zh = ma.fields.String()
    count = ma.fields.Float()
    points = ma.fields.Integer()


def _of(name: str, compute):
    """A computed field of an assessment row, absent from a sealed record's stub (a dict that
    keeps the id and the dates only)."""

    def serialize(obj):
        value = ma.utils.get_value(obj, name)
        return ma.missing if value is ma.missing else compute(value)

    return serialize


class AssessmentSchema(ma.Schema):
    id = ma.fields.Integer()
    month = ma.fields.Function(_of("month", lambda month: month.strftime("%Y-%m")))
    grade = ma.fields.String(allow_none=True)
    score = ma.fields.Integer()
    rating = ma.fields.String()
    rating_label_zh = ma.fields.Function(_of("rating", lambda r: current().rating_label(r)))
    complete = ma.fields.Function(
        _of("evidence", lambda evidence: evidence > 0),
        metadata={
            "description": "False when nothing was on record for the month (no evidence either way)"
        },
    )
    deductions = ma.fields.List(ma.fields.Nested(DeductionSchema))
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))
    rules_version = ma.fields.String()
    computed_at = ma.fields.DateTime()
    sealed = sealed_marker()
