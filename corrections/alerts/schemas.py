from __future__ import annotations

import marshmallow as ma

from corrections.alerts.rules import ALERT_KINDS, SEVERITIES
from corrections.core.schemas import DateTime, Id, Integer, PageQuerySchema, TrimmedString, page_of
from corrections.persons.schemas import sealed_marker

STATUSES = ("open", "acknowledged", "resolved", "dismissed")


class AlertQuerySchema(PageQuerySchema):
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STATUSES)),
        load_default=None,
        metadata={"description": "Repeat for several; default: all"},
    )
    kind = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(ALERT_KINDS)), load_default=None
    )
    severity = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SEVERITIES)), load_default=None
    )
    district_id = Id(load_default=None, validate=ma.validate.Range(min=1, max=2**62))
    office_id = Id(load_default=None, validate=ma.validate.Range(min=1, max=2**62))
    person_id = Id(load_default=None, validate=ma.validate.Range(min=1, max=2**62))
    since = DateTime(load_default=None)
    order = ma.fields.String(
        load_default="waiting",
        validate=ma.validate.OneOf(["waiting", "newest"]),
        metadata={"description": "Within a severity: longest waiting first, or newest first"},
    )


class AlertSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "null: the system's own alert (a backup or its drill failed)"},
    )
    office_id = ma.fields.Integer(allow_none=True)
    district_id = ma.fields.Integer(allow_none=True)
    person_name = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "姓名 as your role may see it (a juvenile's masked outside their own "
            "office and district); absent on a system alert"
        },
    )
    office_code = ma.fields.String(allow_none=True)
    office_name_zh = ma.fields.String(allow_none=True)
    district_name_zh = ma.fields.String(allow_none=True)
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    summary_zh = ma.fields.String(
        metadata={"description": "What happened, in Chinese (2026-11-20 报到未按期履行)"}
    )
    subject_type = ma.fields.String()
    subject_id = ma.fields.Integer()
    severity = ma.fields.String()
    severity_label_zh = ma.fields.String()
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    detail = ma.fields.Dict()
    raised_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    acknowledged_by = ma.fields.String(allow_none=True)
    ack_note = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    closed_by = ma.fields.String(allow_none=True)
    close_note = ma.fields.String(allow_none=True)
    auto_resolved = ma.fields.Boolean()
    escalation_level = ma.fields.Integer()
    escalated_at = ma.fields.DateTime(allow_none=True)
    version = ma.fields.Integer()
    sealed = sealed_marker()


AlertPageSchema = page_of(AlertSchema, "AlertPageSchema")


class AckSchema(ma.Schema):
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class CloseSchema(ma.Schema):
    note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))


class StreamQuerySchema(ma.Schema):
    last_event_id = Integer(
        load_default=None,
        validate=ma.validate.Range(min=0, max=2**62),
        metadata={"description": "Resume after this change (the Last-Event-ID header wins)"},
    )
    timeout = Integer(
        load_default=300,
        validate=ma.validate.Range(min=1, max=3600),
        metadata={"description": "Seconds before the server ends the stream (clients reconnect)"},
    )
