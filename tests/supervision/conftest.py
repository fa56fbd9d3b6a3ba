from __future__ import annotations

import pytest

from tests.factories import person_payload


@pytest.fixture
def active(officer):
    """An activated (reported for intake) person of officer-dongcheng-1, grade tight."""

    def _active(api=None, **overrides):
        api = api or officer
        resp = api.post("/api/v1/persons", json=person_payload(**overrides))
        assert resp.status_code == 201, resp.get_json()
        person = resp.get_json()
        done = api.post(
            f"/api/v1/persons/{person['id']}/status-changes",
            json={"to_status": "active", "reason": "按期报到"},
        )
        assert done.status_code == 201, done.get_json()
        return person

    return _active


def event(api, person_id, type_, occurred_at="2026-11-27T01:00:00Z", headers=None, **fields):
    body = {"type": type_, "occurred_at": occurred_at, **fields}
    return api.post(f"/api/v1/persons/{person_id}/events", json=body, headers=headers)


def obligations(api, person_id, **query):
    resp = api.get(f"/api/v1/persons/{person_id}/obligations", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def sanction(kind, evidence):
    return {
        "legal_ground": "《社区矫正法实施办法》第三十五条",
        "evidence_event_ids": evidence,
        "document_number": "东司矫〔2026〕12号",
    }
