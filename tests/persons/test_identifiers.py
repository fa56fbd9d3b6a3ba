"""Issue 13 finding 6: identifiers typed with an input method's full-width digits are the same
identifiers. Every identifier field (ID numbers, phones, unit codes, document numbers) is
NFKC-normalised at the edge and then validated as ASCII digits; one open record per ID number
holds whichever way it was typed, and search finds it either way."""

from __future__ import annotations

import itertools
from datetime import date

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corrections.core.schemas import Identifier
from corrections.persons import idnumber
from corrections.persons.models import Person
from corrections.persons.schemas import PHONE
from tests.conftest import count_rows
from tests.factories import person_payload

SEARCH = "/api/v1/persons/search"
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789Xx"}  # '1' -> '１', 'X' -> 'Ｘ'
IDEOGRAPHIC_SPACE = "\u3000"
_sequence = itertools.count(1)


def spell(number: str, full_width: list[bool], lower_x: bool, padded: bool) -> str:
    """One way of typing ``number``: some characters full-width, x in either case, maybe
    with ideographic spaces around it."""
    chars = [
        FULL_WIDTH[c] if wide else c
        for c, wide in zip(number.lower() if lower_x else number, full_width, strict=True)
    ]
    text = "".join(chars)
    return f"{IDEOGRAPHIC_SPACE}{text} " if padded else text


spellings = st.tuples(
    st.lists(st.booleans(), min_size=18, max_size=18),
    st.booleans(),
    st.booleans(),
)


def _search(api, q: str) -> list[int]:
    resp = api.post(SEARCH, json={"q": q})
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["items"]]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    birth=st.dates(min_value=date(1950, 1, 1), max_value=date(2000, 12, 31)),
    first=spellings,
    second=spellings,
)
def test_finding_6_two_spellings_of_one_id_number_are_one_open_record_found_either_way(
    app, officer, monkeypatch, birth, first, second
):
    monkeypatch.setitem(app.config, "INTAKE_REFUSALS_PER_DAY", 10_000)
    # A number no other example of this run uses (the database outlives the examples).
    sequence = next(_sequence) % 1000
    number = idnumber.make("110105", birth, sequence)
    gender = "male" if sequence % 2 else "female"
    a, b = spell(number, *first), spell(number, *second)

    created = officer.post(
        "/api/v1/persons", json=person_payload(_birth=birth, gender=gender, id_number=a)
    )
    assert created.status_code == 201, created.get_json()
    person = created.get_json()
    assert person["id_number"] == number  # one spelling stored: ASCII, upper-case X

    again = officer.post(
        "/api/v1/persons", json=person_payload(_birth=birth, gender=gender, id_number=b)
    )
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["errors"] == {"id_number": ["已在社区矫正中"]}

    assert _search(officer, a) == [person["id"]]
    assert _search(officer, b) == [person["id"]]
    assert person["id"] in _search(officer, spell(number[-6:], first[0][-6:], first[1], False))


def test_finding_6_phones_and_codes_typed_full_width_are_stored_as_ascii(app, officer):
    wide_phone = "".join(FULL_WIDTH[c] for c in "13912345678")
    resp = officer.post(
        "/api/v1/persons",
        json=person_payload(
            phone=wide_phone,
            family_contact_phone="０１０－８８８８６６６６",  # full-width hyphen too
            office_code="".join(FULL_WIDTH[c] for c in "32990101"),
        ),
    )
    assert resp.status_code == 201, resp.get_json()
    person = resp.get_json()
    assert person["phone"] == "13912345678"
    assert person["family_contact_phone"] == "010-88886666"
    assert _search(officer, wide_phone) == [person["id"]]
    listed = officer.get("/api/v1/persons", query_string={"office": "３２９９０１０１"})
    assert [p["id"] for p in listed.get_json()["items"]] == [person["id"]]


def _digits(text: str, zero: str) -> str:
    """``text`` with its digits after the first two in another script (``zero`` is its 0):
    the first two stay ASCII so that a province code or a mobile prefix still matches."""
    return text[:2] + "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in text[2:])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # Other scripts' digits are digits to \d and to int(), not to a Chinese register.
        ("id_number", _digits("11010519491231002X", "\u0660")),  # Arabic-Indic
        ("id_number", _digits("11010519491231002X", "\u0966")),  # Devanagari
        ("phone", _digits("13912345678", "\u0660")),
        ("family_contact_phone", _digits("13912345678", "\u0966")),
    ],
)
def test_finding_6_digits_of_other_scripts_are_refused_with_the_field_named(
    app, officer, field, value
):
    resp = officer.post("/api/v1/persons", json=person_payload(**{field: value}))
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]
    assert count_rows(app, Person) == 0


@given(st.text(alphabet="0123456789Xx", min_size=1, max_size=30), st.data())
def test_finding_6_an_identifier_field_reads_any_spelling_as_its_ascii_form(ascii_text, data):
    wide = data.draw(st.lists(st.booleans(), min_size=len(ascii_text), max_size=len(ascii_text)))
    typed = "".join(FULL_WIDTH[c] if w else c for c, w in zip(ascii_text, wide, strict=True))
    assert Identifier().deserialize(f"{IDEOGRAPHIC_SPACE}{typed}") == ascii_text


@given(st.dates(min_value=date(1920, 1, 1), max_value=date(2010, 1, 1)), spellings)
def test_finding_6_an_id_number_parses_to_its_ascii_form_however_typed(birth, spelling):
    number = idnumber.make("329901", birth, 7)
    assert idnumber.parse(spell(number, *spelling)).value == number


def test_finding_6_the_phone_rule_takes_ascii_digits_only():
    PHONE("13912345678")
    with pytest.raises(ma.ValidationError):
        PHONE(_digits("13912345678", "\u0660"))
