"""The supervision log: recording, validation, sanctions, corrections, idempotency, scope."""

from __future__ import annotations

import threading

import pytest

from corrections.supervision.models import SanctionDecision, SupervisionEvent
from tests.conftest import Api, count_rows
from tests.factories import juvenile_payload
from tests.supervision.conftest import event, sanction

VALID = [
    ("report", {"late": False}, "in_person"),
    ("phone_check", {"success": True}, "phone"),
    ("location_check", {"success": False, "within_area": False}, "app"),
    ("field_visit", {"person_present": True}, "field"),
    ("talk", {"topic": "就业情况"}, "in_person"),
    ("education", {"hours": 2.5, "topic": "法治教育"}, None),
    ("community_service", {"hours": 3, "place": "社区养老院"}, None),
    ("address_change", {"new_address": "滨江市东城区新华路8号"}, None),
    ("job_change", {"employment": "unemployed"}, None),
    ("family_event", {"description": "父亲住院"}, None),
    ("contact_attempt_failed", {"method": "phone", "reason": "关机"}, None),
    ("police_notified", {"police_unit": "城关派出所", "reference": "2026-118"}, None),
    ("prohibition_breach", {"description": "进入酒吧", "severity": "minor"}, None),
    ("monitor_alarm", {"alarm": "battery"}, None),
    ("note", {}, None),
]


@pytest.mark.parametrize(("type_", "payload", "channel"), VALID)
def test_every_event_type_records_with_labels(officer, active, type_, payload, channel):
    person = active()
    resp = event(officer, person["id"], type_, payload=payload, note="记录")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["type"] == type_ and body["type_label_zh"]
    assert body["recorded_by"] == "officer-dongcheng-1"
    assert body["channel"] == channel
    listed = officer.get(f"/api/v1/persons/{person['id']}/events").get_json()
    assert [e["id"] for e in listed["items"]] == [body["id"]]


