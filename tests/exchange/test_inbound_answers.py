"""Documents partners send in that answer or oversee the bureau: a court's ruling on a
revocation proposal we sent it (recorded on the proposal once, the district alerted to act),
a procuratorate's 纠正意见 sent by its own system (filed with its reply clock, in the
commanders' queue); and every inbound type's published JSON Schema accepts what we accept."""

from __future__ import annotations

import uuid

import jsonschema
import pytest
from sqlalchemy import select

from corrections.alerts.models import Alert
from corrections.core.db import db
from corrections.incidents.models import IncidentProposal
from tests.factories import person_payload
from tests.supervision.conftest import event
from tests.support.agencies import agency_accounts, envelope

RULING = "cn.gov.court.revocation.ruling"
OPINION = "cn.gov.procuratorate.opinion.issued"
CHECKER = jsonschema.Draft202012Validator


@pytest.fixture
def senders(app, client):
    """The 东城 court and procuratorate's systems, the 西城 court's: one partner account each."""
    return agency_accounts(
        app,
        client,
        [
            ("dc-fy", "court", "329901"),
            ("dc-jcy", "procuratorate", "329901"),
            ("xc-fy", "court", "329902"),
        ],
    )


def _sent_to_court(login, active, court):
    """A revocation the office proposed and the district accepted: the court's message id."""
    officer = login("officer-dongcheng-1")
    person = active(officer)
    report = event(officer, person["id"], "report").get_json()["id"]
    proposal = officer.post(
        f"/api/v1/persons/{person['id']}/proposals",
        json={
            "kind": "revocation",
            "ground": "revocation.two_warnings",
            "facts": "两次警告后仍违反监督管理规定",
            "event_ids": [report],
        },
    ).get_json()
    decided = login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/proposals/{proposal['id']}",
        json={
            "decision": "accepted",
            "note": "同意提请",
            "statement": "本人无异议",
            "document_number": "东司矫建〔2026〕5号",
        },
    )
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["decision_document_number"] == "东司矫建〔2026〕5号"
    feed = court.get("/api/v1/exchange/feed").get_json()["items"]
    (sent,) = [m for m in feed if m["type"].endswith("revocation.proposed")]
    # The court gets the 建议书's number with the proposal.
    assert sent["data"]["decision"]["document_number"] == "东司矫建〔2026〕5号"
    return person, proposal, sent


def _ruling(in_reply_to, **overrides):
    data = {
        "in_reply_to": in_reply_to,
        "ruling": "granted",
        "ruled_on": "2026-11-27",
        "document_number": "(2026)东刑执字第12号",
        **overrides,
    }
    return data


def test_a_courts_ruling_on_our_proposal_is_recorded_once_and_the_district_alerted(
    app, login, active, senders
):
    court = senders["dc-fy"]
    person, proposal, sent = _sent_to_court(login, active, court)
    body = envelope(RULING, _ruling(sent["id"]))
    first = court.post("/api/v1/exchange/inbound", json=body)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["result"] == {
        "proposal_id": proposal["id"],
        "kind": "revocation",
        "ruling": "granted",
        "document_number": "(2026)东刑执字第12号",
    }
    replay = court.post("/api/v1/exchange/inbound", json=body)
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    # A second ruling on the same proposal, under another id: 409, nothing changed.
    again = court.post(
        "/api/v1/exchange/inbound", json=envelope(RULING, _ruling(sent["id"], ruling="refused"))
    )
    assert again.status_code == 409 and "data.in_reply_to" in again.get_json()["errors"]
    with app.app_context():
        stored = db.session.get(IncidentProposal, proposal["id"])
        assert (stored.court_ruling, str(stored.court_ruled_on)) == ("granted", "2026-11-27")
        alerts = db.session.scalars(select(Alert).where(Alert.kind == "court_ruling")).all()
        assert [(a.person_id, a.subject_id, a.raised_by) for a in alerts] == [
            (person["id"], proposal["id"], "p-dc-fy")
        ]
        db.session.remove()
    # The proposal shows the ruling; the district commander's alert list, what the court ruled.
    commander = login("commander-dongcheng")
    shown = commander.get(f"/api/v1/persons/{person['id']}/proposals").get_json()
    (mine,) = [p for p in shown if p["id"] == proposal["id"]]
    assert (mine["court_ruling"], mine["court_ruled_on"]) == ("granted", "2026-11-27")
    listed = login("commander-dongcheng").get("/api/v1/alerts?kind=court_ruling").get_json()
    (item,) = listed["items"]
    assert item["detail"]["ruling"] == "granted" and item["person_id"] == person["id"]


