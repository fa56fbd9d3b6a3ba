"""Schema of ``rules/complaints.yaml``: the channels a complaint arrives by, with their labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry

CHANNEL_CODE = r"^[a-z][a-z0-9_]{0,31}$"


@registry.register("complaints.yaml")
class ComplaintRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    channels = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(CHANNEL_CODE)),
        values=ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        required=True,
        validate=ma.validate.Length(min=1),
    )


def current() -> Mapping[str, Any]:
    """The running app's ``rules/complaints.yaml``."""
    return registry.get("complaints")


def channels() -> Mapping[str, str]:
    """Channel code -> Chinese label."""
    return current()["channels"]