def test_address_and_job_changes_update_the_person(officer, active):
    person = active()
    event(officer, person["id"], "address_change", payload={"new_address": "滨江市东城区新华路8号"})
    event(officer, person["id"], "job_change", payload={"employment": "self_employed"})
    now = officer.get(f"/api/v1/persons/{person['id']}").get_json()
    assert now["address"] == "滨江市东城区新华路8号" and now["employment"] == "self_employed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "teleport", "occurred_at": "2026-11-27T01:00:00Z"}, "type"),
        (
            {"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "payload": {"hours": 2}},
            "payload.hours",
        ),
        (
            {"type": "education", "occurred_at": "2026-11-27T01:00:00Z", "payload": {"hours": 0}},
            "payload.hours",
        ),
        (
            {
                "type": "education",
                "occurred_at": "2026-11-27T01:00:00Z",
                "payload": {"hours": 24.5},
            },
            "payload.hours",
        ),
        (
            {"type": "education", "occurred_at": "2026-11-27T01:00:00Z", "payload": {}},
            "payload.hours",
        ),
        ({"type": "phone_check", "occurred_at": "2026-11-27T01:00:00Z"}, "payload.success"),
        ({"type": "report", "occurred_at": "2026-11-27T02:06:00Z"}, "occurred_at"),  # future
        ({"type": "report", "occurred_at": "2026-11-27T01:00:00"}, "occurred_at"),  # naive
        ({"type": "report", "occurred_at": "2026-10-01T01:00:00Z"}, "occurred_at"),  # pre-term
        ({"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "channel": "pigeon"}, "channel"),
        ({"type": "travel_departure", "occurred_at": "2026-11-27T01:00:00Z"}, "type"),
        (
            {"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "corrects_id": 999999},
            "corrects_id",
        ),
    ],
)
def test_bad_events_are_422_naming_the_field_and_store_nothing(app, officer, active, body, field):
    person = active()
    before = count_rows(app, SupervisionEvent)
    resp = officer.post(f"/api/v1/persons/{person['id']}/events", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"], resp.get_json()
    assert count_rows(app, SupervisionEvent) == before


def test_small_clock_skew_is_tolerated(officer, active):
    person = active()
    assert event(officer, person["id"], "report", "2026-11-27T02:04:00Z").status_code == 201


def test_no_event_once_the_correction_ended(app, login, officer, active, intake):
    # Before intake reporting, searching for the person is recorded (漏管 risk).
    pending = intake(officer)
    assert (
        event(
            officer, pending["id"], "contact_attempt_failed", payload={"method": "phone"}
        ).status_code
        == 201
    )
    person = active()
    login("commander-dongcheng").post(
        f"/api/v1/persons/{person['id']}/termination",
        json={
            "kind": "death",
            "reason": "家属报告",
            "ended_on": "2026-11-26",
            "document_number": "死亡证明 2026-0042",
        },
    )
    before = count_rows(app, SupervisionEvent)
    resp = event(officer, person["id"], "report")
    assert resp.status_code == 409 and "person_id" in resp.get_json()["errors"]
    assert count_rows(app, SupervisionEvent) == before


def test_another_offices_person_is_404(login, active):
    person = active()
    other = login("officer-xicheng-1")
    assert event(other, person["id"], "report").status_code == 404
    assert other.get(f"/api/v1/persons/{person['id']}/events").status_code == 404
    assert login("analyst").get(f"/api/v1/persons/{person['id']}/events").status_code == 403


def test_the_token_check_brings_the_persons_facts_and_scope_still_decides(
    app, login, officer, active
):
    """Recording an event reads the person once, with the token (one round trip less); the
    person loaded that way is still refused to a caller out of scope."""
    from sqlalchemy import event as sa_event

    from corrections.core.db import db

    person = active()
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()).lower())

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        assert event(officer, person["id"], "report").status_code == 201
        reads = [s for s in statements if s.startswith("select") and "persons.version" in s]
        other = login("officer-xicheng-1")
        statements.clear()
        assert event(other, person["id"], "report").status_code == 404
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
    assert len(reads) == 1 and "api_tokens" in reads[0] and "persons.name" not in reads[0]
    # Nothing is written for the refused request but its audit row (issue 12 finding 1).
    inserts = [s for s in statements if s.startswith("insert")]
    assert [s.split()[2] for s in inserts] == ["audit_entries"]


# --- sanctions ---------------------------------------------------------------------------


def test_admonition_by_the_district_with_its_decision_record(app, login, officer, active):
    # Issue 14 finding 4: the office used to decide an admonition; the district does
    # (实施办法 34), the office investigates and proposes.
    person = active()
    evidence = event(
        officer, person["id"], "contact_attempt_failed", payload={"method": "phone"}
    ).get_json()["id"]
    refused = event(officer, person["id"], "admonition", payload=sanction("admonition", [evidence]))
    assert refused.status_code == 403 and "实施办法 34" in refused.get_json()["detail"]
    commander = login("commander-dongcheng")
    resp = event(commander, person["id"], "admonition", payload=sanction("admonition", [evidence]))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["sanction"]["decider_level"] == "district"
    assert "实施办法 34" in body["sanction"]["article"] and body["sanction"]["rules_version"]
    assert body["sanction"]["evidence_event_ids"] == [evidence]
    assert count_rows(app, SanctionDecision) == 1


def test_warning_needs_the_district_and_evidence_of_this_person(login, officer, active):
    person = active()
    evidence = event(
        officer,
        person["id"],
        "prohibition_breach",
        payload={"description": "进入娱乐场所", "severity": "minor"},
    ).get_json()["id"]
    refused = event(officer, person["id"], "warning", payload=sanction("warning", [evidence]))
    assert refused.status_code == 403
    commander = login("commander-dongcheng")
    other = active(name="李四")
    foreign = event(officer, other["id"], "note").get_json()["id"]
    bad = event(commander, person["id"], "warning", payload=sanction("warning", [foreign]))
    assert bad.status_code == 422 and "payload.evidence_event_ids" in bad.get_json()["errors"]
    missing = event(commander, person["id"], "warning", payload={"legal_ground": "第三十五条"})
    assert "payload.evidence_event_ids" in missing.get_json()["errors"]
    ok = event(commander, person["id"], "warning", payload=sanction("warning", [evidence]))
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["sanction"]["decider_level"] == "district"
    # The grade follows at once.
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"] == "strict"


def test_police_penalty_is_refused_for_parole(login, officer, active):
    person = active(category="parole", term_end="2027-10-31")
    evidence = event(officer, person["id"], "note").get_json()["id"]
    resp = event(
        login("commander-dongcheng"),
        person["id"],
        "police_penalty",
        payload=sanction("police_penalty", [evidence]) | {"proposal_event_id": evidence},
    )
    assert resp.status_code == 422 and "type" in resp.get_json()["errors"]


# --- corrections -------------------------------------------------------------------------


def test_a_correction_is_a_new_event_that_references_the_old(officer, active):
    person = active()
    wrong = event(officer, person["id"], "education", payload={"hours": 8}).get_json()
    fixed = event(
        officer,
        person["id"],
        "education",
        payload={"hours": 2},
        corrects_id=wrong["id"],
        note="时长录入错误",
    ).get_json()
    assert fixed["corrects_id"] == wrong["id"]
    listed = {
        e["id"]: e
        for e in officer.get(f"/api/v1/persons/{person['id']}/events").get_json()["items"]
    }
    assert listed[wrong["id"]]["corrected_by_id"] == fixed["id"]
    assert listed[wrong["id"]]["payload"]["hours"] == 8
    again = event(officer, person["id"], "education", payload={"hours": 3}, corrects_id=wrong["id"])
    assert again.status_code == 409
    other_type = event(officer, person["id"], "talk", corrects_id=fixed["id"])
    assert other_type.status_code == 422 and "type" in other_type.get_json()["errors"]


# --- idempotency -------------------------------------------------------------------------


def test_same_key_same_body_returns_the_first_event(app, officer, active):
    person = active()
    headers = {"Idempotency-Key": "tablet-7:2026-11-27:0001"}
    first = event(officer, person["id"], "report", headers=headers)
    second = event(officer, person["id"], "report", headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["id"] == second.get_json()["id"]
    assert count_rows(app, SupervisionEvent) == 1
    other = event(officer, person["id"], "report", "2026-11-27T01:30:00Z", headers=headers)
    assert other.status_code == 409 and "Idempotency-Key" in other.get_json()["errors"]
    bad = event(officer, person["id"], "report", headers={"Idempotency-Key": "has spaces"})
    assert bad.status_code == 422


def test_fifty_concurrent_posts_with_one_key_store_one_event(app, officer, active):
    person = active()
    barrier = threading.Barrier(50)
    codes: list[int] = []
    ids: set[int] = set()
    lock = threading.Lock()

    def post() -> None:
        api = Api(app.test_client(), officer.token, officer.username)
        barrier.wait()
        resp = event(api, person["id"], "report", headers={"Idempotency-Key": "burst-1"})
        with lock:
            codes.append(resp.status_code)
            if resp.status_code in (200, 201):
                ids.add(resp.get_json()["id"])

    threads = [threading.Thread(target=post) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(codes)) in ([200, 201], [201]), codes
    assert codes.count(201) == 1
    assert len(ids) == 1
    assert count_rows(app, SupervisionEvent) == 1


def test_juvenile_event_text_is_masked_for_the_city(login, officer):
    created = officer.post("/api/v1/persons", json=juvenile_payload()).get_json()
    officer.post(
        f"/api/v1/persons/{created['id']}/status-changes",
        json={"to_status": "active", "reason": "按期报到"},
    )
    event(
        officer,
        created["id"],
        "address_change",
        payload={"new_address": "滨江市东城区青年路3号"},
        note="随母亲搬家",
    )
    own = officer.get(f"/api/v1/persons/{created['id']}/events").get_json()["items"][0]
    assert own["payload"]["new_address"] == "滨江市东城区青年路3号" and own["note"] == "随母亲搬家"
    city = login("city").get(f"/api/v1/persons/{created['id']}/events").get_json()["items"][0]
    assert city["payload"]["new_address"] == "***" and city["note"] == "***"


def test_each_event_is_audited_once_with_its_id_and_the_chain_holds(app, officer, active, runner):
    from sqlalchemy import select

    from corrections.audit.models import AuditEntry
    from corrections.core.db import db

    person = active()
    ids = [event(officer, person["id"], t).get_json()["id"] for t in ("report", "note", "talk")]
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.detail, AuditEntry.subject_id, AuditEntry.request_id)
            .where(AuditEntry.action == "event.create")
            .order_by(AuditEntry.id)
        ).all()
        db.session.remove()
    assert [r.detail["event_id"] for r in rows] == ids
    assert [r.detail["type"] for r in rows] == ["report", "note", "talk"]
    assert all(r.subject_id == str(person["id"]) and r.request_id for r in rows)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("category", ["parole", "temporary_outside_custody"])
