from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import month_field


class PublicQuerySchema(ma.Schema):
    month = month_field(
        metadata={"description": "One month (YYYY-MM); default: the newest months"},
    )


class DisclosureSchema(ma.Schema):
    threshold = ma.fields.Integer(required=True)
    small_text = ma.fields.String(required=True)
    withheld_text = ma.fields.String(required=True)
    not_applicable_text = ma.fields.String(required=True)
    note_zh = ma.fields.String(required=True)


class MetricSchema(ma.Schema):
    code = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "count | rate"})
    unit = ma.fields.String(required=True, metadata={"description": "count | percent"})
    label_zh = ma.fields.String(required=True)
    definition_zh = ma.fields.String(required=True)


class DistrictSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name_zh = ma.fields.String(required=True)


class FigureSchema(ma.Schema):
    metric = ma.fields.String(required=True)
    district_code = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "null: the whole city"}
    )
    district_name_zh = ma.fields.String(required=True)
    value = ma.fields.Raw(
        allow_none=True,
        required=True,
        metadata={
            "type": "number",
            "description": "A count, or a rate in per cent (one decimal); null when withheld",
        },
    )
    display = ma.fields.String(required=True, metadata={"example": "<10"})
    withheld = ma.fields.Boolean(required=True)


class MonthSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={"example": "2026-10"})
    figures = ma.fields.List(ma.fields.Nested(FigureSchema), required=True)


class PublicStatisticsSchema(ma.Schema):
    computed_at = ma.fields.DateTime(allow_none=True, required=True)
    rules_version = ma.fields.String(required=True)
    disclosure = ma.fields.Nested(DisclosureSchema, required=True)
    metrics = ma.fields.List(ma.fields.Nested(MetricSchema), required=True)
    districts = ma.fields.List(ma.fields.Nested(DistrictSchema), required=True)
    months = ma.fields.List(ma.fields.Nested(MonthSchema), required=True)
