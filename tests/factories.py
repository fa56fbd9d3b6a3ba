"""Factories for request payloads and rows; valid by default, override what a test is about."""

from __future__ import annotations

import itertools
from datetime import date

from corrections.persons import idnumber

_sequence = itertools.count(1)


def id_number_for(birth: date, gender: str = "male", address: str = "329901") -> str:
    n = next(_sequence) % 450
    code = n * 2 + (1 if gender == "male" else 0)
    return idnumber.make(address, birth, code % 1000)


def person_payload(**overrides) -> dict:
    """A valid intake for a 36-year-old man on a 2-year probation that began on 2026-11-01."""
    birth = overrides.pop("_birth", date(1990, 5, 17))
    gender = overrides.get("gender", "male")
    data = {
        "name": "张伟",
        "gender": gender,
        "id_number": id_number_for(birth, gender),
        "date_of_birth": birth.isoformat(),
        "offence_date": "2026-03-02",
        "category": "suspended_sentence",
        "crime_type": "dangerous_driving",
        "judgment_date": "2026-10-20",
        "judgment_effective_date": "2026-10-31",
        "term_start": "2026-11-01",
        "term_end": "2028-10-31",
        "has_guarantor": False,
        "phone": "13912345678",
        "address": "滨江市东城区人民路1号",
        "employment": "employed",
        "housing": "own",
        "family_contact_name": "李芳",
        "family_contact_phone": "13887654321",
    }
    data.update(overrides)
    return data


def juvenile_payload(**overrides) -> dict:
    """A 16-year-old girl on probation."""
    birth = date(2010, 3, 8)
    overrides.setdefault("gender", "female")
    overrides.setdefault("name", "王小红")
    overrides.setdefault("offence_date", "2026-02-01")
    overrides.setdefault("employment", "student")
    overrides.setdefault("housing", "family")
    return person_payload(_birth=birth, **overrides)
