"""Schema and typed view of ``rules/oversight.yaml``: the kinds of procuratorial document, the
written reply each asks for and its clock, and how long a decision may wait before the
per-office enforcement-supervision view counts it as overdue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import marshmallow as ma

from corrections.core import clocks
from corrections.core import rules as registry

# The kinds of document a procuratorate files (OversightOpinion.kind).
KINDS = ("correction_opinion", "suggestion")
# The decisions the per-office view times against a clock of ``waiting``.
WAITING = ("travel_permit", "sanction_proposal")
# An opinion's statuses (models.OPINION_STATUSES).
STATUSES = ("open", "replied")
# The figures of the per-office view, in the order it shows them.
FIGURES = (
    "persons",
    "obligations_missed",
    "intake_deadlines_missed",
    "grade_decisions_overdue",
    "travel_permits_overdue",
    "sanction_proposals_overdue",
    "sanctions",
    "sanctions_per_100",
)


class KindSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    reply = ma.fields.Nested(clocks.ClockSchema, required=True)


class _WaitingClockSchema(clocks.ClockSchema):
    @ma.validates_schema
    def _days(self, data, **_kw) -> None:
        # The view compares instants with one bound per month: whole days only.
        if data.get("unit") != "days":
            raise ma.ValidationError("a waiting clock counts days", "unit")


class StatusSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))


class FigureSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    definition_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


@registry.register("oversight.yaml")
class OversightRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    kinds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(KindSchema),
        required=True,
        validate=registry.exact_keys(KINDS),
    )
    statuses = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(StatusSchema),
        required=True,
        validate=registry.exact_keys(STATUSES),
    )
    waiting = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(_WaitingClockSchema),
        required=True,
        validate=registry.exact_keys(WAITING),
    )
    figures = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(FigureSchema),
        required=True,
        validate=registry.exact_keys(FIGURES),
    )


@dataclass(frozen=True)
class OversightRules:
    version: str
    labels: Mapping[str, str]
    status_labels: Mapping[str, str]
    # The reply clock of each kind, as rules/clocks.yaml spells a clock (one engine computes
    # every legal deadline: corrections/core/clocks.py).
    replies: clocks.Clocks
    waiting: clocks.Clocks
    # Each figure's label_zh and definition_zh.
    figures: Mapping[str, Mapping[str, str]]

    def reply_due(self, kind: str, received_on: date) -> date:
        """The last day a reply to a document of ``kind`` received on ``received_on`` is on
        time."""
        return clocks.due(kind, received_on, self.replies, clocks.calendar())

    def waiting_limit(self, name: str) -> timedelta:
        return timedelta(days=self.waiting[name].amount)


def build(data: Mapping) -> OversightRules:
    version = data["version"]
    return OversightRules(
        version=version,
        labels={kind: spec["label_zh"] for kind, spec in data["kinds"].items()},
        status_labels={k: v["label_zh"] for k, v in data["statuses"].items()},
        replies=clocks.Clocks(
            version,
            {k: clocks.Clock(id=k, **spec["reply"]) for k, spec in data["kinds"].items()},
        ),
        waiting=clocks.Clocks(
            version, {k: clocks.Clock(id=k, **spec) for k, spec in data["waiting"].items()}
        ),
        figures={name: dict(data["figures"][name]) for name in FIGURES},
    )


def current() -> OversightRules:
    """The oversight rules of the running app (built once per app)."""
    from flask import current_app

    cache = current_app.extensions.setdefault("corrections.oversight_rules", {})
    if "rules" not in cache:
        cache["rules"] = build(registry.get("oversight"))
    return cache["rules"]
