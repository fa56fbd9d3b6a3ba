"""Issue 13 finding 7: what a careless or hostile client sends is a 4xx problem+json naming the
field, never a 500 and never a traceback in the log: instants and dates beyond the calendar
(after the offset is applied), lone surrogates, deeply nested JSON, numbers of thousands of
digits, over-long strings. The field types in core/schemas.py and the JSON parser in
core/api.py are the one place that refuses them."""

from __future__ import annotations

import json
import logging

import marshmallow as ma
import pytest

from corrections.core import schemas as core_schemas
from corrections.persons.models import Person
from corrections.supervision.schemas import PAYLOADS
from tests.conftest import count_rows
from tests.factories import person_payload

YEAR_1 = "0001-01-01T00:00:00+23:59"  # before year 1 in UTC
YEAR_9999 = "9999-12-31T23:59:59-23:59"  # after 9999 in UTC


@pytest.fixture
def no_traceback(caplog):
    """Fails the test if the server logged an unhandled error (a traceback)."""
    caplog.set_level(logging.ERROR, logger="corrections")
    yield
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage()[:200] for r in crashes]


def _named(resp, field: str, status: int = 422) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.content_type == "application/problem+json"
    body = resp.get_json()
    assert field in body["errors"], body
    return body


def _raw_post(api, path: str, text: str):
    return api.post(path, data=text.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("instant", [YEAR_1, YEAR_9999, "1899-12-31T23:59:59Z"])
def test_finding_7_instants_beyond_the_calendar_are_a_named_422(
    login, active, no_traceback, instant
):
    officer = login("officer-dongcheng-1")
    pid = active()["id"]
    events = f"/api/v1/persons/{pid}/events"
    _named(officer.post(events, json={"type": "report", "occurred_at": instant}), "occurred_at")
    _named(officer.get(events, query_string={"since": instant}), "query.since")
    _named(officer.get(events, query_string={"until": instant}), "query.until")
    _named(officer.get("/api/v1/alerts", query_string={"since": instant}), "query.since")
    auditor = login("auditor")
    _named(auditor.get("/api/v1/audit", query_string={"since": instant}), "query.since")


@pytest.mark.parametrize(
    "dates",
    [
        {"term_start": "9999-12-30", "term_end": "9999-12-31"},
        {"judgment_effective_date": "9999-12-31"},
        {"date_of_birth": "0001-01-01"},
    ],
)
def test_finding_7_dates_beyond_the_calendar_are_a_named_422(app, officer, no_traceback, dates):
    body = _named(officer.post("/api/v1/persons", json=person_payload(**dates)), next(iter(dates)))
    assert set(body["errors"]) <= set(dates)
    assert count_rows(app, Person) == 0


def test_finding_7_a_lone_surrogate_anywhere_names_its_field(app, active, officer, no_traceback):
    payload = json.dumps(person_payload(), ensure_ascii=False)
    _named(_raw_post(officer, "/api/v1/persons", payload.replace("张伟", "\\ud800")), "name")
    pid = active()["id"]
    event = '{"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "note": "a\\udfffb"}'
    _named(_raw_post(officer, f"/api/v1/persons/{pid}/events", event), "note")
    nested = (
        '{"type": "education", "occurred_at": "2026-11-27T01:00:00Z", '
        '"payload": {"topic": "\\ud83d"}}'
    )
    _named(_raw_post(officer, f"/api/v1/persons/{pid}/events", nested), "payload.topic")
    as_key = payload.replace('"address"', '"\\udc00"')
    _named(_raw_post(officer, "/api/v1/persons", as_key), "json")
    assert count_rows(app, Person) == 1


def test_finding_7_deeply_nested_json_is_refused_at_the_edge(active, officer, no_traceback):
    pid = active()["id"]
    deep = "[" * 40 + "]" * 40
    event = f'{{"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "payload": {deep}}}'
    _named(_raw_post(officer, f"/api/v1/persons/{pid}/events", event), "payload")
    # Deeper than any parser goes: a malformed body as a whole.
    _named(_raw_post(officer, "/api/v1/persons", "[" * 100_000 + "]" * 100_000), "json", 400)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            '{"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "corrects_id": %s}',
            "corrects_id",
        ),
        (
            '{"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "payload": {"late": %s}}',
            "payload.late",
        ),
    ],
)
@pytest.mark.parametrize(
    "number", [str(2**63), str(2**64 + 1), "9" * 5000, "-" + "9" * 5000, "1e999"]
)
def test_finding_7_numbers_beyond_any_range_are_a_named_422(
    active, officer, no_traceback, text, field, number
):
    pid = active()["id"]
    resp = _raw_post(officer, f"/api/v1/persons/{pid}/events", text % number)
    _named(resp, field)


