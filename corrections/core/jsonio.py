"""JSON for requests and responses with orjson: the same output as Flask's provider (sorted
keys, UTF-8 left unescaped, dates as ISO 8601), several times faster on the hot paths."""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=DefaultJSONProvider.default, option=_OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


def dumps_str(obj: Any) -> str:
    """JSON text for the database's JSON columns (the engine's ``json_serializer``)."""
    return orjson.dumps(obj).decode()
