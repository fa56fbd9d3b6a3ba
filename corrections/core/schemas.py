"""Schema pieces shared by every domain: pagination, trimmed strings."""

from __future__ import annotations

import re

import marshmallow as ma

MAX_PAGE_SIZE = 200


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Lone surrogates cannot be encoded (UTF-8, the database): refused at the edge, not a 500.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class TrimmedString(ma.fields.String):
    """A string with surrounding white space removed; empty after trimming counts as missing.

    Control characters (NUL above all, which PostgreSQL refuses in text) are rejected here,
    at the edge, with the field named.
    """

    default_error_messages = {
        "control": "Must not contain control characters.",
        "surrogate": "Must be valid Unicode text (a lone surrogate was sent).",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if _CONTROL.search(result):
            raise self.make_error("control")
        if _SURROGATE.search(result):
            raise self.make_error("surrogate")
        result = result.strip()
        if not result and self.required:
            raise self.make_error("required")
        return result


class PageQuerySchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    page_size = ma.fields.Integer(
        load_default=50, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )


class PageSchema(ma.Schema):
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)


def page_envelope(items: list, page: int, page_size: int, total: int) -> dict:
    """The body of a paginated list (see :func:`page_of`)."""
    return {"items": items, "page": page, "page_size": page_size, "total": total}


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A paginated envelope ``{items: [...], page, page_size, total}`` for ``item_schema``."""
    return type(
        name, (PageSchema,), {"items": ma.fields.List(ma.fields.Nested(item_schema), required=True)}
    )