def test_xingfa_38_72_no_prohibition_order_breach_without_a_prohibition_order(
    officer, active, category
):
    # A 禁止令 is imposed only with 管制 or 缓刑 (刑法 38 ¶2, 72 ¶2): a breach recorded for a
    # parolee used to propose revocation on a ground the law does not have.
    person = active(category=category)
    resp = event(
        officer,
        person["id"],
        "prohibition_breach",
        payload={"description": "进入酒吧", "severity": "serious"},
    )
    assert resp.status_code == 422 and "type" in resp.get_json()["errors"]
    assert "刑法 38" in resp.get_json()["errors"]["type"][0]
    listed = officer.get(f"/api/v1/persons/{person['id']}/events").get_json()
    assert listed["total"] == 0


PAYLOADS = {
    "health_report": {"condition": "病情稳定"},
    "medical_reexam": {"hospital": "市第一人民医院", "document_number": "复查-1"},
    "release_condition_ended": {"reason": "病情好转，保外就医情形消失"},
}


@pytest.mark.parametrize("type_", sorted(PAYLOADS))
def test_xingsu_265_268_temporary_execution_events_only_for_temporary_execution(
    officer, active, type_
):
    person = active(category="parole")
    resp = event(officer, person["id"], type_, payload=PAYLOADS[type_])
    assert resp.status_code == 422 and "type" in resp.get_json()["errors"], resp.get_json()
    ok = event(
        officer, active(category="temporary_outside_custody")["id"], type_, payload=PAYLOADS[type_]
    )
    assert ok.status_code == 201, ok.get_json()