def test_finding_7_integers_in_the_query_string_are_bounded(officer, no_traceback):
    for value in ("9" * 5000, str(2**63)):
        _named(officer.get("/api/v1/alerts", query_string={"person_id": value}), "query.person_id")
        _named(officer.get("/api/v1/persons", query_string={"page": value}), "query.page")


def test_finding_7_over_long_strings_are_a_named_422(app, officer, no_traceback):
    huge = "长" * 20_000
    _named(officer.post("/api/v1/persons", json=person_payload(address=huge)), "address")
    _named(officer.post("/api/v1/persons/search", json={"q": huge}), "q")
    with pytest.raises(ma.ValidationError, match="Longer than"):
        core_schemas.TrimmedString().deserialize("x" * (core_schemas.MAX_TEXT_LENGTH + 1))
    assert count_rows(app, Person) == 0


def test_finding_7_unauthenticated_bad_bodies_are_4xx_problems(client, no_traceback):
    token = "/api/v1/auth/token"
    for text in (
        '{"username": "\\ud800", "password": "x"}',
        '{"username": "a", "password": "x", "n": ' + "9" * 5000 + "}",
        '{"username": ' + "[" * 50 + "]" * 50 + ', "password": "x"}',
        "[" * 100_000,
    ):
        resp = client.post(token, data=text, headers={"Content-Type": "application/json"})
        assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)[:300]
        assert resp.content_type == "application/problem+json"
        assert resp.get_json()["errors"]


# --- the root: every field the API reads is one of the bounded types ---------------------


def _argument_schemas(app):
    for endpoint, view in app.view_functions.items():
        cls = getattr(view, "view_class", None)
        methods = (
            [getattr(cls, m, None) for m in ("get", "post", "put", "patch", "delete")]
            if cls
            else [view]
        )
        for method in methods:
            if method is None:
                continue
            for argument in (
                getattr(method, "_apidoc", {}).get("arguments", {}).get("parameters", [])
            ):
                yield endpoint, argument["schema"]


def _load_fields(schema, prefix=""):
    schema = schema() if isinstance(schema, type) else schema
    for name, field in schema.load_fields.items():
        yield prefix + name, field
        inner = getattr(field, "inner", None)
        for sub in (field, inner):
            if isinstance(sub, ma.fields.Nested):
                yield from _load_fields(sub.schema, f"{prefix}{name}.")
        if inner is not None and not isinstance(inner, ma.fields.Nested):
            yield f"{prefix}{name}[]", inner


def _bounded_text(field) -> bool:
    if isinstance(field, core_schemas.TrimmedString):
        return True
    return any(
        isinstance(v, ma.validate.OneOf)
        or (isinstance(v, ma.validate.Length) and v.max is not None)
        or (isinstance(v, ma.validate.Regexp) and "{" in v.regex.pattern)
        for v in field.validators
    )


def test_finding_7_every_field_the_api_reads_is_a_bounded_type(app):
    schemas = [(e, s) for e, s in _argument_schemas(app)]
    schemas += [(f"event payload {kind}", schema) for kind, schema in PAYLOADS.items()]
    assert len(schemas) > 40
    unbounded = []
    for where, schema in schemas:
        for name, field in _load_fields(schema):
            if isinstance(field, ma.fields.DateTime):
                ok = isinstance(field, core_schemas.DateTime)
            elif isinstance(field, ma.fields.Date):
                ok = isinstance(field, core_schemas.Date)
            elif isinstance(field, ma.fields.Integer):
                ok = isinstance(field, core_schemas.Integer)
            elif isinstance(field, ma.fields.String):
                ok = _bounded_text(field)
            else:
                continue
            if not ok:
                unbounded.append(f"{where}: {name} ({type(field).__name__})")
    assert unbounded == []


def test_finding_7_an_overflow_past_the_edge_is_a_422_and_no_traceback(
    monkeypatch, officer, no_traceback, caplog
):
    """The net behind the edge: a value that still overflows arithmetic deeper in is the
    client's (422), logged as a warning with where it got through, never with its value."""
    from corrections.persons import service

    def overflow(*args, **kwargs):
        raise OverflowError("date value out of range: 9999-12-31 + 张伟")

    monkeypatch.setattr(service, "list_persons", overflow)
    caplog.set_level(logging.WARNING, logger="corrections")
    resp = officer.get("/api/v1/persons")
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert "value out of range: OverflowError at test_bad_input.py:" in caplog.text
    assert "张伟" not in caplog.text and "9999" not in caplog.text
