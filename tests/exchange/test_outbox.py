"""The exchange's outbox, feed and receipts (issue 15): a decision writes its messages in its
own transaction, one per receiver the rules name, each with only the fields that receiver is
given (a juvenile's: the minimum); a partner reads its own feed only, acknowledges each
message once; a message with no agency yet is kept and routed when one is added; an overdue
receipt raises an alert."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest
from sqlalchemy import func, select

from corrections.alerts.models import Alert
from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.exchange import rules as exchange_rules
from corrections.exchange import service
from corrections.exchange.models import OutboxMessage
from corrections.persons.models import Person
from tests.factories import juvenile_payload
from tests.supervision.conftest import event, sanction
from tests.support.agencies import agency_accounts


@pytest.fixture
def partners(app, client):
    """The 东城 procuratorate and police, and the 西城 procuratorate, each with one partner
    account signed in; returns {name: api}."""
    return agency_accounts(
        app,
        client,
        [
            ("dc-jcy", "procuratorate", "329901"),
            ("dc-gaj", "police", "329901"),
            ("xc-jcy", "procuratorate", "329902"),
        ],
    )


def _warning(login, person_id):
    officer, commander = login("officer-dongcheng-1"), login("commander-dongcheng")
    report = event(officer, person_id, "report").get_json()["id"]
    resp = event(commander, person_id, "warning", payload=sanction("warning", [report]))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _feed(api, after=0):
    resp = api.get("/api/v1/exchange/feed", query_string={"after": after})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_warning_writes_one_message_per_receiver_with_only_their_fields(
    app, login, active, partners
):
    person = active()
    warning = _warning(login, person["id"])
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert [(r.type, r.receiver_kind, r.state) for r in rows] == [
            ("cn.corrections.sanction.warning.decided", "procuratorate", "pending")
        ]
        db.session.remove()
    feed = _feed(partners["dc-jcy"])
    (message,) = feed["items"]
    assert message["specversion"] == "1.0" and message["subject"] == f"person/{person['id']}"
    data = message["data"]
    assert data["person"]["name"] == "张伟" and data["person"]["id_number"] == person["id_number"]
    assert data["decision"]["kind"] == "warning"
    assert data["decision"]["document_number"] == "东司矫〔2026〕12号"
    assert message["documenthash"].startswith("sha256:")
    assert message["receipt"]["state"] == "waiting" and feed["next_after"] == message["sequence"]
    # Nothing beyond the rules' fields (no address, no phone).
    with app.app_context():
        allowed = set(
            exchange_rules.current().messages["sanction.warning.decided"].receivers[0].fields
        )
    sent = {f"{group}.{name}" for group, values in data.items() for name in values}
    assert sent <= allowed and "person.address" not in sent
    # Valid against the published schema.
    schema = partners["dc-jcy"].get(message["dataschema"]).get_json()
    jsonschema.validate(message, schema)
    assert warning["type"] == "warning"
    # The other district's procuratorate and the police (not a receiver of a warning) see
    # nothing; the read was audited with the person.
    assert _feed(partners["xc-jcy"])["items"] == []
    assert _feed(partners["dc-gaj"])["items"] == []
    with app.app_context():
        audited = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "exchange.feed")
        ).all()
        assert [(a.subject_type, a.subject_ids) for a in audited] == [
            ("agency", f",{person['id']},")
        ]
        db.session.remove()


def test_a_receipt_is_once_per_message_and_only_for_your_own(app, login, active, partners):
    person = active()
    _warning(login, person["id"])
    (message,) = _feed(partners["dc-jcy"])["items"]
    body = {"id": message["id"], "status": "received"}
    assert partners["xc-jcy"].post("/api/v1/exchange/receipts", json=body).status_code == 404
    first = partners["dc-jcy"].post("/api/v1/exchange/receipts", json=body)
    again = partners["dc-jcy"].post("/api/v1/exchange/receipts", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    # 已接收, then the decision on it, once: accepted; then neither rejected nor received.
    decided = partners["dc-jcy"].post(
        "/api/v1/exchange/receipts", json={**body, "status": "accepted", "note": "已受理"}
    )
    assert decided.status_code == 201 and decided.get_json()["status"] == "accepted"
    for status in ("rejected", "received"):
        other = partners["dc-jcy"].post(
            "/api/v1/exchange/receipts", json={**body, "status": status}
        )
        assert other.status_code == 409 and "status" in other.get_json()["errors"]
        assert "受理" in other.get_json()["detail"]
    replay = partners["dc-jcy"].post(
        "/api/v1/exchange/receipts", json={**body, "status": "accepted"}
    )
    assert replay.status_code == 200
    (seen,) = _feed(partners["dc-jcy"])["items"]
    assert seen["receipt"]["state"] == "acknowledged"
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage))
        assert row.state == "acknowledged" and row.acknowledged_at is not None
        audited = db.session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "exchange.receipt")
        ).all()
        assert [d["status"] for d in audited] == ["received", "accepted"]
        db.session.remove()


def test_resend_queues_what_needs_it_and_names_what_is_not_a_message(app, login, active, partners):
    person = active()
    _warning(login, person["id"])
    (message,) = _feed(partners["dc-jcy"])["items"]
    city = login("city")
    # Named and every dead letter besides (none here): the named one is queued.
    both = {"message_ids": [message["sequence"]], "dead": True}
    resent = city.post("/api/v1/exchange/messages/resend", json=both)
    assert resent.status_code == 200 and resent.get_json()["requeued"] == 1
    # Not yet acknowledged: queued again.
    resent = city.post(
        "/api/v1/exchange/messages/resend", json={"message_ids": [message["sequence"]]}
    )
    assert resent.status_code == 200 and resent.get_json()["requeued"] == 1
    partners["dc-jcy"].post(
        "/api/v1/exchange/receipts", json={"id": message["id"], "status": "accepted"}
    )
    # Acknowledged: nothing to send again, and not counted.
    resent = city.post(
        "/api/v1/exchange/messages/resend", json={"message_ids": [message["sequence"]]}
    )
    assert resent.status_code == 200 and resent.get_json()["requeued"] == 0
    unknown = city.post(
        "/api/v1/exchange/messages/resend", json={"message_ids": [message["sequence"], 999999]}
    )
    assert unknown.status_code == 422 and "999999" in unknown.get_json()["errors"]["message_ids"][0]


def test_a_partner_reads_nothing_else_and_staff_no_feed(login, active, partners):
    person = active()
    jcy = partners["dc-jcy"]
    assert jcy.get(f"/api/v1/persons/{person['id']}").status_code == 403
    assert jcy.get("/api/v1/alerts").status_code == 403
    assert jcy.get("/api/v1/exchange/messages").status_code == 403
    assert login("officer-dongcheng-1").get("/api/v1/exchange/feed").status_code == 403
    assert login("city").get("/api/v1/exchange/messages").status_code == 200


def test_a_message_with_no_agency_is_kept_and_routed_when_one_is_added(app, login, active):
    person = active()
    _warning(login, person["id"])
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage))
        assert (row.state, row.agency_id) == ("unrouted", None)
        agency, routed = service.create_agency(
            db.session,
            code="dc-jcy",
            kind="procuratorate",
            name_zh="东城区人民检察院",
            unit_code="329901",
        )
        db.session.commit()
        assert routed == 1
        row = db.session.scalar(select(OutboxMessage))
        assert (row.state, row.agency_id) == ("pending", agency.id)
        db.session.remove()


def test_a_failed_decision_writes_no_message(app, login, active, partners):
    person = active()
    officer = login("officer-dongcheng-1")
    report = event(officer, person["id"], "report").get_json()["id"]
    # An officer may not decide a warning: refused, and nothing goes out.
    refused = event(officer, person["id"], "warning", payload=sanction("warning", [report]))
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        db.session.remove()


def test_a_juveniles_messages_carry_only_the_juvenile_fields(app, login, active, partners):
    person = active(**juvenile_payload())
    _warning(login, person["id"])
    (message,) = _feed(partners["dc-jcy"])["items"]
    sent = {f"{g}.{n}" for g, values in message["data"].items() for n in values}
    with app.app_context():
        receiver = exchange_rules.current().messages["sanction.warning.decided"].receivers[0]
    assert sent <= set(receiver.juvenile_fields)
    assert "person.name" not in sent and "person.id_number" not in sent
    assert "王小红" not in str(message)
    # The warning's document hash covers its number and ground: a receiver that does not get
    # both does not get the hash either (it would let it test guesses at them).
    hashed = {"decision.legal_ground", "decision.document_number"}
    assert ("documenthash" in message) == hashed.issubset(receiver.juvenile_fields)


def test_a_sealed_juveniles_messages_keep_their_place_in_the_feed_without_data(
    app, login, active, partners
):
    """Once a juvenile's record is sealed (犯罪记录封存), reading the feed again from the start
    serves their messages without data: the sequence holds, the record does not come back."""
    from corrections.core.auth import SYSTEM
    from corrections.persons import sealing

    person = active(**juvenile_payload())
    _warning(login, person["id"])
    (before,) = _feed(partners["dc-jcy"])["items"]
    assert before["data"]
    with app.app_context():
        row = db.session.get(Person, person["id"])
        sealed_at = app.extensions["corrections.clock"].now() + timedelta(days=1)
        assert sealing.seal_if_juvenile(db.session, row, sealed_at, SYSTEM) is not None
        db.session.commit()
        db.session.remove()
    (after,) = _feed(partners["dc-jcy"])["items"]
    assert after["data"] == {} and after["sealed"] is True and "documenthash" not in after
    assert (after["id"], after["sequence"], after["type"]) == (
        before["id"],
        before["sequence"],
        before["type"],
    )


def test_every_message_types_juvenile_fields_are_the_minimum(app):
    """The rules walk: for every type and receiver, a juvenile's fields are a subset of the
    adult's, and a personal field reaches a juvenile's receiver only where the rules list it
    for juveniles on purpose (the court and the police who must act on the person)."""
    with app.app_context():
        rules = exchange_rules.current()
        personal = {f for f, spec in rules.fields.items() if spec["personal"]}
        for name, message in rules.messages.items():
            for receiver in message.receivers:
                assert set(receiver.juvenile_fields) <= set(receiver.fields), (name, receiver)
                identity = personal & set(receiver.juvenile_fields)
                if identity:
                    assert receiver.kind in ("court", "police"), (name, receiver.kind, identity)


def test_an_overdue_receipt_raises_one_alert(app, clock, login, active, partners, run_job):
    person = active()
    _warning(login, person["id"])
    with app.app_context():
        due = exchange_rules.current().receipt_due_hours
    run_job("exchange_receipts", at=clock.now() + timedelta(hours=due + 1))
    run_job("exchange_receipts", at=clock.now() + timedelta(hours=due + 2))
    with app.app_context():
        alerts = db.session.scalars(
            select(Alert).where(Alert.kind == "exchange_unacknowledged")
        ).all()
        assert [(a.person_id, a.subject_type) for a in alerts] == [
            (person["id"], "exchange_message")
        ]
        db.session.remove()


def test_the_catalogue_lists_every_type_with_its_schema(login):
    api = login("commander-dongcheng")
    catalogue = api.get("/api/v1/exchange/schemas").get_json()
    names = {entry["name"] for entry in catalogue}
    assert "sanction.warning.decided" in names and "revocation.proposed" in names
    for entry in (e for e in catalogue if e["direction"] == "outbound"):
        schema = api.get(entry["schema"]).get_json()
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"]["const"] == entry["type"]
    assert api.get("/api/v1/exchange/schemas/no.such").status_code == 404
    inbound = {e["type"]: e for e in catalogue if e["direction"] == "inbound"}
    assert inbound["cn.gov.court.judgment.notice"]["senders"][0]["kind"] == "court"


def test_an_agency_code_with_a_dot_is_refused(app):
    """A code starts the broker's routing keys: 'dc.jcy' would fall under 'dc''s queue."""
    from corrections.core.errors import RuleViolation

    with app.app_context():
        with pytest.raises(RuleViolation) as refused:
            service.create_agency(
                db.session, code="dc.jcy", kind="police", name_zh="东城公安", unit_code="329901"
            )
        assert "code" in refused.value.errors
        db.session.rollback()
        db.session.remove()
