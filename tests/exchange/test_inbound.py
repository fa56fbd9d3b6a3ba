"""Documents partners send in (POST /api/v1/exchange/inbound): a court's judgment notice
creates the intake record with its 10-day clock, a police notice of detention starts the
pause; each checked like the staff's forms, idempotent on the sender's id, audited, and only
from the agency kind the rules name, for persons in its jurisdiction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.persons.models import Person
from corrections.supervision.models import Detention
from tests.factories import person_payload
from tests.support.agencies import agency_accounts, envelope


@pytest.fixture
def senders(app, client):
    """The 东城 court and police, the 西城 police: one partner account each, signed in."""
    return agency_accounts(
        app,
        client,
        [
            ("dc-fy", "court", "329901"),
            ("dc-gaj", "police", "329901"),
            ("xc-gaj", "police", "329902"),
        ],
    )


JUDGMENT = "cn.gov.court.judgment.notice"
DETENTION = "cn.gov.police.detention.notice"


def _judgment_data(**overrides):
    data = person_payload(office_code="32990101", document_number="(2026)东刑初字第88号")
    data.update(overrides)
    return data


def test_a_court_judgment_notice_opens_the_intake_once(app, senders):
    body = envelope(JUDGMENT, _judgment_data())
    first = senders["dc-fy"].post("/api/v1/exchange/inbound", json=body)
    assert first.status_code == 201, first.get_json()
    replay = senders["dc-fy"].post("/api/v1/exchange/inbound", json=body)
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    ref = int(first.get_json()["person_ref"])
    # The court lists what it sent in that was taken; another agency sees none of it.
    listed = senders["dc-fy"].get("/api/v1/exchange/inbound").get_json()
    assert [i["id"] for i in listed["items"]] == [body["id"]] and listed["total"] == 1
    assert listed["items"][0] == first.get_json()
    assert senders["dc-gaj"].get("/api/v1/exchange/inbound").get_json()["items"] == []
    # The judgment took effect on 2026-10-31: the person must report within 10 days.
    assert first.get_json()["result"] == {
        "intake_deadline": "2026-11-10",
        "document_number": "(2026)东刑初字第88号",
    }
    # The sender's id is taken exactly: with a trailing newline it is refused, not a second id.
    newline = {**body, "id": body["id"] + "\n"}
    assert senders["dc-fy"].post("/api/v1/exchange/inbound", json=newline).status_code == 422
    with app.app_context():
        person = db.session.get(Person, ref)
        assert (person.status, person.name) == ("pending_intake", "张伟")
        assert db.session.scalar(select(func.count()).select_from(Person)) == 1
        audited = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "exchange.inbound")
        )
        assert audited.actor_username == "p-dc-fy" and audited.subject_id == str(ref)
        db.session.remove()


def test_bad_documents_are_refused_naming_the_field_and_change_nothing(app, senders):
    court, police = senders["dc-fy"], senders["dc-gaj"]
    cases = [
        (
            court,
            envelope(JUDGMENT, _judgment_data(id_number="329901199005171230")),
            "data.id_number",
        ),
        (court, envelope(JUDGMENT, _judgment_data(office_code="32990201")), "data.office_code"),
        (court, envelope(JUDGMENT, {**_judgment_data(), "hobby": "x"}), "data.hobby"),
        (police, envelope(JUDGMENT, _judgment_data()), "type"),  # not the police's to send
        (court, {**envelope(JUDGMENT, _judgment_data()), "specversion": "0.3"}, "specversion"),
    ]
    for api, body, field in cases:
        resp = api.post("/api/v1/exchange/inbound", json=body)
        assert resp.status_code == 422, (field, resp.get_json())
        assert field in str(resp.get_json()["errors"]), (field, resp.get_json())
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Person)) == 0
        db.session.remove()


def test_a_police_detention_notice_starts_the_pause_in_its_jurisdiction_only(app, active, senders):
    person = active()
    data = {
        "person": {"id_number": person["id_number"]},
        "kind": "administrative_detention",
        "start_date": "2026-11-26",
        "authority": "东城公安分局",
        "document_number": "东公拘字〔2026〕7号",
    }
    far = senders["xc-gaj"].post("/api/v1/exchange/inbound", json=envelope(DETENTION, data))
    assert far.status_code == 404  # another district's police learn nothing
    resp = senders["dc-gaj"].post("/api/v1/exchange/inbound", json=envelope(DETENTION, data))
    assert resp.status_code == 201, resp.get_json()
    with app.app_context():
        held = db.session.scalar(select(Detention))
        assert (held.person_id, held.recorded_by) == (person["id"], "p-dc-gaj")
        db.session.remove()


def test_a_detention_notice_names_the_person_one_way_and_by_a_ref_it_was_given(
    app, active, senders
):
    """Both ways at once is refused (which would it be?); a ``ref`` the agency was never sent
    is not found, like a person elsewhere: refs are not a way to try persons one by one."""
    person = active()
    base = {
        "kind": "administrative_detention",
        "start_date": "2026-11-26",
        "authority": "东城公安分局",
    }
    both = {**base, "person": {"ref": str(person["id"]), "id_number": person["id_number"]}}
    resp = senders["dc-gaj"].post("/api/v1/exchange/inbound", json=envelope(DETENTION, both))
    assert resp.status_code == 422 and "data.person.ref" in resp.get_json()["errors"]
    by_ref = {**base, "person": {"ref": str(person["id"])}}
    resp = senders["dc-gaj"].post("/api/v1/exchange/inbound", json=envelope(DETENTION, by_ref))
    assert resp.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Detention)) == 0
        db.session.remove()


def test_a_courts_accounts_share_one_allowance_of_refused_judgment_notices(
    app, client, senders, monkeypatch
):
    """A notice for someone already under correction is refused (409): the answer says whether
    an ID number is under correction, so refused documents are capped per day
    (EXCHANGE_REFUSALS_PER_DAY), for the agency as a whole (a second account of the same court
    is not a second allowance)."""
    from corrections.core.auth import SYSTEM
    from corrections.exchange import service
    from corrections.org.service import hash_password
    from tests.conftest import Api
    from tests.support.agencies import PASSWORD

    monkeypatch.setitem(app.config, "EXCHANGE_REFUSALS_PER_DAY", 2)
    with app.app_context():
        user = service.create_partner(
            db.session, username="p-dc-fy-2", agency_code="dc-fy", actor=SYSTEM
        )
        user.password_hash = hash_password(PASSWORD)
        db.session.commit()
        db.session.remove()
    token = client.post("/api/v1/auth/token", json={"username": "p-dc-fy-2", "password": PASSWORD})
    second = Api(client, token.get_json()["access_token"], "p-dc-fy-2")
    court = senders["dc-fy"]
    data = _judgment_data()
    assert court.post("/api/v1/exchange/inbound", json=envelope(JUDGMENT, data)).status_code == 201
    for _ in range(2):
        resp = court.post("/api/v1/exchange/inbound", json=envelope(JUDGMENT, data))
        assert resp.status_code == 409, resp.get_json()
    refused = second.post("/api/v1/exchange/inbound", json=envelope(JUDGMENT, data))
    assert refused.status_code == 429, refused.get_json()


def test_a_refused_detention_notice_says_only_which_field_and_counts_against_the_agency(
    app, active, senders, monkeypatch
):
    """A police notice naming a juvenile by ID number with a start before the judgment took
    effect: the answer names the field and quotes nothing of the case (not its judgment
    date); the refusal is audited on the case, as a juvenile's; refusals are capped."""
    from tests.factories import juvenile_payload

    monkeypatch.setitem(app.config, "EXCHANGE_REFUSALS_PER_DAY", 2)
    payload = juvenile_payload()
    person = active(**payload)
    data = {
        "person": {"id_number": payload["id_number"]},
        "kind": "administrative_detention",
        "start_date": "2020-01-01",
        "authority": "东城公安分局",
    }
    police = senders["dc-gaj"]
    resp = police.post("/api/v1/exchange/inbound", json=envelope(DETENTION, data))
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert list(body["errors"]) == ["data.start_date"]
    assert body["errors"]["data.start_date"] == ["与案件不符"]
    assert "2026" not in str(body)  # no date of the case
    unknown = {**data, "person": {"id_number": "110101199001011237"}}
    assert (
        police.post("/api/v1/exchange/inbound", json=envelope(DETENTION, unknown)).status_code
        == 404
    )
    # Two refusals today: the agency's next document is 429, however good.
    good = {**data, "start_date": "2026-11-26"}
    assert (
        police.post("/api/v1/exchange/inbound", json=envelope(DETENTION, good)).status_code == 429
    )
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "exchange.inbound_refused")
            .order_by(AuditEntry.id)
        ).all()
        assert [(r.subject_id, r.juvenile) for r in rows] == [
            (str(person["id"]), True),
            (None, False),
        ]
        assert db.session.scalar(select(func.count()).select_from(Detention)) == 0
        db.session.remove()


def test_a_refused_notice_about_a_found_case_is_one_status_whatever_the_reason(
    app, active, senders
):
    """Once the notice found its case, every refusal is the same 422: a 409 (already held)
    beside a 422 (before the judgment) would tell the case's dates by the status alone."""
    person = active()
    data = {
        "person": {"id_number": person["id_number"]},
        "kind": "administrative_detention",
        "start_date": "2026-11-20",
        "authority": "东城公安分局",
    }
    police = senders["dc-gaj"]
    first = police.post("/api/v1/exchange/inbound", json=envelope(DETENTION, data))
    assert first.status_code == 201, first.get_json()
    overlapping = police.post(
        "/api/v1/exchange/inbound", json=envelope(DETENTION, {**data, "start_date": "2026-11-21"})
    )
    before = police.post(
        "/api/v1/exchange/inbound", json=envelope(DETENTION, {**data, "start_date": "2020-01-01"})
    )
    assert (overlapping.status_code, before.status_code) == (422, 422)
    assert overlapping.get_json()["detail"] == before.get_json()["detail"]
