from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import Date, Identifier, PageQuerySchema, TrimmedString, page_of

SUMMARY_MAX = 2000


class ComplaintCreateSchema(ma.Schema):
    district_code = Identifier(
        max_length=32,
        metadata={
            "description": "The district that received it: city staff must name it; officers "
            "and commanders register for their own district (omit it)"
        },
    )
    received_on = Date(required=True, metadata={"description": "Day received (Asia/Shanghai)"})
    channel = Identifier(
        required=True,
        max_length=32,
        metadata={"description": "How it arrived (rules/complaints.yaml channels: letter …)"},
    )
    summary = TrimmedString(
        required=True,
        max_length=SUMMARY_MAX,
        metadata={"description": "What it is about; staff-only, never published"},
    )


class ComplaintAnswerSchema(ma.Schema):
    answered_on = Date(metadata={"description": "Day answered (Asia/Shanghai); default today"})
    answer_note = TrimmedString(required=True, max_length=SUMMARY_MAX)


class ComplaintQuerySchema(PageQuerySchema):
    district_code = Identifier(max_length=32)
    answered = ma.fields.Boolean(metadata={"description": "true: answered only; false: open"})


class ComplaintSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    district_code = ma.fields.String(required=True)
    district_name_zh = ma.fields.String(required=True)
    received_on = ma.fields.Date(required=True)
    channel = ma.fields.String(required=True)
    channel_label_zh = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "open | answered"})
    answered_on = ma.fields.Date(allow_none=True)
    answer_note = ma.fields.String(allow_none=True)
    answered_by = ma.fields.String(allow_none=True)
    created_by = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)


ComplaintPageSchema = page_of(ComplaintSchema, "ComplaintPage")
