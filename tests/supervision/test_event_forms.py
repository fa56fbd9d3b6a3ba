"""The event forms (GET /event-types) come from the schemas the API validates with, labelled
from rules/supervision.yaml; the work list names each obligation's person and what fulfils it."""

from __future__ import annotations

from datetime import UTC, datetime

from corrections.supervision import event_forms
from corrections.supervision.schemas import PAYLOADS, PERMIT_EVENTS
from tests.factories import juvenile_payload
from tests.supervision.conftest import event


def _forms(api) -> dict:
    resp = api.get("/api/v1/event-types")
    assert resp.status_code == 200, resp.get_json()
    return {t["code"]: t for t in resp.get_json()}


def test_every_postable_event_type_has_a_form_from_its_payload_schema(officer):
    forms = _forms(officer)
    assert set(forms) == set(PAYLOADS) - set(PERMIT_EVENTS)
    for code, form in forms.items():
        names = [f["name"] for f in form["fields"]]
        assert names[:3] == ["occurred_at", "channel", "note"]
        assert names[3:] == list(PAYLOADS[code]._declared_fields), code
        assert all(f["label_zh"] != f["name"] for f in form["fields"]), code


def test_event_form_fields_carry_type_required_labels_and_choices(officer):
    forms = _forms(officer)
    visit = forms["field_visit"]
    assert visit["label_zh"] == "实地查访" and visit["fulfils"] == "visit"
    occurred = visit["fields"][0]
    assert occurred == {
        "name": "occurred_at",
        "path": "occurred_at",
        "type": "datetime",
        "required": True,
        "label_zh": "发生时间",
    }
    channel = visit["fields"][1]
    assert (
        channel["default"] == "field"
        and {"value": "field", "label_zh": "实地"} in (channel["choices"])
    )
    present = visit["fields"][3]
    assert present["path"] == "payload.person_present" and present["type"] == "boolean"
    assert present["default"] is True and present["label_zh"] == "本人在场"
    education = {f["name"]: f for f in forms["education"]["fields"]}
    assert education["hours"]["type"] == "number" and education["hours"]["required"]
    assert education["hours"]["maximum"] == 24 and education["hours"]["minimum_inclusive"] is False
    failed = {f["name"]: f for f in forms["contact_attempt_failed"]["fields"]}
    assert failed["method"]["type"] == "enum"
    assert failed["method"]["choices"][0] == {"value": "phone", "label_zh": "电话"}
    warning = {f["name"]: f for f in forms["warning"]["fields"]}
    assert warning["evidence_event_ids"]["type"] == "event_ids"
    assert forms["health_report"]["only_for"] == ["temporary_outside_custody"]
    # Who decides a decision recorded as an event (rules/sanctions.yaml, supervision.yaml).
    assert forms["warning"]["decided_at_level"] == "district" and forms["warning"]["article"]
    assert forms["field_visit"]["decided_at_level"] is None


def test_an_officer_is_refused_a_decision_the_form_says_the_district_records(officer, active):
    person = active()
    form = _forms(officer)["admonition"]
    assert form["decided_at_level"] == "district"
    body = {"legal_ground": "实施办法 34", "evidence_event_ids": [1]}
    resp = event(officer, person["id"], "admonition", payload=body)
    assert resp.status_code == 403


def test_every_payload_field_is_labelled_in_the_rules_file(app):
    with app.app_context():
        assert event_forms.unlabelled() == set()


def test_event_types_need_a_token(client):
    assert client.get("/api/v1/event-types").status_code == 401


def test_work_list_names_the_person_and_the_events_that_fulfil_it(login, officer, active):
    mine = active()
    other = login("officer-xicheng-1")
    young = active(api=other, **juvenile_payload())
    rows = officer.get("/api/v1/obligations?status=open").get_json()["items"]
    visit = next(o for o in rows if o["kind"] == "check")
    assert visit["person"]["name"] == "张伟" and visit["person"]["id"] == mine["id"]
    assert visit["person"]["office_name_zh"] and visit["event_types"] == [
        "phone_check",
        "location_check",
    ]
    # The juvenile's own office sees the name; another office does not see the person.
    assert young["id"] not in {o["person_id"] for o in rows}
    seen = other.get("/api/v1/obligations?status=open").get_json()["items"]
    assert {o["person"]["name"] for o in seen if o["person_id"] == young["id"]} == {"王小红"}


def test_a_recorded_report_fulfils_the_obligation_the_work_list_showed(
    login, officer, active, clock
):
    person = active()
    rows = officer.get("/api/v1/obligations?status=open&kind=report").get_json()["items"]
    assert rows and rows[0]["event_types"] == ["report"]
    clock.set(datetime(2026, 11, 28, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")  # a new day, a new token
    resp = event(officer, person["id"], "report", "2026-11-28T01:00:00Z")
    assert resp.status_code == 201, resp.get_json()
    done = officer.get("/api/v1/obligations?status=fulfilled&kind=report").get_json()["items"]
    assert [o["id"] for o in done] == [rows[0]["id"]]
