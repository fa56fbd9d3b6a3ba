"""Statutory clocks (法定期限) as data: ``rules/clocks.yaml`` and ``rules/holidays/<year>.yaml``.

Every legal deadline is a clock with its article, amount and unit (``hours``, ``days``,
``working_days``, ``calendar_months``); :func:`due` is the one engine that computes due dates, in
Asia/Shanghai. It is pure: (clock id, start, rules, calendar) -> due date.

Counting follows the procedural rule (刑事诉讼法 第一百零五条): the starting day is not counted,
so 10 days from 1 Nov is 11 Nov and 3 months from 15 Jan is 15 Apr. A clock whose period includes
its first day (``start_day_counts``, e.g. 3 months of monitoring from 15 Jan ends 14 Apr) ends a
day earlier. Calendar months clamp at month ends like :func:`~corrections.core.clock.add_months`
(31 Jan + 1 month = 28/29 Feb). Working days (工作日) skip weekends and public holidays but count
the weekends the State Council turns into working days (调休); a working-day clock that reaches a
year without a holiday file raises instead of guessing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import marshmallow as ma

from corrections.core import rules as registry
from corrections.core.clock import BUSINESS_TZ, add_months

log = logging.getLogger(__name__)

UNITS = ("hours", "days", "working_days", "calendar_months")
BASES = ("statute", "local")
DIRECTIONS = ("after", "before")
DAY = timedelta(days=1)


class ClockError(Exception):
    """A clock cannot be computed (unknown clock, wrong kind of start, year without holidays)."""


# --- rules/clocks.yaml ----------------------------------------------------------------------


class ClockSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    article = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    basis = ma.fields.String(required=True, validate=ma.validate.OneOf(BASES))
    verified = ma.fields.Boolean(load_default=True)
    amount = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=3650))
    unit = ma.fields.String(required=True, validate=ma.validate.OneOf(UNITS))
    counts_from = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$", error="must be a snake_case id"),
    )
    direction = ma.fields.String(load_default="after", validate=ma.validate.OneOf(DIRECTIONS))
    start_day_counts = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def _start_day(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("start_day_counts") and data.get("unit") not in ("days", "calendar_months"):
            raise ma.ValidationError(
                "only days and calendar_months clocks can count their start day",
                "start_day_counts",
            )


@registry.register("clocks.yaml")
class ClocksRulesSchema(ma.Schema):
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    clocks = ma.fields.Dict(
        keys=ma.fields.String(
            validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$", error="must be a snake_case id")
        ),
        values=ma.fields.Nested(ClockSchema),
        required=True,
        validate=ma.validate.Length(min=1),
    )


@dataclass(frozen=True)
class Clock:
    id: str
    label_zh: str
    article: str
    basis: str
    verified: bool
    amount: int
    unit: str
    counts_from: str
    direction: str = "after"
    start_day_counts: bool = False


@dataclass(frozen=True)
class Clocks:
    version: str
    clocks: Mapping[str, Clock]

    def __getitem__(self, clock_id: str) -> Clock:
        try:
            return self.clocks[clock_id]
        except KeyError:
            raise ClockError(f"clocks.yaml: clocks.{clock_id}: no such clock") from None


def build(data: Mapping[str, Any]) -> Clocks:
    """The typed form of a validated ``clocks.yaml``."""
    return Clocks(
        version=data["version"],
        clocks={cid: Clock(id=cid, **spec) for cid, spec in data["clocks"].items()},
    )


# --- rules/holidays/<year>.yaml -------------------------------------------------------------


class HolidaysSchema(ma.Schema):
    year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=2000, max=2100))
    verified = ma.fields.Boolean(required=True)
    source = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    holidays = ma.fields.List(ma.fields.Date(), required=True)
    working_weekends = ma.fields.List(ma.fields.Date(), required=True)

    @ma.validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        year = data.get("year")
        errors: dict[str, list[str]] = {}
        for key in ("holidays", "working_weekends"):
            for d in data.get(key, []):
                if d.year != year:
                    errors.setdefault(key, []).append(f"{d.isoformat()} is not in {year}")
        for d in data.get("working_weekends", []):
            if d.weekday() < 5:
                errors.setdefault("working_weekends", []).append(
                    f"{d.isoformat()} is not a Saturday or Sunday"
                )
        both = set(data.get("holidays", [])) & set(data.get("working_weekends", []))
        if both:
            errors.setdefault("working_weekends", []).append(
                "also listed as holidays: " + ", ".join(sorted(d.isoformat() for d in both))
            )
        if errors:
            raise ma.ValidationError(errors)


@dataclass(frozen=True)
class WorkCalendar:
    """Public holidays and adjusted working weekends, per year the bureau has entered."""

    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    unverified_years: frozenset[int] = frozenset()

    def is_working_day(self, d: date) -> bool:
        if d.year not in self.years:
            raise ClockError(
                f"holidays/{d.year}.yaml: no public holidays entered for {d.year}; "
                "working days cannot be counted (add the State Council's schedule)"
            )
        if d in self.working_weekends:
            return True
        return d.weekday() < 5 and d not in self.holidays


def load_holidays_file(path: Path) -> dict[str, Any]:
    """Read and validate one holidays file; errors name file and key."""
    return registry.load_file(path, HolidaysSchema)


def load_calendar(folder: Path) -> WorkCalendar:
    """Every ``<year>.yaml`` in ``folder``. A file marked ``verified: false`` loads with a
    warning: its dates were not checked against the State Council's notice."""
    holidays: set[date] = set()
    working: set[date] = set()
    years: set[int] = set()
    unverified: set[int] = set()
    if not folder.is_dir():
        log.warning("%s: no holidays folder; working-day clocks cannot be computed", folder)
        return WorkCalendar()
    for path in sorted(folder.glob("*.yaml")):
        data = load_holidays_file(path)
        if path.stem != str(data["year"]):
            raise registry.RulesError(
                f"{path.name}: year: {data['year']} does not match the file name"
            )
        if not data["verified"]:
            unverified.add(data["year"])
            log.warning(
                "holidays/%s: verified: false; the dates were not checked against the State "
                "Council's notice, working-day deadlines in %s may be wrong",
                path.name,
                data["year"],
            )
        years.add(data["year"])
        holidays.update(data["holidays"])
        working.update(data["working_weekends"])
    return WorkCalendar(
        frozenset(holidays), frozenset(working), frozenset(years), frozenset(unverified)
    )


