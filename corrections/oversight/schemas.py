"""Request and response shapes of procuratorate oversight (检察监督)."""

from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import Date as DateField
from corrections.core.schemas import (
    DateTime,
    Id,
    Identifier,
    PageQuerySchema,
    TrimmedString,
    month_field,
    page_of,
)
from corrections.oversight.models import OPINION_STATUSES
from corrections.oversight.rules import KINDS
from corrections.persons.schemas import QueueItemSchema


class OpinionInSchema(ma.Schema):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(KINDS),
        metadata={"description": "correction_opinion (纠正意见) or suggestion (检察建议)"},
    )
    document_number = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=64),
        metadata={"description": "The procuratorate's document number, as written"},
    )
    issued_on = DateField(required=True)
    received_at = DateTime(
        load_default=None,
        metadata={"description": "When the bureau received it (default: now); the reply clock"},
    )
    district_code = Identifier(
        required=True,
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "The district it concerns (within your agency's scope)"},
    )
    office_code = Identifier(
        load_default=None,
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "A judicial office of the district it concerns"},
    )
    person_id = Id(load_default=None, metadata={"description": "A person it concerns"})
    content = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=8000))


class OpinionReplySchema(ma.Schema):
    reply = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=8000),
        metadata={"description": "The written reply (书面回复): what was corrected or done"},
    )


class OpinionQuerySchema(PageQuerySchema):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(OPINION_STATUSES))
    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(KINDS))


class OpinionUnitSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name_zh = ma.fields.String()


class OversightCodeNameSchema(ma.Schema):
    code = ma.fields.String()
    name_zh = ma.fields.String()


class OpinionSchema(QueueItemSchema):
    id = ma.fields.Integer(required=True)
    agency = ma.fields.Nested(OversightCodeNameSchema)
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    document_number = ma.fields.String()
    issued_on = ma.fields.Date()
    received_at = ma.fields.DateTime()
    district = ma.fields.Nested(OpinionUnitSchema)
    office = ma.fields.Nested(OpinionUnitSchema, allow_none=True)
    content = ma.fields.String()
    reply_due_on = ma.fields.Date()
    days_left = ma.fields.Integer(
        metadata={"description": "Days to the reply's last day (negative: overdue)"}
    )
    overdue = ma.fields.Boolean()
    article = ma.fields.String()
    article_verified = ma.fields.Boolean()
    rules_version = ma.fields.String()
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    reply = ma.fields.String(allow_none=True)
    replied_by = ma.fields.String(allow_none=True)
    replied_at = ma.fields.DateTime(allow_none=True)
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    sealed = ma.fields.Boolean()
    masked_fields = ma.fields.List(ma.fields.String())


OpinionPageSchema = page_of(OpinionSchema, "OpinionPageSchema")


class OfficesQuerySchema(ma.Schema):
    month = month_field(
        load_default=None,
        metadata={"description": "YYYY-MM (default: the current month)"},
    )


class OversightFigureDefinitionSchema(ma.Schema):
    key = ma.fields.String()
    label_zh = ma.fields.String()
    definition_zh = ma.fields.String()


class OversightClockSchema(ma.Schema):
    key = ma.fields.String()
    label_zh = ma.fields.String()
    days = ma.fields.Integer()
    article = ma.fields.String(allow_none=True)
    basis = ma.fields.String()
    verified = ma.fields.Boolean()


class OversightFiguresSchema(ma.Schema):
    persons = ma.fields.Integer()
    obligations_missed = ma.fields.Integer()
    intake_deadlines_missed = ma.fields.Integer()
    grade_decisions_overdue = ma.fields.Integer()
    travel_permits_overdue = ma.fields.Integer()
    sanction_proposals_overdue = ma.fields.Integer()
    sanctions = ma.fields.Integer()
    sanctions_per_100 = ma.fields.Float(allow_none=True)


class OversightOfficeSchema(ma.Schema):
    office = ma.fields.Nested(OpinionUnitSchema)
    district = ma.fields.Nested(OversightCodeNameSchema)
    figures = ma.fields.Nested(OversightFiguresSchema)


class OfficesSchema(ma.Schema):
    month = ma.fields.String()
    as_of = ma.fields.DateTime()
    rules_version = ma.fields.String()
    definitions = ma.fields.List(ma.fields.Nested(OversightFigureDefinitionSchema))
    clocks = ma.fields.List(ma.fields.Nested(OversightClockSchema))
    items = ma.fields.List(ma.fields.Nested(OversightOfficeSchema))
