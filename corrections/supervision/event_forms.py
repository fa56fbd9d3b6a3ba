"""The event types as a form shows them (``GET /api/v1/event-types``): each type's fields
generated from the very schemas ``POST /persons/{id}/events`` validates with (schemas.py
``EventInSchema`` and ``PAYLOADS``), labelled from rules/supervision.yaml (``event_types`` and
``event_fields``). No type is described twice: a field added to a payload appears here, and
a field without a label fails the test that checks the file is complete."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from corrections.core.schemas import Date, DateTime
from corrections.supervision.common import current_rules
from corrections.supervision.decisions import decision_rule
from corrections.supervision.rules import DECISION_EVENTS
from corrections.supervision.schemas import PAYLOADS, PERMIT_EVENTS, EventInSchema

# The event's own fields (beside its payload) a form asks for.
ENVELOPE = ("occurred_at", "channel", "note")


def _kind(field: ma.fields.Field) -> str:
    if isinstance(field, DateTime | ma.fields.DateTime) and not isinstance(field, Date):
        return "datetime"
    if isinstance(field, Date | ma.fields.Date):
        return "date"
    if isinstance(field, ma.fields.Boolean):
        return "boolean"
    if isinstance(field, ma.fields.Float | ma.fields.Decimal):
        return "number"
    if isinstance(field, ma.fields.List):
        return "event_ids"
    if isinstance(field, ma.fields.Integer):
        return "event_id"
    return "string"


def _bounds(field: ma.fields.Field) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in field.validators:
        if isinstance(v, ma.validate.Length):
            if v.min is not None:
                out["min_length"] = v.min
            if v.max is not None:
                out["max_length"] = v.max
        elif isinstance(v, ma.validate.Range):
            if v.min is not None:
                out["minimum"] = v.min
                out["minimum_inclusive"] = v.min_inclusive
            if v.max is not None:
                out["maximum"] = v.max
                out["maximum_inclusive"] = v.max_inclusive
        elif isinstance(v, ma.validate.OneOf):
            out["enum"] = list(v.choices)
    return out


def _field(name: str, field: ma.fields.Field, labels: dict, *, payload: bool) -> dict[str, Any]:
    label = labels.get(name) or {}
    bounds = _bounds(field)
    enum = bounds.pop("enum", None)
    out: dict[str, Any] = {
        "name": name,
        # Where the API names it in a problem's errors (the payload's inside ``payload``).
        "path": f"payload.{name}" if payload else name,
        "type": "enum" if enum is not None else _kind(field),
        "required": bool(field.required),
        "label_zh": label.get("label_zh", name),
        **bounds,
    }
    default = field.load_default
    if default is not ma.missing and not callable(default) and default is not None:
        out["default"] = default
    if enum is not None:
        choices = label.get("choices") or {}
        out["choices"] = [{"value": c, "label_zh": choices.get(c, c)} for c in enum]
    return out


def event_types() -> list[dict[str, Any]]:
    """Every event type ``POST /persons/{id}/events`` takes, with its form's fields."""
    rules = current_rules()
    labels = rules.raw.get("event_fields") or {}
    envelope = EventInSchema._declared_fields
    out = []
    for code, rule in rules.event_types.items():
        if code in PERMIT_EVENTS:
            continue  # recorded through the travel-permit endpoints
        fields = [_field(n, envelope[n], labels, payload=False) for n in ENVELOPE]
        channel = fields[1]
        channel["choices"] = [{"value": c, "label_zh": rules.channels[c]} for c in rules.channels]
        if rule.default_channel:
            channel["default"] = rule.default_channel
        payload = PAYLOADS[code]._declared_fields
        fields += [_field(n, f, labels, payload=True) for n, f in payload.items()]
        # A decision recorded as an event (a sanction, a commendation ...): who decides it.
        decision = decision_rule(code) if code in DECISION_EVENTS else None
        out.append(
            {
                "code": code,
                "label_zh": rule.label_zh,
                "only_for": sorted(rule.only_for) if rule.only_for is not None else None,
                "article": rule.article or (decision.article if decision else None),
                "decided_at_level": decision.level if decision else None,
                "fulfils": rules.obligation_kind_of(code),
                "fields": fields,
            }
        )
    return out


def unlabelled() -> set[str]:
    """The field names of the event forms rules/supervision.yaml gives no label (should be
    none)."""
    labels = current_rules().raw.get("event_fields") or {}
    names = set(ENVELOPE) | {n for schema in PAYLOADS.values() for n in schema._declared_fields}
    return {n for n in names if n not in labels}
