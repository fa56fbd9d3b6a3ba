"""Schema of ``rules/persons.yaml``."""

from __future__ import annotations

import marshmallow as ma

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
