"""Schema and accessor of ``rules/risk.yaml``: the risk bands' labels (the thresholds are each
model's, in its card)."""

from __future__ import annotations

from collections.abc import Mapping

import marshmallow as ma

from corrections.core import rules as registry

BANDS = ("low", "medium", "high")


class BandSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))


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


def band_labels() -> Mapping[str, str]:
    """Each band's Chinese label, in order from low to high."""
    bands = registry.get("risk")["bands"]
    return {band: bands[band]["label_zh"] for band in BANDS}
