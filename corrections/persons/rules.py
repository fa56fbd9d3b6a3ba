"""Schema of ``rules/persons.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import marshmallow as ma
from flask import current_app

from corrections.core import rules

CATEGORY_IDS = ("control_order", "suspended_sentence", "parole", "temporary_outside_custody")
STATUS_IDS = (
    "pending_intake",
    "active",
    "lost_contact",
    "absconded",
    "discharged",
    "terminated",
    "transferred",
    "deceased",
)
GENDER_IDS = ("male", "female")

_label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=50))
_identifier = ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error="must be a snake_case id")


class TermSchema(ma.Schema):
    min_months = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0))
    max_months = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    article = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    basis = ma.fields.String(validate=ma.validate.OneOf(["statute", "local"]))

    @ma.validates_schema
    def _order(self, data, **kwargs):
        if data["min_months"] >= data["max_months"]:
            raise ma.ValidationError("must be greater than min_months", "max_months")


class CategorySchema(ma.Schema):
    label_zh = _label
    term = ma.fields.Nested(TermSchema, required=True)


def _labels(**kwargs) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(validate=_identifier), values=_label, required=True, **kwargs
    )


SEAL_GROUND_IDS = ("discharge", "backfill")
UNSEAL_STATUS_IDS = ("pending", "approved", "refused", "expired")


class ArticleSchema(ma.Schema):
    """A rule's legal source: its text (label_zh), article and whether statute or local."""

    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    article = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    basis = ma.fields.String(required=True, validate=ma.validate.OneOf(["statute", "local"]))
    verified = ma.fields.Boolean()


class GrantSchema(ArticleSchema):
    amount = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=90))
    unit = ma.fields.String(required=True, validate=ma.validate.OneOf(["days"]))


class LegalBasisSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    article = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))


class SealingSchema(ma.Schema):
    condition = ma.fields.Nested(ArticleSchema, required=True)
    categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CATEGORY_IDS)), required=True
    )
    disclosure = ma.fields.Nested(ArticleSchema, required=True)
    request = ma.fields.Nested(ArticleSchema, required=True)
    grant = ma.fields.Nested(GrantSchema, required=True)
    legal_bases = ma.fields.Dict(
        keys=ma.fields.String(validate=_identifier),
        values=ma.fields.Nested(LegalBasisSchema),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    label_zh = _label
    grounds = _labels(validate=rules.exact_keys(SEAL_GROUND_IDS))
    request_statuses = _labels(validate=rules.exact_keys(UNSEAL_STATUS_IDS))


@rules.register("persons.yaml")
class PersonsRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    juvenile_age = ma.fields.Integer(required=True, validate=ma.validate.Range(min=14, max=18))
    min_age_at_offence = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=10, max=18)
    )
    categories = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(CategorySchema),
        required=True,
        validate=rules.exact_keys(CATEGORY_IDS),
    )
    statuses = _labels(validate=rules.exact_keys(STATUS_IDS))
    genders = _labels(validate=rules.exact_keys(GENDER_IDS))
    employment = _labels(validate=ma.validate.Length(min=1))
    housing = _labels(validate=ma.validate.Length(min=1))
    crime_types = _labels(validate=ma.validate.Length(min=1))
    sealing = ma.fields.Nested(SealingSchema, required=True)


# --- the typed accessor --------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    min_months: int
    max_months: int
    article: str | None = None
    basis: str | None = None

    def text(self) -> str:
        return f"{self.min_months}–{self.max_months} months"


@dataclass(frozen=True)
class Category:
    label_zh: str
    term: Term


@dataclass(frozen=True)
class Sealing:
    label_zh: str
    categories: frozenset[str]
    grant_days: int
    grounds: Mapping[str, str]
    request_statuses: Mapping[str, str]
    legal_bases: Mapping[str, Mapping[str, str]]  # id -> {label_zh, article}


@dataclass(frozen=True)
class PersonRules:
    """``rules/persons.yaml``, typed: ages, categories and their terms, labels, sealing."""

    version: str
    juvenile_age: int
    min_age_at_offence: int
    categories: Mapping[str, Category]
    # statuses, genders, employment, housing, crime_types: id -> Chinese label
    labels: Mapping[str, Mapping[str, str]]
    sealing: Sealing

    def label(self, group: str, key: str | None) -> str | None:
        """The Chinese label of ``key`` in ``group``; None for no key or an unknown one."""
        return self.labels[group].get(key) if key is not None else None


LABEL_GROUPS = ("statuses", "genders", "employment", "housing", "crime_types")


def build(data: Mapping[str, Any]) -> PersonRules:
    s = data["sealing"]
    return PersonRules(
        version=data["version"],
        juvenile_age=data["juvenile_age"],
        min_age_at_offence=data["min_age_at_offence"],
        categories=MappingProxyType(
            {
                k: Category(
                    label_zh=v["label_zh"],
                    term=Term(
                        v["term"]["min_months"],
                        v["term"]["max_months"],
                        v["term"].get("article"),
                        v["term"].get("basis"),
                    ),
                )
                for k, v in data["categories"].items()
            }
        ),
        labels=MappingProxyType({g: MappingProxyType(dict(data[g])) for g in LABEL_GROUPS}),
        sealing=Sealing(
            label_zh=s["label_zh"],
            categories=frozenset(s["categories"]),
            grant_days=s["grant"]["amount"],
            grounds=MappingProxyType(dict(s["grounds"])),
            request_statuses=MappingProxyType(dict(s["request_statuses"])),
            legal_bases=MappingProxyType(
                {k: MappingProxyType(v) for k, v in s["legal_bases"].items()}
            ),
        ),
    )


def current() -> PersonRules:
    """The running app's person rules (built once per loaded file)."""
    data = rules.get("persons")
    cache = current_app.extensions.setdefault("corrections.person_rules", {})
    if cache.get("data") is not data:
        cache["data"], cache["rules"] = data, build(data)
    return cache["rules"]
