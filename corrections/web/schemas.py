"""Schemas of the command centre's statistics and of the scheduler's view."""

from __future__ import annotations

import marshmallow as ma

from corrections.alerts.schemas import AlertSchema
from corrections.core.schemas import MAX_PAGE_SIZE, Integer, PageQuerySchema
from corrections.web import reasons


class CountSchema(ma.Schema):
    key = ma.fields.String()
    label_zh = ma.fields.String(allow_none=True)
    count = ma.fields.Integer()


class DayCountSchema(ma.Schema):
    day = ma.fields.Date()
    count = ma.fields.Integer()


class OverviewSchema(ma.Schema):
    as_of = ma.fields.DateTime()
    active_persons = ma.fields.Integer()
    by_level = ma.fields.List(ma.fields.Nested(CountSchema))
    by_grade = ma.fields.List(ma.fields.Nested(CountSchema))
    by_category = ma.fields.List(ma.fields.Nested(CountSchema))
    by_office = ma.fields.List(ma.fields.Nested(CountSchema))
    open_alerts_by_kind = ma.fields.List(ma.fields.Nested(CountSchema))
    open_alerts_by_severity = ma.fields.List(ma.fields.Nested(CountSchema))
    lost_contact_now = ma.fields.Integer()
    absconded_now = ma.fields.Integer()
    in_open_incident = ma.fields.Integer()
    in_control_rate = ma.fields.Float(allow_none=True)
    obligations_missed_this_month = ma.fields.Integer()
    grade_decisions_awaiting_approval = ma.fields.Integer()
    alerts_per_day = ma.fields.List(ma.fields.Nested(DayCountSchema))
    risk_bands = ma.fields.List(ma.fields.Nested(CountSchema))


class JobRunSchema(ma.Schema):
    id = ma.fields.Integer()
    job = ma.fields.String()
    holder = ma.fields.String()
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String()
    counts = ma.fields.Dict()
    errors = ma.fields.Dict(metadata={"description": "The first 20 (errors_total: how many)"})
    errors_total = ma.fields.Integer(metadata={"description": "How many errors the run kept"})
    error = ma.fields.String(allow_none=True)


class JobSchema(ma.Schema):
    name = ma.fields.String()
    label_zh = ma.fields.String()
    trigger = ma.fields.String()
    next_run_at = ma.fields.DateTime(allow_none=True)
    last_run = ma.fields.Nested(JobRunSchema, allow_none=True)
    last_failure = ma.fields.Nested(JobRunSchema, allow_none=True)


class SchedulerSchema(ma.Schema):
    leader = ma.fields.String(allow_none=True)
    lease_expires_at = ma.fields.DateTime(allow_none=True)
    jobs = ma.fields.List(ma.fields.Nested(JobSchema))


# --- a wall display (web/display.py) -------------------------------------------------------


class DisplayEnrolSchema(ma.Schema):
    token = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "The display's secret (dsp_...), from its creation"},
    )


class DisplayMeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    role_label_zh = ma.fields.String(required=True)
    district_code = ma.fields.String(required=True)
    district_name_zh = ma.fields.String(required=True)


class DisplaySessionSchema(ma.Schema):
    enrolled = ma.fields.Boolean(required=True)
    display = ma.fields.Nested(DisplayMeSchema, allow_none=True)


class WallAlertSchema(AlertSchema):
    """An alert as a wall display shows it (persons/privacy.py ``wall``): no person id, no
    subject, no notes or who handled it; the name masked (张＊＊, a juvenile's ＊＊＊)."""

    class Meta:
        exclude = (
            "person_id",
            "subject_type",
            "subject_id",
            "acknowledged_by",
            "ack_note",
            "closed_by",
            "close_note",
            "auto_resolved",
        )


class WallAlertQuerySchema(PageQuerySchema):
    page_size = Integer(load_default=100, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE))


# --- the reasons decision forms offer (web/reasons.py) -------------------------------------


class ReasonChoiceQuerySchema(ma.Schema):
    kind = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(list(reasons.KINDS))),
        load_default=None,
        metadata={"description": "Repeat for several; default: every kind"},
    )


class ReasonChoiceSchema(ma.Schema):
    kind = ma.fields.String(required=True)
    code = ma.fields.String(
        required=True, metadata={"description": "What the API takes (ground, kind, to_grade ...)"}
    )
    label_zh = ma.fields.String(allow_none=True)
    article = ma.fields.String(allow_none=True, metadata={"description": "The article it rests on"})
    basis = ma.fields.String(
        allow_none=True, metadata={"description": "statute or local (the rules say which)"}
    )
    level = ma.fields.String(metadata={"description": "Who decides it: office, district, city"})
    level_label_zh = ma.fields.String()
    ground = ma.fields.String()
    category = ma.fields.String()
    category_label_zh = ma.fields.String()
    categories = ma.fields.List(
        ma.fields.String(), metadata={"description": "The categories it applies to (all without)"}
    )
    categories_label_zh = ma.fields.List(ma.fields.String())
    proposes = ma.fields.String(metadata={"description": "What it proposes (a sanction, a grade)"})
    proposes_label_zh = ma.fields.String()
    grade_level = ma.fields.String()
    grade_level_label_zh = ma.fields.String()
    number = ma.fields.Integer(metadata={"description": "Its item in the article (Art. 29)"})
