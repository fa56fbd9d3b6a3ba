"""Every error is problem+json; bad input changes nothing."""

from __future__ import annotations

import pytest

from corrections.persons.models import Person
from tests.conftest import count_rows
from tests.factories import person_payload


def _is_problem(resp, status):
    assert resp.status_code == status
    assert resp.content_type == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    assert "<html" not in resp.get_data(as_text=True).lower()
    return body


def test_unknown_route_is_404_problem(client):
    body = _is_problem(client.get("/api/v1/no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"


def test_wrong_method_is_405_problem_with_allow(client):
    resp = client.put("/api/v1/persons")
    _is_problem(resp, 405)
    assert "GET" in resp.headers["Allow"]


def test_malformed_json_is_400_and_changes_nothing(app, officer):
    resp = officer.post(
        "/api/v1/persons", data="{not json", headers={"Content-Type": "application/json"}
    )
    _is_problem(resp, 400)
    assert count_rows(app, Person) == 0


def test_body_over_the_limit_is_413(app, officer):
    payload = person_payload(address="x" * (app.config["MAX_CONTENT_LENGTH"] + 10))
    _is_problem(officer.post("/api/v1/persons", json=payload), 413)
    assert count_rows(app, Person) == 0


def test_validation_error_names_fields(officer):
    body = _is_problem(officer.post("/api/v1/persons", json={"gender": "x"}), 422)
    assert "gender" in body["errors"] and "name" in body["errors"]


def test_bad_query_parameter_is_named(officer):
    body = _is_problem(officer.get("/api/v1/persons?page=zero"), 422)
    assert "query.page" in body["errors"]


def test_non_object_json_body_is_422(officer):
    _is_problem(officer.post("/api/v1/persons", json=[1, 2, 3]), 422)


def test_unexpected_crash_is_a_500_problem_without_a_trace(monkeypatch, officer, caplog):
    from corrections.persons import service

    personal = "张伟 " + "3201011990" + "01011234"

    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail " + personal)

    monkeypatch.setattr(service, "list_persons", boom)
    resp = officer.get("/api/v1/persons")
    body = _is_problem(resp, 500)
    assert "secret internal detail" not in resp.get_data(as_text=True)
    assert "Traceback" not in resp.get_data(as_text=True)
    assert body["detail"] == "服务器未能完成请求。"
    # Logged for operators with its traceback, but not the message (it may quote personal data).
    assert "RuntimeError" in caplog.text and "boom" in caplog.text
    assert "张伟" not in caplog.text and "320101199001011234" not in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/persons/abc",
        "/api/v1/persons/-1",
        "/api/v1/persons/0",
        "/api/v1/persons/233308250971580268544",  # beyond BIGINT: found by the API fuzzer
        "/api/v1/persons/233308250971580268544/status-changes",
    ],
)
def test_bad_id_in_path_is_404(officer, path):
    _is_problem(officer.get(path), 404)


def test_request_id_is_the_servers_and_the_clients_is_echoed_apart(client):
    # Issue 12 finding 10: a client's X-Request-ID is its reference, never our request id.
    resp = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] != "abc-123" and len(resp.headers["X-Request-ID"]) == 32
    assert resp.headers["X-Client-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["X-Request-ID"] != "bad id with spaces"
    assert len(generated.headers["X-Request-ID"]) == 32
    assert "X-Client-Request-ID" not in generated.headers


def test_control_characters_are_refused_at_the_edge(app, officer):
    resp = officer.post("/api/v1/persons", json=person_payload(name="张\x00伟"))
    assert _is_problem(resp, 422)["errors"]["name"] == ["不能包含控制字符。"]
    assert count_rows(app, Person) == 0
    assert "query.office" in _is_problem(officer.get("/api/v1/persons?office=a%00b"), 422)["errors"]
