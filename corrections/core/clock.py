"""One injectable clock.

Everything that needs "now" asks :func:`now_utc` (or the clock on the app), never
``datetime.now()`` directly, so tests can freeze and move time. Business dates (due days,
month boundaries, the 10-day intake deadline) are computed in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until moved; for tests and replays."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = at.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now


_default_clock = SystemClock()


def get_clock() -> SystemClock | FrozenClock:
    if has_app_context():
        return current_app.extensions.get("corrections.clock", _default_clock)
    return _default_clock


def now_utc() -> datetime:
    """The current time, timezone-aware in UTC, from the app's clock."""
    return get_clock().now()


def business_date(at: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    return at.astimezone(BUSINESS_TZ).date()


def today() -> date:
    """Today's business date (Asia/Shanghai)."""
    return business_date(now_utc())


def start_of_business_day(d: date) -> datetime:
    """Midnight in Asia/Shanghai of business date ``d``, as UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=BUSINESS_TZ).astimezone(UTC)


def add_months(d: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the last day (Jan 31 + 1 month = Feb 28/29)."""
    import calendar

    month_index = d.month - 1 + months
    year = d.year + month_index // 12
    month = month_index % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def age_on(birth: date, on: date) -> int:
    """Completed years of age on a date (a person born on Feb 29 turns a year older on Mar 1)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years