# --- the engine -----------------------------------------------------------------------------


def _add_working_days(start: date, n: int, calendar: WorkCalendar) -> date:
    step = DAY if n > 0 else -DAY
    d, left = start, abs(n)
    while left:
        d += step
        if calendar.is_working_day(d):
            left -= 1
    return d


def _due_date(clock: Clock, start: date, calendar: WorkCalendar | None) -> date:
    sign = -1 if clock.direction == "before" else 1
    n = sign * clock.amount
    if clock.unit == "days":
        result = start + timedelta(days=n)
    elif clock.unit == "calendar_months":
        result = add_months(start, n)
    elif clock.unit == "working_days":
        if calendar is None:
            raise ClockError(f"clocks.yaml: clocks.{clock.id}: working days need a calendar")
        return _add_working_days(start, n, calendar)
    else:
        raise ClockError(f"clocks.yaml: clocks.{clock.id}: an hours clock needs a datetime")
    if clock.start_day_counts:
        result -= sign * DAY
    return result


def due(
    clock_id: str,
    start: datetime | date,
    rules: Clocks,
    calendar: WorkCalendar | None = None,
) -> datetime | date:
    """When clock ``clock_id`` started at ``start`` runs out (the last day that is on time).

    A date gives a date. An aware datetime gives an aware datetime in Asia/Shanghai: hours are
    added to the instant; day units are counted on its Asia/Shanghai date, at the same time of day.
    """
    clock = rules[clock_id]
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ClockError("naive datetime")
        local = start.astimezone(BUSINESS_TZ)
        if clock.unit == "hours":
            sign = -1 if clock.direction == "before" else 1
            return local + timedelta(hours=sign * clock.amount)
        d = _due_date(clock, local.date(), calendar)
        return local.replace(year=d.year, month=d.month, day=d.day)
    return _due_date(clock, start, calendar)


def latest_start(
    clock_id: str, on: date, rules: Clocks, calendar: WorkCalendar | None = None
) -> date:
    """The latest start date whose clock has run out by ``on`` (``due(start) <= on``).

    For set-based queries: "term ends on or before this date" selects every person whose
    pre-expiry summary is due by ``on``, without computing the clock per row.
    """
    if rules[clock_id].unit == "hours":
        raise ClockError(f"clocks.yaml: clocks.{clock_id}: an hours clock has no start date")
    # due() never decreases as the start moves later, so walk from a first guess.
    start = on
    while _due_date(rules[clock_id], start, calendar) > on:
        start -= DAY
    while _due_date(rules[clock_id], start + DAY, calendar) <= on:
        start += DAY
    return start


# --- the running app ------------------------------------------------------------------------


def current() -> Clocks:
    """The clocks of the running app (built once per app)."""
    from flask import current_app

    cache = current_app.extensions.setdefault("corrections.clocks", {})
    if "rules" not in cache:
        cache["rules"] = build(registry.get("clocks"))
    return cache["rules"]


def calendar() -> WorkCalendar:
    """The working-day calendar of the running app (``rules/holidays``, loaded at start-up)."""
    from flask import current_app

    return current_app.extensions["corrections.calendar"]


def due_for(clock_id: str, start: datetime | date) -> datetime | date:
    """:func:`due` with the running app's clocks and calendar."""
    return due(clock_id, start, current(), calendar())
