"""GB 11643 ID numbers: check digit, birth date and gender."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corrections.persons import idnumber


def test_standard_example_from_gb_11643():
    parsed = idnumber.parse("11010519491231002X")
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.gender == "female"


def test_lower_case_x_is_accepted():
    assert idnumber.parse("11010519491231002x").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491331002X", "calendar date"),
        ("99010519491231002X", "province"),
        ("1101051949123100", "17 digits"),
        ("11010518991231002X", "1900"),
    ],
)
def test_invalid_numbers_say_why(raw, reason):
    with pytest.raises(idnumber.IdNumberError, match=reason):
        idnumber.parse(raw)


births = st.dates(min_value=date(1920, 1, 1), max_value=date(2026, 1, 1))


@given(births, st.integers(min_value=0, max_value=999), st.sampled_from(["110105", "329901"]))
def test_made_numbers_parse_back(birth, sequence, address):
    value = idnumber.make(address, birth, sequence)
    parsed = idnumber.parse(value)
    assert parsed.birth_date == birth
    assert parsed.gender == ("male" if sequence % 2 else "female")


@given(
    births,
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=16),
    st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_is_caught(birth, sequence, position, delta):
    value = idnumber.make("329901", birth, sequence)
    digit = (int(value[position]) + delta) % 10
    changed = value[:position] + str(digit) + value[position + 1 :]
    with pytest.raises(idnumber.IdNumberError):
        idnumber.parse(changed)
