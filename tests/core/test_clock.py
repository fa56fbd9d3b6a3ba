from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corrections.core.clock import (
    FrozenClock,
    add_months,
    age_on,
    business_date,
    start_of_business_day,
)


def test_business_date_follows_asia_shanghai_midnight():
    assert business_date(datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)) == date(2026, 10, 31)
    assert business_date(datetime(2026, 10, 31, 16, 0, 0, tzinfo=UTC)) == date(2026, 11, 1)
    assert start_of_business_day(date(2026, 11, 1)) == datetime(2026, 10, 31, 16, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        business_date(datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001


def test_add_months_clamps_to_month_end():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_leap_day_birthday():
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 17
    assert age_on(born, date(2026, 3, 1)) == 18


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(min_value=-240, max_value=240),
)
def test_add_months_lands_in_the_right_month(d, months):
    result = add_months(d, months)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == months
    assert result.day <= d.day


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2090, 1, 1)),
    st.integers(min_value=0, max_value=3650),
)
def test_age_never_decreases(birth, days):
    later = birth + timedelta(days=days)
    assert age_on(birth, later) <= age_on(birth, later + timedelta(days=1))
    assert age_on(birth, later) >= 0


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_start_of_business_day_contains_the_instant(at):
    start = start_of_business_day(business_date(at))
    assert start <= at < start + timedelta(days=1)
