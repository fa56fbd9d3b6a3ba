"""Schema and typed view of ``rules/exchange.yaml``: agency kinds, the fields a message may
carry, receipts and delivery settings, and the message types with their receivers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry

AGENCY_KINDS = ("court", "procuratorate", "police", "immigration", "bureau")
# The message types the program emits (corrections/exchange/triggers.py); the rules file names
# each exactly once.
MESSAGE_TYPES = (
    "sanction.warning.decided",
    "sanction.police_penalty.proposed",
    "travel.city_approved",
    "revocation.proposed",
    "custody.proposed",
    "case.discharged",
    "case.terminated",
    "person.absconded",
    "audit.checkpoint.sealed",
    "oversight.reply.sent",
)
# The CloudEvents type of a message type: reverse-DNS of the project, then the rules' name.
TYPE_PREFIX = "cn.corrections."

_basis = ma.fields.String(required=True, validate=ma.validate.OneOf(["statute", "local"]))


class AgencyKindSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))


FIELD_TYPES = ("string", "boolean", "integer", "date", "date-time")


class FieldSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    personal = ma.fields.Boolean(required=True)
    type = ma.fields.String(load_default="string", validate=ma.validate.OneOf(FIELD_TYPES))


class ReceiptsSchema(ma.Schema):
    due_hours = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=24 * 30))
    basis = _basis


class DeliverySchema(ma.Schema):
    max_attempts = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=100))
    first_retry_seconds = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=3600)
    )
    max_retry_seconds = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=7 * 86400)
    )


class ReceiverSchema(ma.Schema):
    article = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200))
    basis = _basis
    fields = ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1))
    juvenile = ma.fields.List(ma.fields.String(), validate=ma.validate.Length(min=1))


class MessageSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    receivers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(AGENCY_KINDS)),
        values=ma.fields.Nested(ReceiverSchema),
        required=True,
        validate=ma.validate.Length(min=1),
    )


INBOUND_NAMES = ("judgment.notice", "detention.notice", "revocation.ruling", "oversight.opinion")


class InboundSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.OneOf(INBOUND_NAMES))
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    senders = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(AGENCY_KINDS)),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    article = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200))
    basis = _basis


@registry.register("exchange.yaml")
class ExchangeRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    agency_kinds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(AgencyKindSchema),
        required=True,
        validate=registry.exact_keys(AGENCY_KINDS),
    )
    fields = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(r"^[a-z_]+\.[a-z_]+$")),
        values=ma.fields.Nested(FieldSchema),
        required=True,
    )
    receipts = ma.fields.Nested(ReceiptsSchema, required=True)
    delivery = ma.fields.Nested(DeliverySchema, required=True)
    messages = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(MessageSchema),
        required=True,
        validate=registry.exact_keys(MESSAGE_TYPES),
    )
    inbound = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(r"^[a-z][a-z0-9.]{3,79}$")),
        values=ma.fields.Nested(InboundSchema),
        required=True,
    )

    @ma.validates_schema
    def _known_fields(self, data: dict[str, Any], **_: Any) -> None:
        # Every field a receiver gets is declared; a juvenile's are a subset of the adult's,
        # so the juvenile rule can only take away.
        known = set(data["fields"])
        for name, message in data["messages"].items():
            for kind, receiver in message["receivers"].items():
                path = f"messages.{name}.receivers.{kind}"
                unknown = sorted(set(receiver["fields"]) - known)
                if unknown:
                    raise ma.ValidationError(f"unknown fields {unknown}", field_name=path)
                extra = sorted(set(receiver.get("juvenile") or ()) - set(receiver["fields"]))
                if extra:
                    raise ma.ValidationError(
                        f"juvenile fields {extra} are not in fields", field_name=path
                    )


@dataclass(frozen=True)
class Receiver:
    kind: str
    article: str
    basis: str
    fields: tuple[str, ...]
    juvenile_fields: tuple[str, ...]


@dataclass(frozen=True)
class MessageType:
    name: str
    label_zh: str
    receivers: tuple[Receiver, ...]

    @property
    def cloudevents_type(self) -> str:
        return TYPE_PREFIX + self.name


@dataclass(frozen=True)
class ExchangeRules:
    version: str
    agency_labels: dict[str, str]
    fields: dict[str, dict[str, Any]]
    receipt_due_hours: int
    max_attempts: int
    first_retry_seconds: int
    max_retry_seconds: int
    messages: dict[str, MessageType]
    # Documents partners send in, by CloudEvents type: name, label_zh, senders, article.
    inbound: dict[str, dict[str, Any]]

    def by_cloudevents_type(self, type_: str) -> MessageType | None:
        name = type_.removeprefix(TYPE_PREFIX)
        return self.messages.get(name) if type_.startswith(TYPE_PREFIX) else None


def build(data: dict[str, Any]) -> ExchangeRules:
    personal = {name for name, f in data["fields"].items() if f["personal"]}
    messages = {}
    for name, message in data["messages"].items():
        receivers = []
        for kind, r in message["receivers"].items():
            # Without a juvenile list: the adult's fields minus every personal one.
            juvenile = r.get("juvenile") or [f for f in r["fields"] if f not in personal]
            receivers.append(
                Receiver(kind, r["article"], r["basis"], tuple(r["fields"]), tuple(juvenile))
            )
        messages[name] = MessageType(name, message["label_zh"], tuple(receivers))
    return ExchangeRules(
        version=data["version"],
        agency_labels={k: v["label_zh"] for k, v in data["agency_kinds"].items()},
        fields=data["fields"],
        receipt_due_hours=data["receipts"]["due_hours"],
        max_attempts=data["delivery"]["max_attempts"],
        first_retry_seconds=data["delivery"]["first_retry_seconds"],
        max_retry_seconds=data["delivery"]["max_retry_seconds"],
        messages=messages,
        inbound=data["inbound"],
    )


def current() -> ExchangeRules:
    """The exchange rules of the running app (built once per app)."""
    from flask import current_app

    cache = current_app.extensions.setdefault("corrections.exchange_rules", {})
    if "rules" not in cache:
        cache["rules"] = build(registry.get("exchange"))
    return cache["rules"]
