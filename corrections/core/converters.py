"""URL converters. ``<id:name>`` accepts 1..2^63-1 only, so an absurd id is a 404 and never
reaches the database (where it would overflow BIGINT)."""

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
