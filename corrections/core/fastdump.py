"""A response schema's ``dump`` without marshmallow's per-field call chain (issue 18, lists).

marshmallow dumps every field of every row through ``Field.serialize`` → ``Field.get_value`` →
``utils.get_value`` → ``_get_value_for_key`` → ``Field._serialize``: on a page of fifty alerts
of thirty fields that chain was 40% of the request's CPU. :func:`install` gives a copy of a
schema instance a ``dump`` that does, per field, what that chain does, without the chain:

- the value is read as marshmallow reads it (``obj[key]``, else the attribute; a missing one
  takes the field's ``dump_default``, else the key is left out);
- it is converted by the field's own ``_serialize``, except where that is known to return the
  value unchanged (a ``str`` in a ``String``, an ``int`` in an ``Integer``, any value in a field
  whose ``_serialize`` is the base one: ``Raw``, ``Boolean``);
- a ``Nested`` field's schema (and a ``List``'s nested one: the field's own copy) gets the
  same ``dump`` when it is first dumped (a schema may nest itself), which the field's
  ``_serialize`` then calls.

Whatever is not plain falls back to marshmallow for that field (``Method``, ``Function``, a
dotted ``attribute``, a field overriding ``serialize`` or ``get_value``) or for the whole
schema (``pre_dump``/``post_dump`` hooks, a custom ``get_attribute`` or ``dict_class``).

With ``FAST_DUMP_VERIFY`` (the test suite sets it) every fast dump is compared with
marshmallow's own algorithm at the same level and a difference raises: every response the
tests make checks it, level by level.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP

# Set from the app's FAST_DUMP_VERIFY when an app is created (corrections.create_app).
VERIFY = False

_IDENTITY = fields.Field._serialize
_PLAIN = (fields.Field.serialize, fields.Field.get_value)


def _read(obj: Any, key: str) -> Any:
    """marshmallow's ``utils._get_value_for_key`` with ``missing`` as the default."""
    if not hasattr(obj, "__getitem__"):
        return getattr(obj, key, missing)
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, key, missing)


def _plain(field: fields.Field, source: str) -> bool:
    return (
        field._CHECK_ATTRIBUTE
        and "." not in source
        and (type(field).serialize, type(field).get_value) == _PLAIN
    )


def _unchanged_type(field: fields.Field) -> type | None:
    """The type whose values ``field._serialize`` returns unchanged (None: not known)."""
    if type(field) is fields.String:
        return str
    if type(field) is fields.Integer and not field.as_string:
        return int
    return None


def _compile(schema: Schema) -> Callable[[Any], dict] | None:
    cls = type(schema)
    if (
        schema._hooks[PRE_DUMP]
        or schema._hooks[POST_DUMP]
        or any(getattr(cls, name) is not getattr(Schema, name) for name in _SCHEMA_MACHINERY)
        or schema.dict_class is not dict
    ):
        return None
    steps = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        source = name if field.attribute is None else field.attribute
        # A nested field's schema is resolved when first dumped, as marshmallow does (it
        # may be named by a class not imported yet, or nest this one).
        nested = None
        if isinstance(field, fields.Nested):
            nested = field
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            nested = field.inner
        if not _plain(field, source):
            mode, same = _FALLBACK, None
        elif nested is not None:
            mode, same = _NESTED, nested
        elif type(field)._serialize is _IDENTITY:
            mode, same = _AS_IS, None
        else:
            mode, same = _CONVERT, _unchanged_type(field)
        steps.append((key, name, source, field, mode, same))
    get_attribute = schema.get_attribute

    def one(obj: Any) -> dict:
        ret = {}
        mapping = type(obj) is dict  # a view's dict, most often: read without a call
        for key, name, source, field, mode, same in steps:
            if mode is _FALLBACK:  # marshmallow's own way, for this field
                value = field.serialize(name, obj, accessor=get_attribute)
                if value is not missing:
                    ret[key] = value
                continue
            value = obj[source] if mapping and source in obj else _read(obj, source)
            if value is missing:
                default = field.dump_default
                value = default() if callable(default) else default
                if value is missing:
                    continue
            if mode is _AS_IS or type(value) is same:
                ret[key] = value
                continue
            if mode is _NESTED:
                _install(same.schema)  # ``same``: the Nested field (its _serialize calls dump)
            ret[key] = field._serialize(value, name, obj)
        return ret

    return one


_FALLBACK, _AS_IS, _CONVERT, _NESTED = "fallback", "as is", "convert", "nested"
# A schema class overriding any of these dumps its own way: it keeps marshmallow's dump.
_SCHEMA_MACHINERY = ("dump", "_serialize", "_invoke_dump_processors", "get_attribute")


def install(schema: Schema) -> Schema:
    """A copy of ``schema`` (an instance) with the fast ``dump``; the instance given stays
    marshmallow's. A copy, because marshmallow's ``Nested`` copies the instance it is given
    and narrows the copy's fields (``only``, ``exclude``): a copy of an installed instance
    would carry a dump built for the wider fields."""
    return _install(copy.copy(schema))


def _install(schema: Schema) -> Schema:
    """Install on ``schema`` itself, an instance nobody else holds (a copy :func:`install`
    made, or a ``Nested`` field's own). Idempotent and cheap once done: a schema that must
    keep marshmallow's dump keeps it as an instance attribute too, so that it is looked at
    once (a nested one is asked at every value it dumps). A copy of an installed instance is
    recognised and compiled anew."""
    if vars(schema).get("_fastdump_of") is schema:
        return schema
    schema._fastdump_of = schema
    one = _compile(schema)
    if one is None:
        schema.dump = type(schema).dump.__get__(schema)  # marshmallow's own: asked once
        return schema
    volatile = frozenset(
        (f.data_key if f.data_key is not None else name)
        for name, f in schema.dump_fields.items()
        if callable(f.dump_default)
    )

    def dump(obj: Any, *, many: bool | None = None) -> Any:
        many = schema.many if many is None else bool(many)
        if VERIFY and many and obj is not None:
            obj = list(obj)  # both sides read it: a one-shot iterable would be empty twice
        result = [one(item) for item in obj] if many and obj is not None else one(obj)
        if VERIFY:
            expected = type(schema)._serialize(schema, obj, many=many)
            if _shown(result, volatile) != _shown(expected, volatile):
                raise AssertionError(
                    f"fast dump of {type(schema).__name__} differs from marshmallow's: "
                    f"{result!r} != {expected!r}"
                )
        return result

    schema.dump = dump
    return schema


def _shown(result: Any, volatile: frozenset) -> str:
    """What is compared: the repr (types, key order and NaN included), without the keys whose
    default is computed at each dump (a clock's now differs between the two sides)."""
    if volatile:
        rows = result if isinstance(result, list) else [result]
        rows = [
            {k: v for k, v in r.items() if k not in volatile} if isinstance(r, dict) else r
            for r in rows
        ]
        result = rows if isinstance(result, list) else rows[0]
    return repr(result)
