"""Schema and accessor of ``rules/risk.yaml``: the risk bands' labels (the thresholds are each
model's, in its card) and the thresholds of the monthly model check (risk/monitoring.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry

BANDS = ("low", "medium", "high")


class BandSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))


class SlopeRangeSchema(ma.Schema):
    low = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, max=1))
    high = ma.fields.Float(required=True, validate=ma.validate.Range(min=1, max=5))


class MonitoringSchema(ma.Schema):
    min_positives = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    auc_drop = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, max=0.5))
    brier_rise = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, max=1))
    calibration_slope = ma.fields.Nested(SlopeRangeSchema, required=True)
    psi = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, max=10))


@registry.register("risk.yaml")
class RiskRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    basis = ma.fields.String(required=True, validate=ma.validate.OneOf(["statute", "local"]))
    bands = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(BandSchema),
        required=True,
        validate=registry.exact_keys(BANDS),
    )
    monitoring = ma.fields.Nested(MonitoringSchema, required=True)


def band_labels() -> Mapping[str, str]:
    """Each band's Chinese label, in order from low to high."""
    bands = registry.get("risk")["bands"]
    return {band: bands[band]["label_zh"] for band in BANDS}


def monitoring() -> Mapping[str, Any]:
    """The thresholds of the monthly model check (``monitoring`` in rules/risk.yaml), with
    the file's version."""
    data = registry.get("risk")
    return {**data["monitoring"], "version": data["version"]}
