"""Table tests of the default ruleset, one per rule id (rules/grading.yaml, assessment.yaml)."""

from __future__ import annotations

from datetime import date

import pytest

from corrections.grading import engine
from corrections.grading.engine import (
    AssessmentSummary,
    EventRecord,
    GradeHistory,
    MonthInputs,
    ObligationOutcome,
    PersonFacts,
)


def facts(**kw) -> PersonFacts:
    base = {
        "category": "suspended_sentence",
        "has_guarantor": False,
        "juvenile": False,
        "intake_risk": "medium",
    }
    base.update(kw)
    return PersonFacts(**base)


# --- intake ------------------------------------------------------------------------------


def test_rule_intake_high_risk_strict(rules):
    result = engine.initial_grade(facts(intake_risk="high"), rules)
    assert result.grade == "strict" and result.rule_ids == ("intake_high_risk_strict",)
    assert result.inputs["intake_risk"] == "high"


def test_rule_intake_outside_custody_without_guarantor_strict(rules):
    result = engine.initial_grade(facts(category="temporary_outside_custody"), rules)
    assert result.grade == "strict"
    assert result.rule_ids == ("intake_outside_custody_without_guarantor_strict",)
    with_guarantor = engine.initial_grade(
        facts(category="temporary_outside_custody", has_guarantor=True), rules
    )
    assert with_guarantor.grade == "tight"


@pytest.mark.parametrize("category", ["control_order", "suspended_sentence", "parole"])
@pytest.mark.parametrize("risk", [None, "low", "medium"])
def test_rule_intake_first_two_months_tight(rules, category, risk):
    result = engine.initial_grade(facts(category=category, intake_risk=risk), rules)
    assert result.grade == "tight"
    assert result.rule_ids == ("intake_first_two_months_tight",)
    # Every intake starts in the strict level (严管).
    assert rules.grade(result.grade).level == "strict"


# --- stricter at once --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("lenient", "tight"),
        ("relaxed", "tight"),
        ("ordinary", "tight"),
        ("tight", None),
        ("strict", None),
    ],
)
def test_rule_stricter_admonition_at_least_tight(rules, current, expected):
    result = engine.stricter_for(current, "admonition", rules)
    if expected is None:
        assert result is None
    else:
        assert result.grade == expected
        assert result.rule_ids == ("stricter_admonition_at_least_tight",)


@pytest.mark.parametrize(
    ("event", "rule_id"),
    [
        ("warning", "stricter_warning_strict"),
        ("police_penalty", "stricter_police_penalty_strict"),
        ("lost_contact", "stricter_lost_contact_strict"),
        ("electronic_monitoring", "stricter_electronic_monitoring_strict"),
    ],
)
@pytest.mark.parametrize("current", ["tight", "ordinary", "relaxed", "lenient"])
def test_rule_stricter_to_strict(rules, event, rule_id, current):
    result = engine.stricter_for(current, event, rules)
    assert result.grade == "strict" and result.rule_ids == (rule_id,)
    assert engine.stricter_for("strict", event, rules) is None


def test_events_without_a_stricter_rule_change_nothing(rules):
    assert engine.stricter_for("lenient", "commendation", rules) is None
    assert engine.stricter_for("lenient", "late_report", rules) is None


# --- monthly assessment ------------------------------------------------------------------

OCT = date(2026, 10, 1)


def test_rule_rating_good_with_a_clean_month(rules):
    result = engine.assess_month(
        MonthInputs(OCT, obligations=(ObligationOutcome("report", "fulfilled"),)), rules
    )
    assert (result.score, result.rating) == (100, "good")
    assert result.complete
    assert "rating_good" in [r.rule_id for r in result.reasons]


def test_rule_deduct_missed_report(rules):
    result = engine.assess_month(
        MonthInputs(
            OCT,
            obligations=(
                ObligationOutcome("report", "missed"),
                ObligationOutcome("report", "fulfilled"),
            ),
        ),
        rules,
    )
    assert result.score == 90 and result.rating == "good"  # 90 is still good (>= 90)
    assert [d.rule_id for d in result.deductions] == ["deduct_missed_report"]


def test_rule_deduct_missed_check(rules):
    result = engine.assess_month(
        MonthInputs(OCT, obligations=(ObligationOutcome("check", "missed"),) * 3), rules
    )
    assert result.score == 85 and result.rating == "pass"
    assert result.deductions[0].count == 3


