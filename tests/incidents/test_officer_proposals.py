"""A judicial office proposes a sanction itself (经司法所调查核实, 实施办法 34-49): on a ground of
rules/sanctions.yaml officer_grounds that applies to the person's category, with the facts and
the person's events it rests on; the district decides it in its queue, alerted; a retry with
the same Idempotency-Key proposes once."""

from __future__ import annotations

from sqlalchemy import select

from corrections.alerts.models import Alert
from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.incidents.models import IncidentProposal
from tests.factories import juvenile_payload
from tests.supervision.conftest import event
from tests.support.queues import sanction_proposal

FACTS = "11月20日未经批准前往邻市，经谈话核实属实"


def _propose(api, person_id, headers=None, **body):
    payload = {
        "kind": "admonition",
        "ground": "admonition.rules_minor",
        "facts": FACTS,
        **body,
    }
    return api.post(f"/api/v1/persons/{person_id}/proposals", json=payload, headers=headers)


def _report(api, person_id) -> int:
    resp = event(api, person_id, "report")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_an_officer_proposes_an_admonition_the_district_is_alerted_and_decides_it(
    app, login, active
):
    officer = login("officer-dongcheng-1")
    person = active(officer)
    report = _report(officer, person["id"])
    resp = _propose(officer, person["id"], event_ids=[report])
    assert resp.status_code == 201, resp.get_json()
    made = resp.get_json()
    assert (made["kind"], made["status"], made["proposed_by"]) == (
        "admonition",
        "proposed",
        "officer-dongcheng-1",
    )
    assert made["article"] == "实施办法 34(2) (UNVERIFIED)"
    assert made["evidence"]["facts"] == FACTS and made["evidence"]["event_ids"] == [report]

    commander = login("commander-dongcheng")
    queue = commander.get("/api/v1/proposals", query_string={"status": "proposed"}).get_json()
    item = next(i for i in queue["items"] if i["id"] == made["id"])
    assert item["proposed_by"] == "officer-dongcheng-1"
    assert item["ground_label_zh"] == "违反关于报告、会客、外出、迁居等规定，情节轻微"
    assert item["evidence_refs"][0]["id"] == report
    with app.app_context():
        alert = db.session.scalar(
            select(Alert).where(Alert.subject_type == "proposal", Alert.subject_id == made["id"])
        )
        assert alert is not None and alert.status == "open"
        assert alert.detail["proposed_by"] == "officer-dongcheng-1"
        audited = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "incident.proposal_made")
        )
        assert audited.detail["proposal_id"] == made["id"]
        db.session.remove()

    # The office cannot decide it; the district does, and the alert resolves.
    body = {"decision": "declined", "note": "情节显著轻微，批评教育"}
    href = f"/api/v1/persons/{person['id']}/proposals/{made['id']}"
    assert officer.post(href, json=body).status_code == 403
    resp = commander.post(href, json=body)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "declined"
    with app.app_context():
        alert = db.session.scalar(
            select(Alert).where(Alert.subject_type == "proposal", Alert.subject_id == made["id"])
        )
        assert alert.status == "resolved"
        db.session.remove()


def test_a_retry_with_the_same_key_proposes_once_and_a_different_body_is_refused(
    app, login, active
):
    officer = login("officer-dongcheng-1")
    person = active(officer)
    report = _report(officer, person["id"])
    key = {"Idempotency-Key": "wb-3f1c"}
    first = _propose(officer, person["id"], headers=key, event_ids=[report])
    again = _propose(officer, person["id"], headers=key, event_ids=[report])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    other = _propose(officer, person["id"], headers=key, event_ids=[report], facts="另一件事实")
    assert other.status_code == 409
    assert "Idempotency-Key" in other.get_json()["errors"]
    # Without the key a second admonition waits behind the first: refused, naming the kind.
    dup = _propose(officer, person["id"], event_ids=[report])
    assert dup.status_code == 409 and "kind" in dup.get_json()["errors"]
    with app.app_context():
        assert len(db.session.scalars(select(IncidentProposal)).all()) == 1
        db.session.remove()


def test_bad_grounds_and_evidence_are_named_and_change_nothing(app, login, active):
    officer = login("officer-dongcheng-1")
    person = active(officer)  # 缓刑 (suspended sentence)
    other = active(officer, name="王五")
    mine, theirs = _report(officer, person["id"]), _report(officer, other["id"])
    cases = [
        ({"ground": "warning.absent_long"}, "ground"),  # a warning's ground for an admonition
        ({"kind": "return_to_custody", "ground": "return_to_custody.two_warnings"}, "ground"),
        ({"event_ids": [theirs]}, "event_ids"),
        ({"event_ids": []}, "event_ids"),
        ({"facts": "  "}, "facts"),
        ({"kind": "pardon"}, "kind"),
    ]
    for change, field in cases:
        body = {"event_ids": [mine], **change}
        resp = _propose(officer, person["id"], **body)
        assert resp.status_code == 422, (change, resp.get_json())
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        assert field in resp.get_json()["errors"], (change, resp.get_json())
    # A revocation on a ground of the person's category is taken.
    ok = _propose(
        officer,
        person["id"],
        kind="revocation",
        ground="revocation.two_warnings",
        event_ids=[mine],
    )
    assert ok.status_code == 201, ok.get_json()
    with app.app_context():
        assert db.session.scalars(select(IncidentProposal.kind)).all() == ["revocation"]
        db.session.remove()


