"""Schemas of the command centre's statistics and of the scheduler's view."""

from __future__ import annotations

import marshmallow as ma


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
    errors = ma.fields.Dict()
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