@pytest.mark.parametrize(
    ("kind", "rule_id"),
    [("education", "deduct_education_hours_short"), ("service", "deduct_service_hours_short")],
)
def test_rule_deduct_hours_short(rules, kind, rule_id):
    result = engine.assess_month(
        MonthInputs(
            OCT, obligations=(ObligationOutcome(kind, "missed", hours_required=8, hours_done=5.5),)
        ),
        rules,
    )
    assert result.score == 95  # 2.5 hours short x 2 points
    assert [d.rule_id for d in result.deductions] == [rule_id]
    excused = engine.assess_month(
        MonthInputs(
            OCT, obligations=(ObligationOutcome(kind, "excused", hours_required=8, hours_done=0),)
        ),
        rules,
    )
    assert excused.score == 100


def test_rule_deduct_late_report(rules):
    result = engine.assess_month(
        MonthInputs(OCT, events=(EventRecord("late_report", date(2026, 10, 9)),)), rules
    )
    assert result.score == 97 and result.deductions[0].rule_id == "deduct_late_report"


@pytest.mark.parametrize(
    ("event", "rule_id", "score"),
    [
        ("admonition", "deduct_admonition", 80),
        ("warning", "deduct_warning", 60),
        ("police_penalty", "deduct_police_penalty", 40),
    ],
)
def test_rule_sanctions_deduct_and_fail_the_month(rules, event, rule_id, score):
    result = engine.assess_month(MonthInputs(OCT, events=(EventRecord(event, OCT),)), rules)
    assert result.score == score
    assert result.rating == "fail"  # whatever the score
    ids = [r.rule_id for r in result.reasons]
    assert rule_id in ids and "assessment_fail_on_sanction" in ids


@pytest.mark.parametrize(
    ("missed_reports", "rating"), [(1, "good"), (2, "pass"), (4, "pass"), (5, "fail")]
)
def test_rule_rating_thresholds(rules, missed_reports, rating):
    result = engine.assess_month(
        MonthInputs(OCT, obligations=(ObligationOutcome("report", "missed"),) * missed_reports),
        rules,
    )
    assert result.score == 100 - 10 * missed_reports
    assert result.rating == rating


def test_score_never_goes_below_zero(rules):
    result = engine.assess_month(
        MonthInputs(OCT, events=(EventRecord("police_penalty", OCT),) * 3), rules
    )
    assert result.score == 0


def test_a_month_with_nothing_on_record_is_not_evidence(rules):
    result = engine.assess_month(MonthInputs(OCT), rules)
    assert result.score == 100 and not result.complete


# --- looser, one step at a time ----------------------------------------------------------

TODAY = date(2026, 11, 1)


def good(month: date, score: int = 100) -> AssessmentSummary:
    return AssessmentSummary(
        month=month, score=score, rating="good" if score >= 90 else "pass", complete=True
    )


def history(**kw) -> GradeHistory:
    base = {
        "current_grade": "tight",
        "grade_since": date(2026, 8, 1),
        "intake_date": date(2026, 8, 1),
        "out_of_strict_level_since": None,
        "assessments": (good(date(2026, 8, 1)), good(date(2026, 9, 1)), good(date(2026, 10, 1))),
        "sanctions": (),
        "commendations": (),
    }
    base.update(kw)
    return GradeHistory(**base)


def test_rule_looser_one_step(rules):
    result = engine.evaluate_looser(history(), rules, TODAY)
    assert result.eligible and result.to_grade == "ordinary"
    assert "looser_one_step" in result.rule_ids
    top = engine.evaluate_looser(history(current_grade="lenient"), rules, TODAY)
    assert not top.eligible and top.to_grade is None


def test_rule_looser_min_months_in_grade(rules):
    # Three months to the day is enough; a day less is not.
    assert engine.evaluate_looser(history(grade_since=date(2026, 8, 1)), rules, TODAY).eligible
    late = engine.evaluate_looser(history(grade_since=date(2026, 8, 2)), rules, TODAY)
    assert not late.eligible
    assert [r.rule_id for r in late.unmet] == ["looser_min_months_in_grade"]


def test_rule_looser_after_initial_period(rules):
    result = engine.evaluate_looser(
        history(intake_date=date(2026, 9, 2), grade_since=date(2026, 8, 1)), rules, TODAY
    )
    assert "looser_after_initial_period" in [r.rule_id for r in result.unmet]