def test_a_ruling_answers_only_a_proposal_sent_to_that_court(app, login, active, senders):
    court, other = senders["dc-fy"], senders["xc-fy"]
    _person, proposal, sent = _sent_to_court(login, active, court)
    cases = [
        # Another court was never sent it: as if it did not exist.
        (other, _ruling(sent["id"]), "data.in_reply_to"),
        (court, _ruling(str(uuid.uuid4())), "data.in_reply_to"),
        (court, _ruling(sent["id"], ruling="maybe"), "data.ruling"),
        (court, _ruling(sent["id"], ruled_on="2026-12-30"), "data.ruled_on"),
        (court, _ruling(sent["id"], ruled_on="2026-01-01"), "data.ruled_on"),
        (court, {**_ruling(sent["id"]), "person": {"ref": "1"}}, "data.person"),
    ]
    for api, data, field in cases:
        resp = api.post("/api/v1/exchange/inbound", json=envelope(RULING, data))
        assert resp.status_code == 422, (data, resp.get_json())
        assert field in resp.get_json()["errors"], (data, resp.get_json())
    # A procuratorate does not send court rulings.
    resp = senders["dc-jcy"].post(
        "/api/v1/exchange/inbound", json=envelope(RULING, _ruling(sent["id"]))
    )
    assert resp.status_code == 422 and "type" in resp.get_json()["errors"]
    with app.app_context():
        assert db.session.get(IncidentProposal, proposal["id"]).court_ruling is None
        assert db.session.scalar(select(Alert.id).where(Alert.kind == "court_ruling")) is None
        db.session.remove()


def _opinion(**overrides):
    return {
        "kind": "correction_opinion",
        "document_number": "东检矫纠〔2026〕3号",
        "issued_on": "2026-11-26",
        "district_code": "329901",
        "content": "未按规定开展实地查访，请予纠正。",
        **overrides,
    }


def test_a_procuratorates_opinion_sent_in_is_queued_with_its_clock_once(
    app, login, active, senders
):
    procuratorate = senders["dc-jcy"]
    id_number = person_payload()["id_number"]
    person = active(id_number=id_number)
    body = envelope(OPINION, _opinion(office_code="32990101", person={"id_number": id_number}))
    first = procuratorate.post("/api/v1/exchange/inbound", json=body)
    assert first.status_code == 201, first.get_json()
    result = first.get_json()["result"]
    # 15 days from today's receipt (2026-11-27), the first day not counted.
    assert result["reply_due_on"] == "2026-12-12"
    assert first.get_json()["person_ref"] == str(person["id"])
    assert procuratorate.post("/api/v1/exchange/inbound", json=body).status_code == 200
    queue = login("commander-dongcheng").get("/api/v1/oversight/opinions?status=open").get_json()
    (item,) = queue["items"]
    assert item["id"] == result["opinion_id"] and item["days_left"] == 15
    assert item["person"]["id"] == person["id"]
    # The commander's written reply goes back to the procuratorate that sent the opinion.
    replied = login("commander-dongcheng").post(
        f"/api/v1/oversight/opinions/{item['id']}/reply", json={"reply": "已组织实地查访并整改。"}
    )
    assert replied.status_code == 200, replied.get_json()
    feed = procuratorate.get("/api/v1/exchange/feed").get_json()["items"]
    (answer,) = [m for m in feed if m["type"] == "cn.corrections.oversight.reply.sent"]
    assert answer["data"]["opinion"]["document_number"] == "东检矫纠〔2026〕3号"
    assert answer["data"]["opinion"]["reply"] == "已组织实地查访并整改。"
    assert answer["data"]["opinion"]["late"] is False
    assert answer["data"]["person"]["ref"] == str(person["id"])
    # Outside its jurisdiction, or a court sending one: refused, nothing filed.
    elsewhere = procuratorate.post(
        "/api/v1/exchange/inbound",
        json=envelope(OPINION, _opinion(district_code="329902", document_number="东检2")),
    )
    assert elsewhere.status_code == 422 and "data.district_code" in elsewhere.get_json()["errors"]
    court = senders["dc-fy"].post("/api/v1/exchange/inbound", json=envelope(OPINION, _opinion()))
    assert court.status_code == 422 and "type" in court.get_json()["errors"]
    assert len(login("city").get("/api/v1/oversight/opinions").get_json()["items"]) == 1


def test_every_inbound_types_schema_accepts_what_the_service_accepts(login, senders):
    api = login("city")
    catalogue = api.get("/api/v1/exchange/schemas").get_json()
    inbound = {e["type"]: e for e in catalogue if e["direction"] == "inbound"}
    assert set(inbound) >= {RULING, OPINION, "cn.gov.court.judgment.notice"}
    samples = {
        RULING: _ruling(str(uuid.uuid4())),
        OPINION: _opinion(person={"ref": "12"}),
        "cn.gov.court.judgment.notice": {
            **person_payload(office_code="32990101"),
            "document_number": "(2026)东刑初字第88号",
        },
        "cn.gov.police.detention.notice": {
            "person": {"ref": "12"},
            "kind": "criminal_detention",
            "start_date": "2026-11-20",
            "authority": "东城公安分局",
        },
    }
    for type_, entry in inbound.items():
        schema = api.get(entry["schema"]).get_json()
        CHECKER.check_schema(schema)
        checker = CHECKER(schema, format_checker=CHECKER.FORMAT_CHECKER)
        good = envelope(type_, samples[type_])
        assert not list(checker.iter_errors(good)), (type_, list(checker.iter_errors(good)))
        # A field we refuse is refused by the schema too.
        bad = envelope(type_, {**samples[type_], "unexpected": 1})
        assert list(checker.iter_errors(bad)), type_
