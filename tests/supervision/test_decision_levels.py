"""Who decides what (issue 14 findings 4 and 5), named after the article: sanctions and
commendations by the district, the police penalty proposed to the police, electronic monitoring
by the head of the district bureau, a correction at the level of what it corrects."""

from __future__ import annotations

from tests.supervision.conftest import event, sanction

LONG_AGO = {
    "judgment_date": "2026-03-20",
    "judgment_effective_date": "2026-03-31",
    "term_start": "2026-04-01",
}


def _evidence(officer, person_id):
    return event(officer, person_id, "note").get_json()["id"]


def test_shishi_banfa_35_an_officer_cannot_record_a_warning(officer, active):
    person = active()
    e = _evidence(officer, person["id"])
    refused = event(officer, person["id"], "warning", payload=sanction("warning", [e]))
    assert refused.status_code == 403
    assert "实施办法 35" in refused.get_json()["detail"]


def test_shishi_banfa_33_a_commendation_is_the_districts(login, officer, active):
    person = active(**LONG_AGO)
    body = {"reason": "见义勇为"}
    refused = event(officer, person["id"], "commendation", payload=body)
    assert refused.status_code == 403 and "实施办法 33" in refused.get_json()["detail"]
    ok = event(login("commander-dongcheng"), person["id"], "commendation", payload=body)
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["sanction"]["decider_level"] == "district"


def test_law_28_a_commendation_needs_6_months_under_supervision(login, active):
    person = active()  # supervised since 2026-11-01
    resp = event(
        login("commander-dongcheng"), person["id"], "commendation", payload={"reason": "表现突出"}
    )
    assert resp.status_code == 422 and "type" in resp.get_json()["errors"]


def test_law_28_a_commendation_needs_6_months_without_sanction(login, officer, active):
    person = active(**LONG_AGO)
    commander = login("commander-dongcheng")
    e = _evidence(officer, person["id"])
    assert (
        event(
            commander,
            person["id"],
            "admonition",
            occurred_at="2026-08-01T01:00:00Z",
            payload=sanction("admonition", [e]),
        ).status_code
        == 201
    )
    resp = event(commander, person["id"], "commendation", payload={"reason": "表现突出"})
    assert resp.status_code == 422 and "2026-08-01" in str(resp.get_json()["errors"])


def test_shishi_banfa_36_the_police_penalty_is_proposed_then_decided_by_the_police(
    login, officer, active
):
    person = active()
    commander = login("commander-dongcheng")
    e = _evidence(officer, person["id"])
    # No police decision without the agency's proposal.
    orphan = event(
        commander,
        person["id"],
        "police_penalty",
        payload=sanction("police_penalty", [e]) | {"proposal_event_id": e},
    )
    assert orphan.status_code == 422 and "payload.proposal_event_id" in orphan.get_json()["errors"]
    proposal = event(
        commander, person["id"], "police_penalty_proposal", payload=sanction("x", [e])
    ).get_json()
    assert proposal["sanction"]["notify_procuratorate"] is True
    # A proposal is not a penalty: the grade does not move.
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "tight"
    decided = event(
        commander,
        person["id"],
        "police_penalty",
        payload=sanction("police_penalty", [e])
        | {"proposal_event_id": proposal["id"], "document_number": "城公（治）决字〔2026〕88号"},
    )
    assert decided.status_code == 201, decided.get_json()
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "strict"


def test_law_29_monitoring_needs_the_head_of_the_district_bureau(app, login, active, monkeypatch):
    person = active()
    body = {
        "ground": "violated_prohibition_order",
        "start_date": "2026-11-27",
        "end_date": "2027-01-26",
    }
    url = f"/api/v1/persons/{person['id']}/monitoring"
    monkeypatch.setitem(app.config, "DISTRICT_HEADS", [])
    refused = login("commander-dongcheng").post(url, json=body)
    assert refused.status_code == 403 and "社区矫正法 29" in refused.get_json()["detail"]
    monkeypatch.setitem(app.config, "DISTRICT_HEADS", ["commander-dongcheng"])
    assert login("commander-dongcheng").post(url, json=body).status_code == 201


def test_shishi_banfa_35_a_correction_of_a_warning_needs_the_district(login, officer, active):
    person = active()
    commander = login("commander-dongcheng")
    e = _evidence(officer, person["id"])
    warning = event(commander, person["id"], "warning", payload=sanction("warning", [e])).get_json()
    fix = {"corrects_id": warning["id"], "payload": sanction("warning", [e])}
    assert event(officer, person["id"], "warning", **fix).status_code == 403
    ok = event(commander, person["id"], "warning", **fix)
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["sanction"]["decider_level"] == "district"