def test_another_office_cannot_propose_for_a_person_outside_its_scope(login, active):
    officer = login("officer-dongcheng-1")
    person = active(officer)
    report = _report(officer, person["id"])
    west = login("officer-xicheng-1")
    assert _propose(west, person["id"], event_ids=[report]).status_code == 404
    analyst = login("analyst")
    assert _propose(analyst, person["id"], event_ids=[report]).status_code == 403


def test_the_office_grounds_are_listed_with_what_they_propose_and_for_whom(login):
    api = login("officer-dongcheng-1")
    resp = api.get("/api/v1/reasons", query_string={"kind": "proposal_ground"})
    assert resp.status_code == 200
    grounds = {r["code"]: r for r in resp.get_json()}
    assert grounds["admonition.rules_minor"]["proposes_label_zh"] == "训诫"
    assert grounds["admonition.rules_minor"]["level"] == "district"
    assert "categories" not in grounds["admonition.rules_minor"]
    custody = grounds["return_to_custody.two_warnings"]
    assert custody["categories"] == ["temporary_outside_custody"]
    assert custody["categories_label_zh"] == ["暂予监外执行"]


def test_who_proposed_a_sanction_does_not_decide_it(app, login, active):
    commander = login("commander-dongcheng")
    person = active()
    report = _report(login("officer-dongcheng-1"), person["id"])
    made = _propose(
        commander, person["id"], kind="warning", ground="warning.rules_serious", event_ids=[report]
    ).get_json()
    href = f"/api/v1/persons/{person['id']}/proposals/{made['id']}"
    body = {"decision": "accepted", "note": "同意", "statement_not_taken_reason": "本人拒绝陈述"}
    refused = commander.post(href, json=body)
    assert refused.status_code == 403, refused.get_json()
    assert "提出人以外" in refused.get_json()["detail"]
    with app.app_context():
        assert db.session.get(IncidentProposal, made["id"]).status == "proposed"
        db.session.remove()
    decided = login("city").post(href, json=body)
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["decided_by"] == "city"


def test_a_juveniles_facts_are_masked_like_any_typed_text(login, active):
    officer = login("officer-dongcheng-1")
    juvenile = active(officer, **juvenile_payload())
    report = _report(officer, juvenile["id"])
    made = _propose(officer, juvenile["id"], event_ids=[report])
    assert made.status_code == 201
    city = login("city")
    shown = city.get(f"/api/v1/persons/{juvenile['id']}/proposals").get_json()[0]
    assert shown["evidence"]["facts"] != FACTS and FACTS not in str(shown)
    queued = city.get("/api/v1/proposals", query_string={"status": "proposed"}).get_json()
    assert FACTS not in str(queued)
    # The office that proposed it reads it in full.
    mine = officer.get(f"/api/v1/persons/{juvenile['id']}/proposals").get_json()[0]
    assert mine["evidence"]["facts"] == FACTS


def test_a_key_reused_for_another_person_is_a_different_request(app, login, active):
    officer = login("officer-dongcheng-1")
    first, second = active(officer), active(officer, name="王五")
    key = {"Idempotency-Key": "wb-reuse"}
    made = _propose(officer, first["id"], headers=key, event_ids=[_report(officer, first["id"])])
    assert made.status_code == 201
    other = _propose(officer, second["id"], headers=key, event_ids=[_report(officer, second["id"])])
    assert other.status_code == 409 and "Idempotency-Key" in other.get_json()["errors"]


def test_invisible_format_characters_in_the_facts_are_refused(login, active):
    officer = login("officer-dongcheng-1")
    person = active(officer)
    report = _report(officer, person["id"])
    for sneaky in ("\u202e", "\u200b", "\u2066", "\ufeff"):
        resp = _propose(officer, person["id"], facts=f"经核实{sneaky}属实", event_ids=[report])
        assert resp.status_code == 422 and "facts" in resp.get_json()["errors"], sneaky


def test_the_ladder_waits_while_an_officers_proposal_of_the_kind_waits(app, login, active):
    officer = login("officer-dongcheng-1")
    person = active(officer)
    made = _propose(
        officer,
        person["id"],
        kind="warning",
        ground="warning.rules_serious",
        event_ids=[_report(officer, person["id"])],
    ).get_json()
    sanction_proposal(app, person["id"], kind="warning", ground="admonitions")
    with app.app_context():
        waiting = db.session.scalars(
            select(IncidentProposal.id).where(IncidentProposal.status == "proposed")
        ).all()
        assert waiting == [made["id"]]
        db.session.remove()
