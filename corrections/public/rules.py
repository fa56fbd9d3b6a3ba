"""Schema of ``rules/public_statistics.yaml``: the published metrics with their Chinese labels
and definitions, and the disclosure rule (threshold and texts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import current_app

from corrections.core import rules as registry

# The counts the job knows how to compute (corrections/public/service.py): a count metric is
# one of them, a rate is one of them over another. ``absconded`` is only ever a numerator.
COUNTS = (
    "under_correction",
    "intakes",
    "discharges",
    "revocations",
    "absconded",
    "complaints_received",
    "complaints_answered",
)
KINDS = ("count", "rate")
_text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=400))


class DisclosureSchema(ma.Schema):
    threshold = ma.fields.Integer(required=True, validate=ma.validate.Range(min=2, max=100))
    small_text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=8))
    withheld_text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=8))
    not_applicable_text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=8))
    note_zh = _text
    # Stocks published rounded to a multiple of this (1: exact): with the month's flows
    # published beside them, an exact stock at both ends of a month would give a withheld flow
    # back (intakes = change in stock + discharges + revocations).
    stock_rounding = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(COUNTS)),
        values=ma.fields.Integer(validate=ma.validate.Range(min=1, max=100)),
        load_default=dict,
    )


class MetricSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    definition_zh = _text
    numerator = ma.fields.String(validate=ma.validate.OneOf(COUNTS))
    denominator = ma.fields.String(validate=ma.validate.OneOf(COUNTS))

    @ma.validates_schema
    def _parts(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("kind") == "rate":
            for part in ("numerator", "denominator"):
                if part not in data:
                    raise ma.ValidationError("a rate needs its numerator and denominator", part)
        else:
            for part in ("numerator", "denominator"):
                if part in data:
                    raise ma.ValidationError("only a rate has one", part)


@registry.register("public_statistics.yaml")
class PublicStatisticsRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    months_computed = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=120))
    months_shown = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=120))
    disclosure = ma.fields.Nested(DisclosureSchema, required=True)
    metrics = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$")),
        values=ma.fields.Nested(MetricSchema),
        required=True,
        validate=ma.validate.Length(min=1),
    )

    @ma.validates_schema
    def _count_metrics_are_known(self, data: dict[str, Any], **_kwargs: Any) -> None:
        for code, metric in data.get("metrics", {}).items():
            if metric["kind"] == "count" and code not in COUNTS:
                raise ma.ValidationError(
                    f"a count must be one the job computes ({', '.join(COUNTS)})",
                    f"metrics.{code}",
                )


@dataclass(frozen=True)
class Metric:
    code: str
    kind: str
    label_zh: str
    definition_zh: str
    numerator: str | None = None
    denominator: str | None = None


@dataclass(frozen=True)
class PublicRules:
    version: str
    months_computed: int
    months_shown: int
    threshold: int
    small_text: str
    withheld_text: str
    not_applicable_text: str
    note_zh: str
    metrics: tuple[Metric, ...]
    stock_rounding: Mapping[str, int]

    def metric(self, code: str) -> Metric:
        return next(m for m in self.metrics if m.code == code)


def build(data: Mapping[str, Any]) -> PublicRules:
    d = data["disclosure"]
    return PublicRules(
        version=data["version"],
        months_computed=data["months_computed"],
        months_shown=data["months_shown"],
        threshold=d["threshold"],
        small_text=d["small_text"],
        withheld_text=d["withheld_text"],
        not_applicable_text=d["not_applicable_text"],
        note_zh=d["note_zh"],
        metrics=tuple(Metric(code=k, **v) for k, v in data["metrics"].items()),
        stock_rounding=dict(d.get("stock_rounding") or {}),
    )


def current() -> PublicRules:
    """The running app's public-statistics rules (built once per loaded file)."""
    data = registry.get("public_statistics")
    cache = current_app.extensions.setdefault("corrections.public_rules", {})
    if cache.get("data") is not data:
        cache["data"], cache["rules"] = data, build(data)
    return cache["rules"]
