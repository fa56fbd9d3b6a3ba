from __future__ import annotations

from datetime import date

import pytest

from corrections.persons.models import Person
from corrections.persons.service import FACT_FIELDS
from tests.conftest import count_rows
from tests.factories import id_number_for, juvenile_payload, person_payload

WRITABLE = (*FACT_FIELDS, "office_code")


def test_intake_creates_pending_person_with_labels_and_deadline(officer):
    resp = officer.post("/api/v1/persons", json=person_payload())
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["status"] == "pending_intake"
    assert body["status_label_zh"] == "待报到"
    assert body["category_label_zh"] == "缓刑"
    assert body["crime_type_label_zh"] == "危险驾驶"
    assert body["gender_label_zh"] == "男"
    assert body["office_code"] == "32990101"  # the officer's own office by default
    assert body["district_code"] == "329901"
    # judgment effective 2026-10-31 + 10 days
    assert body["intake_deadline"] == "2026-11-10"
    assert body["juvenile"] is False
    assert resp.headers["ETag"] == '"1"'


def test_read_back_then_post_writable_fields_is_a_valid_intake(officer):
    created = officer.post("/api/v1/persons", json=person_payload()).get_json()
    read = officer.get(f"/api/v1/persons/{created['id']}").get_json()
    again = {k: read[k] for k in WRITABLE}
    again["id_number"] = id_number_for(date.fromisoformat(read["date_of_birth"]), read["gender"])
    resp = officer.post("/api/v1/persons", json=again)
    assert resp.status_code == 201, resp.get_json()
    second = resp.get_json()
    for key in WRITABLE:
        if key != "id_number":
            assert second[key] == read[key], key


def _wrong_check_digit() -> str:
    good = id_number_for(date(1990, 5, 17))
    last = good[-1]
    return good[:-1] + ("0" if last != "0" else "1")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": _wrong_check_digit()}, "id_number"),
        ({"term_start": "2026-11-01", "term_end": "2026-10-01"}, "term_end"),
        (
            # A day over 3 years (刑法 69: the most for several crimes combined).
            {"category": "control_order", "term_start": "2026-11-01", "term_end": "2029-11-01"},
            "term_end",
        ),
        ({"category": "house_arrest"}, "category"),
        ({"name": None}, "name"),
        ({"gender": "female"}, "gender"),
        ({"date_of_birth": "1990-05-18"}, "date_of_birth"),
        ({"crime_type": "jaywalking"}, "crime_type"),
        ({"phone": "12345"}, "phone"),
        ({"judgment_date": "2027-01-01", "term_start": "2027-01-02"}, "judgment_date"),
        ({"term_start": "2026-10-01"}, "term_start"),
        ({"office_code": "32990201"}, "office_code"),  # an office of another district
        ({"unknown_field": 1}, "unknown_field"),
        ({"term_end": "not-a-date"}, "term_end"),
    ],
)
def test_bad_intake_is_422_naming_the_field_and_stores_nothing(app, officer, overrides, field):
    before = count_rows(app, Person)
    payload = person_payload()
    for key, value in overrides.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    resp = officer.post("/api/v1/persons", json=payload)
    assert resp.status_code == 422, resp.get_json()
    assert resp.content_type == "application/problem+json"
    body = resp.get_json()
    assert field in body["errors"], body
    assert body["status"] == 422
    assert count_rows(app, Person) == before


def test_missing_field_is_named(officer):
    payload = person_payload()
    del payload["term_start"]
    body = officer.post("/api/v1/persons", json=payload).get_json()
    assert body["errors"] == {"term_start": ["必填项缺失。"]}  # Chinese unless asked for English


