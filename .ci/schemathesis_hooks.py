"""schemathesis hooks for CI (``.ci/run`` sets ``SCHEMATHESIS_HOOKS`` to this file).

Besides what the OpenAPI document describes, half of the generated bodies and query strings
carry one hostile value (issue 13 finding 7): instants at year 1 or 9999 with extreme offsets,
dates beyond the calendar, lone surrogates, values nested deeper than any body of the API,
integers beyond 64 bits and of thousands of digits, over-long and full-width text. The value
goes into a field the operation declares, of the field's own type and format (a ``date-time``
gets an instant, an integer a number), so that it gets past the type checks into the code
behind them; a tenth of the bodies are raw documents no parser should take. Every such request
must come back as a 4xx problem+json: a 5xx fails the ``not_a_server_error`` check, and a
traceback in the server's log fails the CI script.

A random id in a path is a 404 before any body is read, so ids the role can see are used most
of the time: with ``FUZZ_BASE_URL`` and ``FUZZ_TOKEN`` set (``.ci/run`` sets them per role), the
first page of persons and of alerts that token can list.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import urllib.request

import schemathesis
from hypothesis import strategies as st

# The client must be able to write integers of thousands of digits (Python refuses beyond 4,300).
sys.set_int_max_str_digits(0)

INSTANTS = [
    "0001-01-01T00:00:00+23:59",  # before year 1 once the offset is applied
    "9999-12-31T23:59:59-23:59",  # after 9999
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+00:00",
    "1899-12-31T23:59:59+08:00",
]
DATES = ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"]
NUMBERS = [2**63, -(2**63) - 1, 2**64 + 1, 10**4400, -(10**4400), 1.5, 1e308]
TEXTS = [
    "\ud800",  # lone surrogates: valid JSON escapes, no valid Unicode text
    "a\udfffb",
    "\udc00\ud800",
    "x" * 20_000,
    "长" * 12_000,
    "１３９１２３４５６７８",  # full-width digits
    "\u3000\u3000",  # ideographic spaces only
    "\x00",
]


def _nested(depth: int):
    value: object = "x"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


STRUCTURES = [_nested(40), _nested(300), [2**64] * 3, {"a": "\ud800"}]
# Whole bodies that are not JSON any parser should take (sent as they are).
RAW_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' + b"9" * 5_000 + b"}",
    b'{"a": 1e999}',
    b'{"a": NaN}',
    b'{"a": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes
]
# Query strings stay well below gunicorn's request-line limit (4,094 bytes, answered in HTML
# before the app sees the request) beside what schemathesis adds, and are URL-encoded as UTF-8,
# so they carry no lone surrogates.
QUERY_NUMBERS = [str(2**63), str(-(2**63) - 1), "9" * 1000, "1.5", "1e999"]
QUERY_TEXTS = ["x" * 1000, "１２３", "\u3000", "%00"]


def _known_ids() -> dict[str, list[int]]:
    base, token = os.environ.get("FUZZ_BASE_URL"), os.environ.get("FUZZ_TOKEN")
    found: dict[str, list[int]] = {}
    if not base or not token:
        return found
    for name, path in (("person_id", "/api/v1/persons"), ("alert_id", "/api/v1/alerts")):
        request = urllib.request.Request(  # noqa: S310 - the CI server's own address
            f"{base}{path}?page_size=30", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                found[name] = [item["id"] for item in json.load(response)["items"]]
        except (OSError, ValueError, KeyError):  # a role that may not list them
            found[name] = []
    return found


KNOWN_IDS = _known_ids()


def _kind(schema: dict) -> str:
    if not isinstance(schema, dict):
        return "other"
    if schema.get("format") in ("date-time", "date"):
        return schema["format"]
    kind = schema.get("type")
    return kind if kind in ("integer", "number", "string") else "other"


def _kind_of(value) -> str:
    if isinstance(value, bool):
        return "other"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string"}.get(type(value), "other")


_BODY_VALUES = {
    "date-time": INSTANTS + TEXTS[:3],
    "date": DATES + TEXTS[:3],
    "integer": NUMBERS,
    "number": NUMBERS,
    "string": TEXTS,
    "other": STRUCTURES + TEXTS[:3] + NUMBERS[:3],
}
_QUERY_VALUES = {
    "date-time": INSTANTS,
    "date": DATES,
    "integer": QUERY_NUMBERS,
    "number": QUERY_NUMBERS,
    "string": QUERY_TEXTS,
    "other": QUERY_TEXTS + QUERY_NUMBERS,
}


def _body_fields(context) -> dict[str, str]:
    """The JSON body's declared members and their kinds."""
    operation = getattr(context, "operation", None)
    for body in getattr(operation, "body", ()) or ():
        if "json" in (body.media_type or ""):
            schema = (body.definition or {}).get("schema") or {}
            return {name: _kind(s) for name, s in (schema.get("properties") or {}).items()}
    return {}


def _query_fields(context) -> dict[str, str]:
    operation = getattr(context, "operation", None)
    return {
        p.name: _kind((p.definition or {}).get("schema") or {})
        for p in (getattr(operation, "query", ()) or ())
    }


def _mostly(original, mutated, raw=None):
    """As generated half of the time; mutated 40% (raw 10% if given, else mutated)."""
    return st.integers(0, 9).flatmap(
        lambda n: st.just(original) if n < 5 else (raw if raw is not None and n == 9 else mutated)
    )


@schemathesis.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    fields = _body_fields(context)
    # A declared member of its kind, or, for members the document leaves open (an event's
    # payload), a member of what was generated.
    for name, value in body.items():
        if name not in fields:
            fields[name] = _kind_of(value)
    if not fields:
        fields = {"x": "other"}
    names = sorted(fields)
    mutated = st.sampled_from(names).flatmap(
        lambda name: st.sampled_from(_BODY_VALUES[fields[name]]).map(
            lambda value: {**copy.deepcopy(body), name: value}
        )
    )
    return _mostly(body, mutated, st.sampled_from(RAW_BODIES))


@schemathesis.hook
def flatmap_query(context, query):
    if query is not None and not isinstance(query, dict):
        return st.just(query)
    query = query or {}
    fields = _query_fields(context)
    if not fields:
        return st.just(query)
    names = sorted(fields)
    mutated = st.sampled_from(names).flatmap(
        lambda name: st.sampled_from(_QUERY_VALUES[fields[name]]).map(
            lambda value: {**query, name: value}
        )
    )
    return _mostly(query, mutated)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    known = {name: ids for name, ids in KNOWN_IDS.items() if ids and name in path_parameters}
    if not known:
        return st.just(path_parameters)
    real = st.fixed_dictionaries({name: st.sampled_from(ids) for name, ids in known.items()})
    # Ids that exist, 80% of the time; the generated (mostly unknown) ones otherwise.
    return st.integers(0, 4).flatmap(
        lambda n: (
            st.just(path_parameters) if n == 0 else real.map(lambda ids: {**path_parameters, **ids})
        )
    )
