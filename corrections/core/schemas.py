"""Schema pieces shared by every domain: pagination, and the field types every input goes
through (trimmed strings, identifiers, dates, instants, integers), each bounded so that a value
a hostile or careless client sends is refused here with the field named, never a 500 deeper in
(an overflow in date arithmetic, a database that cannot store it)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime

import marshmallow as ma

from corrections.core.converters import MAX_ID
from corrections.core.i18n import _

MAX_PAGE_SIZE = 200
# Calendar range of every date and instant the API takes: wide enough for any birth date or
# term, narrow enough that adding a term or converting to Asia/Shanghai cannot overflow.
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2199, 12, 31)
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)
# Text fields without a tighter limit of their own (notes are 2,000 to 8,000).
MAX_TEXT_LENGTH = 10_000
# A 64-bit signed integer: what every integer column holds.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


# C0 controls but tab and line breaks; and the invisible format characters that reorder or hide
# text when it is shown ("Trojan Source": bidi embeddings, overrides and isolates, zero-width
# spaces and joiners, the BOM), which typed records have no use for.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
# Lone surrogates cannot be encoded (UTF-8, the database): refused at the edge, not a 500.
SURROGATE = re.compile(r"[\ud800-\udfff]")
SURROGATE_MESSAGE = _("Must be valid Unicode text (a lone surrogate was sent).")


class TrimmedString(ma.fields.String):
    """A string with surrounding white space removed; empty after trimming counts as missing.

    Control characters (NUL above all, which PostgreSQL refuses in text) are rejected here,
    at the edge, with the field named.
    """

    default_error_messages = {
        "control": _("Must not contain control characters."),
        "surrogate": SURROGATE_MESSAGE,
        "too_long": _("Longer than {max} characters."),
    }

    def __init__(self, *args, max_length: int = MAX_TEXT_LENGTH, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_length = max_length
        if not any(isinstance(v, ma.validate.Length) and v.max for v in self.validators):
            # Documents the limit in the OpenAPI document (the check is the one below).
            self.validators.append(ma.validate.Length(max=max_length))

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if len(result) > self.max_length:  # before the scans below: they are linear in it
            raise self.make_error("too_long", max=self.max_length)
        if _CONTROL.search(result):
            raise self.make_error("control")
        if SURROGATE.search(result):
            raise self.make_error("surrogate")
        result = self._normalize(result).strip()
        if not result and self.required:
            raise self.make_error("required")
        return result

    def _normalize(self, value: str) -> str:
        return value


def normalize_identifier(value: str) -> str:
    """NFKC: full-width digits and letters (``１２３Ｘ``), the ideographic space and other
    compatibility forms become their plain ASCII forms, so a number has one spelling."""
    return unicodedata.normalize("NFKC", value)


class Identifier(TrimmedString):
    """A number or code people type and the service compares or looks up: ID numbers, phones,
    unit codes. NFKC-normalised before it is validated, so a number typed with an input
    method's full-width digits is the same number (one open record per ID number, found by
    search either way). Its validators must spell digits ``[0-9]``, never ``\\d`` (which also
    matches Arabic-Indic, Devanagari... digits). Document numbers are cited, not looked up:
    they stay TrimmedString, kept as typed (full-width brackets and all)."""

    def _normalize(self, value: str) -> str:
        return normalize_identifier(value)


class Date(ma.fields.Date):
    """A calendar date between 1900-01-01 and 2199-12-31 (year 1 or 9999 overflows the date
    arithmetic of terms and deadlines)."""

    default_error_messages = {
        "out_of_range": _(
            "Must be a date from {min} to {max}.",
            min=MIN_DATE.isoformat(),
            max=MAX_DATE.isoformat(),
        )
    }

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_DATE <= result <= MAX_DATE:
            raise self.make_error("out_of_range")
        return result


class DateTime(ma.fields.AwareDateTime):
    """An instant with its UTC offset (a naive time is refused), returned in UTC. The offset is
    applied before the range is checked: ``0001-01-01T00:00+23:59`` lies before year 1 and
    ``9999-12-31T23:59-23:59`` after 9999, which Python cannot even represent."""

    default_error_messages = {
        "out_of_range": _(
            "Must be an instant from {min} to {max}.",
            min=f"{MIN_INSTANT:%Y-%m-%dT%H:%M:%SZ}",
            max=f"{MAX_INSTANT:%Y-%m-%dT%H:%M:%SZ}",
        )
    }

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            result = result.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None
        if not MIN_INSTANT <= result < MAX_INSTANT:
            raise self.make_error("out_of_range")
        return result


class Integer(ma.fields.Integer):
    """An integer within ``min``..``max`` (by default what a 64-bit column holds); a number
    with a fraction is refused, not truncated. orjson reads integers beyond 64 bits as floats,
    and Python refuses to read more than 4,300 digits: both end here as a named 422."""

    def __init__(self, *, min: int = MIN_INT, max: int = MAX_INT, **kwargs):
        super().__init__(**kwargs)
        # A validator, so that the OpenAPI document shows the bounds too.
        self.validators.insert(
            0,
            ma.validate.Range(min=min, max=max, error=_("Must be an integer from {min} to {max}.")),
        )

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def Id(**kwargs) -> Integer:
    """A database id: 1 to 2^63 - 1 (an absurd id is a named 422, never an overflow)."""
    return Integer(min=1, max=MAX_ID, **kwargs)


class PageQuerySchema(ma.Schema):
    page = Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    page_size = Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE))


class PageSchema(ma.Schema):
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    # False: ``total`` is a lower bound (a very long list is counted only so far: there are
    # more than ``total``; pagination.bounded_count).
    total_exact = ma.fields.Boolean(required=True)


def page_envelope(
    items: list, page: int, page_size: int, total: int, *, exact: bool = True
) -> dict:
    """The body of a paginated list (see :func:`page_of`)."""
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total": total,
        "total_exact": exact,
    }


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A paginated envelope ``{items: [...], page, page_size, total, total_exact}`` for
    ``item_schema``."""
    return type(
        name, (PageSchema,), {"items": ma.fields.List(ma.fields.Nested(item_schema), required=True)}
    )


# A report's month: YYYY-MM from 2000-01 to 2099-12 (nothing this system counts lies outside;
# year 0000 or 0964 would reach the calendar's edge in the date arithmetic behind it).
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


def month_field(**kwargs) -> ma.fields.String:
    """A query's month (``month=2026-10``), checked at the edge."""
    return ma.fields.String(
        validate=ma.validate.Regexp(
            MONTH_PATTERN, error=_("Must be a month as YYYY-MM, from 2000-01 to 2099-12.")
        ),
        **kwargs,
    )
