"""Table tests of the travel-approval decision, named after the article each encodes
(社区矫正法 27; 实施办法 26–28, whose numbers are unverified: see rules/supervision.yaml)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from corrections.supervision.travel_rules import GradeTravel, TravelRules, Trip, decide

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def rules() -> TravelRules:
    return TravelRules.from_yaml(
        yaml.safe_load((RULES_DIR / "supervision.yaml").read_text(encoding="utf-8"))
    )


@pytest.fixture(scope="module")
def grades() -> dict[str, GradeTravel]:
    data = yaml.safe_load((RULES_DIR / "grading.yaml").read_text(encoding="utf-8"))
    return {
        g["id"]: GradeTravel(
            grade=g["id"],
            approver=g["requirements"]["travel"]["approver"],
            max_days=g["requirements"]["travel"].get("max_days"),
            conditions=tuple(g["requirements"]["travel"].get("conditions", ())),
        )
        for g in data["grades"]
    }


def _trip(rules, grade, start, end, others=()):
    return decide(start, end, other_trips=others, rules=rules, grade=grade, today=TODAY)


@pytest.mark.parametrize(
    ("start", "end", "level", "notify"),
    [
        (date(2026, 12, 1), date(2026, 12, 1), "office", False),
        (date(2026, 12, 1), date(2026, 12, 7), "office", False),
        (date(2026, 12, 1), date(2026, 12, 8), "district", False),
        (date(2026, 12, 1), date(2026, 12, 30), "district", False),
        (date(2026, 12, 1), date(2026, 12, 31), "city", True),
    ],
)
def test_shishi_banfa_27_levels_by_length(rules, grades, start, end, level, notify):
    d = _trip(rules, grades["ordinary"], start, end)
    assert (d.approval_level, d.notify_procuratorate, d.refused) == (level, notify, False)


def test_shishi_banfa_26_up_to_7_days_the_judicial_office_approves(rules, grades):
    d = _trip(rules, grades["lenient"], date(2026, 12, 1), date(2026, 12, 7))
    assert d.approval_level == "office"
    assert d.reasons[0].rule == "travel.office_max_days" and "实施办法" in d.reasons[0].article


def test_shishi_banfa_26_over_7_days_goes_to_the_district(rules, grades):
    d = _trip(rules, grades["ordinary"], date(2026, 12, 1), date(2026, 12, 8))
    assert (d.days, d.approval_level, d.notify_procuratorate) == (8, "district", False)


def test_shishi_banfa_27_a_single_trip_over_30_days_goes_to_the_city_not_refused(rules, grades):
    d = _trip(rules, grades["ordinary"], date(2026, 12, 1), date(2027, 1, 15))
    assert not d.refused
    assert (d.approval_level, d.notify_procuratorate) == ("city", True)
    assert [r.rule for r in d.reasons] == [
        "travel.district_max_days",
        "travel.city_approval_notifies",
    ]


def test_shishi_banfa_27_over_30_days_in_two_months_goes_to_the_city(rules, grades):
    earlier = [Trip(date(2026, 12, 1), date(2026, 12, 20))]  # 20 days
    d = _trip(rules, grades["ordinary"], date(2026, 12, 25), date(2027, 1, 5), earlier)
    assert (d.days, d.window_total_days) == (12, 32)
    assert (d.approval_level, d.notify_procuratorate) == ("city", True)
    assert "travel.window" in [r.rule for r in d.reasons]


def test_shishi_banfa_27_exactly_30_days_in_two_months_stays_with_the_district(rules, grades):
    earlier = [Trip(date(2026, 12, 1), date(2026, 12, 18))]  # 18 days
    d = _trip(rules, grades["ordinary"], date(2026, 12, 25), date(2027, 1, 5), earlier)
    assert (d.window_total_days, d.approval_level, d.notify_procuratorate) == (
        30,
        "district",
        False,
    )


def test_shishi_banfa_27_trips_before_the_two_month_window_do_not_count(rules, grades):
    long_ago = [Trip(date(2026, 9, 1), date(2026, 9, 30))]
    d = _trip(rules, grades["ordinary"], date(2026, 12, 1), date(2026, 12, 10), long_ago)
    assert (d.window_total_days, d.approval_level) == (10, "district")


def test_law_27_the_strict_grade_does_not_forbid_travel(rules, grades):
    d = _trip(rules, grades["strict"], date(2026, 12, 1), date(2026, 12, 2))
    assert not d.refused
    assert d.approval_level == "district"
    assert d.conditions == ("escort", "daily_check_in")


def test_law_27_a_grade_may_shorten_the_maximum(rules, grades):
    d = _trip(rules, grades["strict"], date(2026, 12, 1), date(2026, 12, 8))
    assert d.refused and d.refusals[0].rule == "grading.strict.travel"


def test_law_27_a_grade_raises_the_level_never_lowers_it(rules, grades):
    short = _trip(rules, grades["tight"], date(2026, 12, 1), date(2026, 12, 2))
    assert (short.approval_level, short.conditions) == ("district", ("daily_check_in",))
    long = _trip(rules, grades["tight"], date(2026, 12, 1), date(2027, 1, 2))
    assert (long.approval_level, long.notify_procuratorate) == ("city", True)


def test_a_trip_starting_in_the_past_is_refused(rules, grades):
    d = _trip(rules, grades["ordinary"], date(2026, 11, 20), date(2026, 11, 28))
    assert d.refused


def test_the_decision_names_the_rules_version(rules, grades):
    d = _trip(rules, grades["ordinary"], date(2026, 12, 1), date(2026, 12, 2))
    assert d.rules_version == rules.version
