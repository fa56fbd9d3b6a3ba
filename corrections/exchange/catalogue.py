"""The message catalogue: each message type with its receivers, their articles and the JSON
Schema (draft 2020-12) of the data each receiver gets, generated from rules/exchange.yaml, so
the schema a partner validates against is the rule the outbox applies."""

from __future__ import annotations

from typing import Any

from corrections.exchange import rules as exchange_rules

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_JSON = {
    "string": {"type": ["string", "null"]},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "date": {"type": ["string", "null"], "format": "date"},
    "date-time": {"type": ["string", "null"], "format": "date-time"},
}


def _data_schema(fields: tuple[str, ...], rules: exchange_rules.ExchangeRules) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for path in fields:
        group, _sep, name = path.partition(".")
        spec = rules.fields[path]
        prop = {**_JSON[spec["type"]], "title": spec["label_zh"]}
        if spec["personal"]:
            prop["x-personal"] = True
        groups.setdefault(group, {})[name] = prop
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            group: {"type": "object", "additionalProperties": False, "properties": props}
            for group, props in groups.items()
        },
    }


def _inbound_schema(name: str, type_: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a document partners send in: the envelope we accept
    (inbound.EnvelopeSchema) with its data converted from the very marshmallow schema that
    checks it (exchange/inbound.py), so the published schema cannot drift from the check."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    from corrections.exchange.inbound import DATA_SCHEMAS

    plugin = MarshmallowPlugin(schema_name_resolver=lambda _schema: None)  # nested: inline
    APISpec("corrections exchange", "1", "3.1.0", plugins=[plugin])
    data = plugin.converter.schema2jsonschema(DATA_SCHEMAS[name]())
    return {
        "$schema": DRAFT,
        "$id": f"/api/v1/exchange/schemas/{name}",
        "title": spec["label_zh"],
        "x-direction": "inbound",
        "x-senders": list(spec["senders"]),
        "type": "object",
        "required": ["specversion", "id", "source", "type", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._:-]{1,100}$",
                "description": "Your message id: a replay of it changes nothing",
            },
            "source": {"type": "string", "minLength": 1, "maxLength": 200},
            "type": {"const": type_},
            "time": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }


def schema(name: str) -> dict[str, Any] | None:
    """The JSON Schema of message type ``name``: the CloudEvents envelope with, per receiver
    kind, its data (``oneOf`` over the receivers; a juvenile's is a subset of each); for a
    document partners send in, the envelope and data we accept."""
    rules = exchange_rules.current()
    message = rules.messages.get(name)
    if message is None:
        inbound = [(t, spec) for t, spec in rules.inbound.items() if spec["name"] == name]
        return _inbound_schema(name, *inbound[0]) if inbound else None
    data = []
    for receiver in message.receivers:
        for juvenile, fields in ((False, receiver.fields), (True, receiver.juvenile_fields)):
            variant = _data_schema(fields, rules)
            variant["title"] = f"{rules.agency_labels[receiver.kind]}" + (
                "（未成年人）" if juvenile else ""
            )
            variant["x-receiver"] = receiver.kind
            variant["x-juvenile"] = juvenile
            data.append(variant)
    return {
        "$schema": DRAFT,
        "$id": f"/api/v1/exchange/schemas/{name}",
        "title": message.label_zh,
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid"},
            "source": {"type": "string"},
            "type": {"const": message.cloudevents_type},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string"},
            "partitionkey": {"type": "string"},
            "documenthash": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
            "rulesversion": {"type": "string"},
            "article": {"type": "string"},
            "data": {"oneOf": data},
        },
    }


def catalogue() -> list[dict[str, Any]]:
    """Every message type: its CloudEvents type, label, receivers with article and basis, and
    the URL of its schema."""
    rules = exchange_rules.current()
    return [
        {
            "name": name,
            "type": message.cloudevents_type,
            "direction": "outbound",
            "label_zh": message.label_zh,
            "schema": f"/api/v1/exchange/schemas/{name}",
            "receivers": [
                {
                    "kind": r.kind,
                    "kind_label_zh": rules.agency_labels[r.kind],
                    "article": r.article,
                    "basis": r.basis,
                    "fields": list(r.fields),
                    "juvenile_fields": list(r.juvenile_fields),
                }
                for r in message.receivers
            ],
        }
        for name, message in rules.messages.items()
    ] + [
        {
            "name": spec["name"],
            "type": type_,
            "direction": "inbound",
            "label_zh": spec["label_zh"],
            "schema": f"/api/v1/exchange/schemas/{spec['name']}",
            "senders": [
                {"kind": k, "kind_label_zh": rules.agency_labels[k]} for k in spec["senders"]
            ],
            "article": spec["article"],
            "basis": spec["basis"],
        }
        for type_, spec in rules.inbound.items()
    ]
