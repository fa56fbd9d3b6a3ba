"""The refusals of persons, sealing and grading read in Chinese by default and in English for a
client that asks (README: Languages); a level or a status inside a message reads in the same
language as the message around it."""

from __future__ import annotations

import pytest

from corrections.core.auth import Actor, Role
from corrections.core.errors import Forbidden
from corrections.core.i18n import _, translate
from corrections.persons import scope
from corrections.persons.models import Person
from tests.factories import person_payload

EN = {"Accept-Language": "en"}


def test_a_decision_level_reads_as_who_decides_in_chinese():
    officer = Actor(1, "officer-x", Role.OFFICER, 10)
    person = Person(office_id=10, district_id=20)
    with pytest.raises(Forbidden) as refused:
        scope.require_level(officer, person, "district", _("Removing electronic monitoring"))
    detail = refused.value.detail
    assert detail == "Removing electronic monitoring is decided at district level or above."
    assert translate(detail, "zh") == "解除电子定位须由区司法局或更高层级决定。"


def test_a_missing_record_is_named_in_the_clients_language(login, intake):
    person = intake()
    url = f"/api/v1/persons/{person['id']}/grade/decisions/999999/approve"
    commander = login("commander-dongcheng")
    resp = commander.post(url, json={})
    assert resp.status_code == 404
    assert resp.get_json()["detail"] == "没有这个等级决定。"
    resp = commander.post(url, json={}, headers=EN)
    assert resp.get_json()["detail"] == "No such grade decision."


def test_an_inconsistent_intake_names_each_problem_in_chinese(officer):
    payload = person_payload(category="control_order", term_start="2026-11-01")
    payload["term_end"] = "2026-11-15"  # shorter than a control order's 3 months
    resp = officer.post("/api/v1/persons", json=payload)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["detail"] == "矫正对象的信息有误：term_end"
    assert body["errors"]["term_end"] == ["管制的矫正期限应为 3–36 个月"]
    english = officer.post("/api/v1/persons", json=payload, headers=EN).get_json()
    assert english["errors"]["term_end"] == ["a control_order term lasts 3–36 months"]