@pytest.mark.parametrize(
    "assessments",
    [
        (good(date(2026, 9, 1)), good(date(2026, 10, 1))),  # only two months
        (good(date(2026, 8, 1)), good(date(2026, 9, 1), score=85), good(date(2026, 10, 1))),
        (good(date(2026, 7, 1)), good(date(2026, 8, 1)), good(date(2026, 9, 1))),  # Oct missing
        (
            good(date(2026, 8, 1)),
            good(date(2026, 9, 1)),
            AssessmentSummary(date(2026, 10, 1), 100, "good", complete=False),
        ),  # no evidence
    ],
)
def test_rule_looser_good_assessments(rules, assessments):
    result = engine.evaluate_looser(history(assessments=assessments), rules, TODAY)
    assert not result.eligible
    assert [r.rule_id for r in result.unmet] == ["looser_good_assessments"]


def test_rule_looser_sanction_free(rules):
    # A sanction more than six months ago does not block; one inside the window does.
    old = EventRecord("admonition", date(2026, 5, 1))
    assert engine.evaluate_looser(history(sanctions=(old,)), rules, TODAY).eligible
    recent = EventRecord("warning", date(2026, 5, 2))
    result = engine.evaluate_looser(history(sanctions=(recent,)), rules, TODAY)
    assert [r.rule_id for r in result.unmet] == ["looser_sanction_free"]


def _ordinary(**kw) -> GradeHistory:
    base = {
        "current_grade": "ordinary",
        "intake_date": date(2025, 11, 1),
        "grade_since": date(2026, 5, 1),
        "out_of_strict_level_since": date(2026, 5, 1),
    }
    base.update(kw)
    return history(**base)


def test_rule_looser_into_lenient_time_and_score(rules):
    result = engine.evaluate_looser(_ordinary(), rules, TODAY)
    assert result.eligible and result.to_grade == "relaxed"
    assert "looser_into_lenient_time_and_score" in result.rule_ids
    short = engine.evaluate_looser(
        _ordinary(out_of_strict_level_since=date(2026, 5, 2), grade_since=date(2026, 5, 2)),
        rules,
        TODAY,
    )
    assert "looser_into_lenient_level" in [r.rule_id for r in short.unmet]


def test_rule_looser_into_lenient_commendations(rules):
    recent = _ordinary(out_of_strict_level_since=date(2026, 7, 1), grade_since=date(2026, 7, 1))
    assert not engine.evaluate_looser(recent, rules, TODAY).eligible
    praised = _ordinary(
        out_of_strict_level_since=date(2026, 7, 1),
        grade_since=date(2026, 7, 1),
        commendations=tuple(EventRecord("commendation", date(2026, m, 15)) for m in (7, 8, 9)),
    )
    result = engine.evaluate_looser(praised, rules, TODAY)
    assert result.eligible and "looser_into_lenient_commendations" in result.rule_ids
    # A sanction between the commendations breaks the streak.
    broken = _ordinary(
        out_of_strict_level_since=date(2026, 7, 1),
        grade_since=date(2026, 7, 1),
        commendations=tuple(EventRecord("commendation", date(2026, m, 15)) for m in (3, 8, 9)),
        sanctions=(EventRecord("admonition", date(2026, 4, 1)),),
    )
    assert not engine.evaluate_looser(broken, rules, TODAY).eligible


def test_rule_looser_into_lenient_low_risk(rules):
    recent = _ordinary(
        out_of_strict_level_since=date(2026, 7, 1), grade_since=date(2026, 7, 1), risk_band="low"
    )
    result = engine.evaluate_looser(recent, rules, TODAY)
    assert result.eligible and "looser_into_lenient_low_risk" in result.rule_ids
    medium = _ordinary(
        out_of_strict_level_since=date(2026, 7, 1), grade_since=date(2026, 7, 1), risk_band="medium"
    )
    assert not engine.evaluate_looser(medium, rules, TODAY).eligible


def test_rule_looser_quarterly_average_score_min(rules):
    """With the defaults, three good months (>= 90) always average >= 80; a bureau that raises
    the bar above the good rating gets it enforced."""
    import dataclasses

    scores = (good(date(2026, 8, 1), 90), good(date(2026, 9, 1), 90), good(date(2026, 10, 1), 95))
    assert engine.evaluate_looser(_ordinary(assessments=scores), rules, TODAY).eligible
    looser = dict(rules.looser)
    looser["into_lenient_level"] = {
        **looser["into_lenient_level"],
        "quarterly_average_score_min": 92,
    }
    strict_bar = dataclasses.replace(rules, looser=looser)
    result = engine.evaluate_looser(_ordinary(assessments=scores), strict_bar, TODAY)
    assert not result.eligible
    assert "looser_into_lenient_level" in [r.rule_id for r in result.unmet]


def test_review_every_three_months(rules):
    assert engine.next_review_date(date(2026, 11, 30), rules) == date(2027, 2, 28)
