from __future__ import annotations


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
