"""Edges a careless or hostile client finds (issue 13, finding 12): integers past the
database's range, a retry written in another UTC offset, If-Match that names no version,
over-long URLs and headers, and the JSON codec the PostgreSQL driver is given."""

from __future__ import annotations

import logging

import pytest

from corrections.supervision.models import SupervisionEvent
from tests.conftest import count_rows
from tests.procedures.support import announcement_payload
from tests.supervision.conftest import event

BIGINT_MAX = 2**63 - 1


def _problem(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    assert "<html" not in resp.get_data(as_text=True).lower()
    return resp.get_json()


# --- integers past BIGINT -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [str(BIGINT_MAX + 1), str(-(2**63) - 1), str(2**64), '"' + "9" * 30 + '"']
)
def test_finding_12_an_integer_out_of_range_is_422_naming_the_field(app, officer, active, value):
    person = active()
    body = '{"type": "note", "occurred_at": "2026-11-27T01:00:00Z", "corrects_id": ' + value + "}"
    resp = officer.post(
        f"/api/v1/persons/{person['id']}/events",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    problem = _problem(resp, 422)
    assert list(problem["errors"]) == ["corrects_id"], problem
    assert count_rows(app, SupervisionEvent) == 0


def test_finding_12_an_integer_out_of_range_inside_a_payload_is_named(officer, active):
    person = active()
    resp = event(
        officer,
        person["id"],
        "admonition",
        payload={
            "legal_ground": "《社区矫正法实施办法》第三十四条",
            "evidence_event_ids": [BIGINT_MAX + 1],
            "document_number": "东司矫〔2026〕12号",
        },
    )
    body = _problem(resp, 422)
    assert "payload.evidence_event_ids" in body["errors"], body


def test_the_largest_bigint_passes_the_edge(officer, active):
    """The bound is the database's, not a smaller one: the largest id is an unknown event."""
    person = active()
    resp = event(officer, person["id"], "note", corrects_id=BIGINT_MAX)
    assert _problem(resp, 422)["errors"] == {"corrects_id": ["该人员没有这个事件"]}


# --- idempotent retry in another UTC offset ----------------------------------------------


def test_finding_12_a_retry_with_the_same_instant_in_another_offset_replays(app, officer, active):
    person = active()
    headers = {"Idempotency-Key": "tablet-3:offsets"}
    first = event(officer, person["id"], "report", "2026-11-27T01:00:00Z", headers=headers)
    again = event(officer, person["id"], "report", "2026-11-27T09:00:00+08:00", headers=headers)
    assert first.status_code == 201, first.get_json()
    assert again.status_code == 200, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    other = event(officer, person["id"], "report", "2026-11-27T09:00:01+08:00", headers=headers)
    assert other.status_code == 409
    assert count_rows(app, SupervisionEvent) == 1


# --- If-Match ------------------------------------------------------------------------------


def _person_url(intake) -> str:
    return f"/api/v1/persons/{intake()['id']}"


def test_finding_12_if_match_star_is_428_not_412(officer, intake):
    """``*`` matches any current version (RFC 9110 13.1.1), so it cannot protect against a
    lost update, which is why the update requires a precondition (RFC 6585 3): 428."""
    url = _person_url(intake)
    body = _problem(
        officer.patch(url, json={"phone": "13900000000"}, headers={"If-Match": "*"}), 428
    )
    assert "If-Match" in body["detail"]
    assert officer.get(url).get_json()["phone"] != "13900000000"


@pytest.mark.parametrize(
    "value", ["abc", "1", '"1', "W/1", '"1" "2"', 'W/ "1"', '"1", x', "", '"1", "2"']
)
def test_finding_12_a_malformed_if_match_is_400_naming_the_header(officer, intake, value):
    url = _person_url(intake)
    body = _problem(
        officer.patch(url, json={"phone": "13900000000"}, headers={"If-Match": value}), 400
    )
    assert "If-Match" in body["errors"], body
    assert officer.get(url).get_json()["phone"] != "13900000000"


@pytest.mark.parametrize("value", ['"7"', '"abc"', '"²"', '"1.1"'])
def test_a_well_formed_if_match_naming_no_version_is_412(officer, intake, value):
    url = _person_url(intake)
    _problem(officer.patch(url, json={"phone": "13900000000"}, headers={"If-Match": value}), 412)


def test_the_current_etag_matches_and_a_weak_one_never_does(officer, intake):
    """If-Match uses the strong comparison (RFC 9110, 13.1.1): W/"2" is not "2"."""
    url = _person_url(intake)
    resp = officer.patch(url, json={"phone": "13900000000"}, headers={"If-Match": ' "1" '})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"2"'
    _problem(officer.patch(url, json={"phone": "13911111111"}, headers={"If-Match": 'W/"2"'}), 412)
    assert officer.get(url).headers["ETag"] == '"2"'


def test_finding_12_procedures_if_match_star_and_malformed(officer, active):
    person = active()
    base = f"/api/v1/persons/{person['id']}/announcements"
    created = officer.post(base, json=announcement_payload())
    assert created.status_code == 201, created.get_json()
    url = f"{base}/{created.get_json()['id']}"
    change = {"notes": "补充：已签署宣告书"}
    _problem(officer.patch(url, json=change, headers={"If-Match": "*"}), 428)
    body = _problem(officer.patch(url, json=change, headers={"If-Match": "abc"}), 400)
    assert "If-Match" in body["errors"]
    ok = officer.patch(url, json=change, headers={"If-Match": created.headers["ETag"]})
    assert ok.status_code == 200, ok.get_json()


# --- URL and header limits ---------------------------------------------------------------


def test_finding_12_an_over_long_url_is_414_problem_json(app, client):
    limit = app.config["MAX_URL_BYTES"]
    body = _problem(client.get("/healthz?pad=" + "a" * limit), 414)
    assert body["request_id"]
    assert client.get("/healthz?pad=" + "a" * (limit - 100)).status_code == 200


def test_finding_12_an_over_large_header_is_431_problem_json_naming_it(app, client):
    limit = app.config["MAX_HEADER_FIELD_BYTES"]
    resp = client.get("/healthz", headers={"X-Padding": "a" * limit})
    body = _problem(resp, 431)
    assert "X-Padding" in body["errors"]
    many = {f"X-Extra-{i}": "1" for i in range(app.config["MAX_HEADER_FIELDS"] + 1)}
    _problem(client.get("/healthz", headers=many), 431)
    assert client.get("/healthz", headers={"X-Padding": "a" * 100}).status_code == 200


# --- the JSON codec handed to psycopg ----------------------------------------------------


def test_finding_12_json_codec_registers_without_psycopg_leak_warning(app, caplog):
    """psycopg caches one dumper per function; a closure defeats the cache (a new class per
    connection) and it logs a warning at every connect. The functions must be plain."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg.adapt import AdaptersMap
    from psycopg.types.json import set_json_dumps, set_json_loads

    from corrections.config import engine_options

    options = engine_options(app.config)
    with caplog.at_level(logging.WARNING, logger="psycopg"):
        for _ in range(2):
            adapters = AdaptersMap(psycopg.adapters)
            set_json_dumps(options["json_serializer"], adapters)
            set_json_loads(options["json_deserializer"], adapters)
    assert not [r for r in caplog.records if "closure" in r.getMessage()]
    assert options["json_serializer"]({"a": "中"}) == '{"a":"中"}'