@pytest.mark.parametrize(
    ("category", "start", "end", "ok"),
    [
        ("control_order", "2026-11-01", "2027-01-31", True),  # exactly 3 months
        ("control_order", "2026-11-01", "2027-01-30", False),  # a day short of 3 months
        ("control_order", "2026-11-01", "2028-10-31", True),  # exactly 2 years
        # 刑法 69: several crimes combined, up to 3 years (was refused at 24 months).
        ("control_order", "2026-11-01", "2028-11-01", True),
        ("control_order", "2026-11-01", "2029-10-31", True),  # exactly 3 years
        ("control_order", "2026-11-01", "2029-11-01", False),  # a day over 3 years
        ("suspended_sentence", "2026-11-01", "2026-12-31", True),  # 2 months (detention)
        ("suspended_sentence", "2026-11-01", "2031-10-31", True),  # 5 years
        ("suspended_sentence", "2026-11-01", "2031-11-01", False),
        ("parole", "2026-11-01", "2036-10-31", True),  # 10 years (life)
        ("parole", "2026-11-01", "2036-11-01", False),
    ],
)
def test_term_length_per_category(app, officer, category, start, end, ok):
    resp = officer.post(
        "/api/v1/persons", json=person_payload(category=category, term_start=start, term_end=end)
    )
    assert resp.status_code == (201 if ok else 422), resp.get_json()
    if not ok:
        assert "term_end" in resp.get_json()["errors"]


def test_duplicate_open_id_number_is_409(app, officer):
    payload = person_payload()
    assert officer.post("/api/v1/persons", json=payload).status_code == 201
    resp = officer.post("/api/v1/persons", json=payload)
    assert resp.status_code == 409
    assert "id_number" in resp.get_json()["errors"]
    assert count_rows(app, Person) == 1


def test_juvenile_is_derived_from_birth_and_offence_date(officer):
    body = officer.post("/api/v1/persons", json=juvenile_payload()).get_json()
    assert body["juvenile"] is True
    # An adult now who offended at 17 is a juvenile case too.
    adult = officer.post(
        "/api/v1/persons", json=person_payload(_birth=date(2008, 6, 1), offence_date="2026-05-01")
    ).get_json()
    assert adult["age"] == 18
    assert adult["juvenile"] is True
    older = officer.post(
        "/api/v1/persons", json=person_payload(_birth=date(2008, 6, 1), offence_date="2026-06-02")
    ).get_json()
    assert older["juvenile"] is False


def test_commander_must_name_an_office_in_their_district(login):
    commander = login("commander-dongcheng")
    resp = commander.post("/api/v1/persons", json=person_payload())
    assert resp.status_code == 422
    assert "office_code" in resp.get_json()["errors"]
    resp = commander.post("/api/v1/persons", json=person_payload(office_code="32990102"))
    assert resp.status_code == 201
    assert resp.get_json()["office_code"] == "32990102"


def test_analyst_and_auditor_cannot_intake(login):
    for username in ("analyst", "auditor", "admin"):
        resp = login(username).post("/api/v1/persons", json=person_payload(office_code="32990101"))
        assert resp.status_code == 403, username


def test_criminal_law_69_control_order_combined_term_up_to_3_years(officer):
    """刑法 38: 管制 lasts 3 months to 2 years; 69: up to 3 years for several crimes combined."""
    ok = officer.post(
        "/api/v1/persons",
        json=person_payload(
            category="control_order", term_start="2026-11-01", term_end="2029-10-31"
        ),
    )
    assert ok.status_code == 201, ok.get_json()
    over = officer.post(
        "/api/v1/persons",
        json=person_payload(
            category="control_order", term_start="2026-11-01", term_end="2029-11-01"
        ),
    )
    assert over.status_code == 422
    assert over.get_json()["errors"]["term_end"] == ["管制的矫正期限应为 3–36 个月"]


@pytest.mark.parametrize(
    ("effective", "deadline"),
    [("2026-10-31", "2026-11-10"), ("2026-09-28", "2026-10-08"), ("2026-11-20", "2026-11-30")],
)
def test_law_21_intake_deadline_is_the_intake_report_clock(officer, effective, deadline):
    """Art. 21: report within 10 days of the judgment taking effect (rules/clocks.yaml)."""
    body = officer.post(
        "/api/v1/persons",
        json=person_payload(judgment_date="2026-09-20", judgment_effective_date=effective),
    ).get_json()
    assert body["intake_deadline"] == deadline
