"""Statutory clocks: one table test per clock, named after its article, on the project's own
``rules/clocks.yaml`` and ``rules/holidays``; the engine's edges (working days, 调休, months)."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import corrections
from corrections.core import clocks
from corrections.core import rules as registry
from corrections.core.clock import BUSINESS_TZ

RULES_DIR = Path(corrections.__file__).parent.parent / "rules"
RULES = clocks.build(registry.load_file(RULES_DIR / "clocks.yaml", clocks.ClocksRulesSchema))
CALENDAR = clocks.load_calendar(RULES_DIR / "holidays")
DAY = timedelta(days=1)


def due(clock_id, start):
    return clocks.due(clock_id, start, RULES, CALENDAR)


# --- one table per clock, named after the article -----------------------------------------


@pytest.mark.parametrize(
    ("effective", "deadline"),
    [
        (date(2026, 11, 1), date(2026, 11, 11)),  # the effective day itself is not counted
        (date(2026, 12, 25), date(2027, 1, 4)),  # across the year end
        (date(2026, 9, 28), date(2026, 10, 8)),  # calendar days: 国庆 does not stop the clock
    ],
)
def test_law_21_intake_within_10_days(effective, deadline):
    assert due("intake_report", effective) == deadline
    assert RULES["intake_report"].article == "社区矫正法 第二十一条第一款"


def test_law_21_custody_handover_within_10_days():
    assert due("custody_handover", date(2026, 3, 1)) == date(2026, 3, 11)


def test_law_20_notice_within_5_days_documents_within_10_days():
    assert due("decision_notice", date(2026, 11, 1)) == date(2026, 11, 6)
    assert due("documents_served", date(2026, 11, 1)) == date(2026, 11, 11)


def test_law_33_commutation_ruling_within_30_days():
    assert due("commutation_ruling", date(2026, 2, 1)) == date(2026, 3, 3)


@pytest.mark.parametrize(
    ("requested", "decided_by"),
    [
        (
            datetime(2026, 10, 1, 9, 30, tzinfo=BUSINESS_TZ),
            datetime(2026, 10, 3, 9, 30, tzinfo=BUSINESS_TZ),
        ),
        # An instant in UTC: 48 hours later, given in Asia/Shanghai.
        (
            datetime(2026, 11, 30, 20, 0, tzinfo=UTC),
            datetime(2026, 12, 3, 4, 0, tzinfo=BUSINESS_TZ),
        ),
    ],
)
def test_law_47_arrest_decision_within_48_hours(requested, decided_by):
    result = due("arrest_decision", requested)
    assert result == decided_by
    assert result.utcoffset() == timedelta(hours=8)


def test_law_47_arrest_decision_needs_an_instant_not_a_date():
    with pytest.raises(clocks.ClockError, match="arrest_decision"):
        due("arrest_decision", date(2026, 10, 1))


def test_law_47_custody_after_arrest_at_most_30_days():
    assert due("arrest_custody_limit", date(2026, 1, 20)) == date(2026, 2, 19)


@pytest.mark.parametrize(
    ("received", "ruling_by"),
    [(date(2026, 11, 1), date(2026, 12, 1)), (date(2026, 2, 10), date(2026, 3, 12))],
)
def test_law_48_revocation_ruling_within_30_days(received, ruling_by):
    assert due("revocation_ruling", received) == ruling_by


def test_law_49_return_to_custody_decision_within_30_days():
    assert due("return_to_custody_decision", date(2026, 12, 15)) == date(2027, 1, 14)


@pytest.mark.parametrize(
    ("start", "last_day"),
    [
        (date(2026, 1, 15), date(2026, 4, 14)),  # the first day is a day of monitoring
        (date(2026, 11, 27), date(2027, 2, 26)),
        (date(2025, 11, 30), date(2026, 2, 27)),  # Feb has no 30th: clamps to the 28th, less 1
        (date(2026, 1, 31), date(2026, 4, 29)),
        (date(2027, 12, 1), date(2028, 2, 29)),  # leap year
    ],
)
def test_law_29_monitoring_period_at_most_3_calendar_months(start, last_day):
    assert due("monitoring_period", start) == last_day
    assert RULES["monitoring_period"].unit == "calendar_months"


@pytest.mark.parametrize(
    ("term_end", "summary_by"),
    [(date(2026, 12, 31), date(2026, 12, 1)), (date(2027, 3, 1), date(2027, 1, 30))],
)
def test_implementing_measures_53_summary_30_days_before_the_term_ends(term_end, summary_by):
    assert due("pre_expiry_summary", term_end) == summary_by
    # The set-based job asks the other way round: which terms have reached it by a day.
    assert clocks.latest_start("pre_expiry_summary", summary_by, RULES) == term_end
    assert RULES["pre_expiry_summary"].verified is False  # article text not checked yet


@pytest.mark.parametrize(
    ("commissioned", "due_on"),
    [
        # Mon 28 Sep: Tue, Wed, (国庆 1–7 Oct), Thu 8, Fri 9, Sat 10 (调休上班), Mon 12 ... Fri 16.
        (date(2026, 9, 28), date(2026, 10, 16)),
        # Fri 18 Sep: Sun 20 is an adjusted working day; 中秋 25–27 and 国庆 are not.
        (date(2026, 9, 18), date(2026, 10, 9)),
        # 春节 2026: Sat 14 Feb works, 15–23 off, Sat 28 Feb works.
        (date(2026, 2, 13), date(2026, 3, 5)),
        # 2025 国庆/中秋 1–8 Oct, Sat 11 Oct works.
        (date(2025, 9, 30), date(2025, 10, 21)),
    ],
)
def test_implementing_measures_14_assessment_10_working_days(commissioned, due_on):
    assert due("investigation_assessment", commissioned) == due_on


@pytest.mark.parametrize(
    ("decided", "report_by"),
    [
        (date(2026, 11, 27), date(2026, 12, 4)),  # the decision's day is not counted
        (date(2026, 12, 28), date(2027, 1, 4)),  # across the year
        (date(2027, 2, 10), date(2027, 2, 17)),  # calendar days: the Spring Festival counts
    ],
)
def test_implementing_measures_30_report_at_the_new_place_within_7_days(decided, report_by):
    assert due("transfer_report", decided) == report_by
    assert RULES["transfer_report"].unit == "days"
    assert RULES["transfer_report"].verified is False  # article text not checked yet


def test_every_clock_has_a_table_test():
    tested = {
        "intake_report",
        "custody_handover",
        "decision_notice",
        "documents_served",
        "investigation_assessment",
        "commutation_ruling",
        "arrest_decision",
        "arrest_custody_limit",
        "revocation_ruling",
        "return_to_custody_decision",
        "monitoring_period",
        "pre_expiry_summary",
        "transfer_report",
    }
    assert set(RULES.clocks) == tested


# --- the engine -----------------------------------------------------------------------------


def test_working_days_without_adjusted_weekend_would_be_a_day_later():
    plain = clocks.WorkCalendar(
        holidays=CALENDAR.holidays, working_weekends=frozenset(), years=CALENDAR.years
    )
    assert clocks.due("investigation_assessment", date(2026, 9, 28), RULES, plain) == date(
        2026, 10, 19
    )


def test_working_days_refuse_a_year_without_holidays_instead_of_guessing():
    with pytest.raises(clocks.ClockError, match=r"holidays/2027\.yaml"):
        due("investigation_assessment", date(2026, 12, 24))
    with pytest.raises(clocks.ClockError, match="calendar"):
        clocks.due("investigation_assessment", date(2026, 3, 2), RULES)


def test_a_datetime_start_counts_days_on_the_shanghai_date():
    # 23:30 UTC on 31 Oct is 07:30 on 1 Nov in Shanghai: 10 days from 1 Nov.
    start = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert due("intake_report", start) == datetime(2026, 11, 11, 7, 30, tzinfo=BUSINESS_TZ)
    with pytest.raises(clocks.ClockError, match="naive"):
        due("intake_report", datetime(2026, 11, 1))  # noqa: DTZ001


def test_unknown_clock_names_file_and_key():
    with pytest.raises(clocks.ClockError, match=r"clocks\.yaml: clocks\.nope"):
        due("nope", date(2026, 1, 1))


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 1)))
def test_days_clocks_add_the_amount_and_latest_start_inverts(start):
    assert (due("intake_report", start) - start).days == 10
    on = start
    anchor = clocks.latest_start("pre_expiry_summary", on, RULES)
    assert due("pre_expiry_summary", anchor) <= on < due("pre_expiry_summary", anchor + DAY)


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30)))
def test_working_day_due_date_is_a_working_day_after_the_start(start):
    result = due("investigation_assessment", start)
    assert result > start and CALENDAR.is_working_day(result)
    days = [start + timedelta(days=i) for i in range(1, (result - start).days + 1)]
    assert sum(CALENDAR.is_working_day(d) for d in days) == 10


# --- the files ------------------------------------------------------------------------------


def _copy(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bad_clock_unit_names_file_and_key(tmp_path):
    rules_dir = _copy(tmp_path)
    _edit(rules_dir / "clocks.yaml", "unit: hours", "unit: fortnights")
    with pytest.raises(registry.RulesError, match=r"clocks\.yaml: clocks\.arrest_decision\.unit"):
        registry.load_file(rules_dir / "clocks.yaml")


def test_start_day_counts_only_for_days_and_months(tmp_path):
    rules_dir = _copy(tmp_path)
    _edit(
        rules_dir / "clocks.yaml",
        "unit: working_days",
        "unit: working_days\n    start_day_counts: true",
    )
    with pytest.raises(registry.RulesError, match=r"investigation_assessment\.start_day_counts"):
        registry.load_file(rules_dir / "clocks.yaml")


def test_holiday_file_errors_name_file_and_key(tmp_path):
    rules_dir = _copy(tmp_path)
    _edit(rules_dir / "holidays" / "2026.yaml", "- 2026-10-10  # 周六", "- 2026-10-09")
    with pytest.raises(registry.RulesError, match=r"2026\.yaml: working_weekends: .*Saturday"):
        clocks.load_calendar(rules_dir / "holidays")
    rules_dir = _copy(tmp_path / "again")
    (rules_dir / "holidays" / "2026.yaml").rename(rules_dir / "holidays" / "2024.yaml")
    with pytest.raises(registry.RulesError, match=r"2024\.yaml: year"):
        clocks.load_calendar(rules_dir / "holidays")


def test_unverified_holiday_file_loads_with_a_warning(tmp_path, caplog):
    rules_dir = _copy(tmp_path)
    _edit(rules_dir / "holidays" / "2026.yaml", "verified: true", "verified: false")
    with caplog.at_level(logging.WARNING, logger="corrections.core.clocks"):
        calendar = clocks.load_calendar(rules_dir / "holidays")
    assert calendar.unverified_years == {2026}
    assert "2026.yaml: verified: false" in caplog.text


def test_the_app_loads_the_calendar_at_start_up(app):
    with app.app_context():
        assert clocks.calendar().years >= {2025, 2026}
        assert clocks.due_for("intake_report", date(2026, 11, 1)) == date(2026, 11, 11)


def test_rules_show_articles_lists_every_rule_with_its_article(monkeypatch):
    from click.testing import CliRunner

    from corrections.cli import main

    monkeypatch.setenv("CORRECTIONS_RULES_DIR", str(RULES_DIR))
    result = CliRunner().invoke(main, ["rules", "show", "--articles"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def line(path):
        return next(x for x in lines if path in x)

    assert "社区矫正法 第二十一条第一款" in line("clocks.yaml: clocks.intake_report ")
    assert "10" in line("clocks.intake_report ") and "days from judgment_effective" in result.output
    assert "48" in line("clocks.arrest_decision") and "hours" in line("clocks.arrest_decision")
    assert "UNVERIFIED" in line("clocks.pre_expiry_summary")
    assert "max_months=36" in line("persons.yaml: categories.control_order.term")
    assert "刑法 第三十八条、第六十九条" in line("categories.control_order.term")
    assert "holidays/2026.yaml" in result.output
    # Every clock is listed.
    assert all(f"clocks.{cid} " in result.output for cid in RULES.clocks)
    # Articles given under keys of their own (a new user found them missing): the 10-day
    # thresholds, each category's revocation grounds, the five monitoring grounds.
    assert "warning_after=10 days" in line("incidents.yaml: absence.warning ")
    assert "实施办法 35(2)" in line("incidents.yaml: late_intake.warning ")
    assert "proposes=revocation" in line("revocation_by_category.parole.absence ")
    assert "刑诉法解释 543 ¶2" in line("revocation_by_category.parole.absence ")
    assert "社区矫正法 29(3)" in line("monitoring.grounds.refused_to_report_after_warning ")


@pytest.mark.parametrize(
    ("today", "warned"),
    [
        (datetime(2026, 11, 2, 1, 0, tzinfo=UTC), True),
        (datetime(2026, 12, 31, 15, 0, tzinfo=UTC), True),  # 23:00 in Shanghai
        (datetime(2026, 10, 31, 15, 0, tzinfo=UTC), False),  # 23:00 on 31 October
    ],
)
def test_rules_validate_warns_in_november_and_december_without_next_years_holidays(
    tmp_path, monkeypatch, today, warned
):
    from click.testing import CliRunner

    from corrections.cli import main
    from corrections.core import clock

    rules_dir = _copy(tmp_path)
    (rules_dir / "holidays" / "2027.yaml").unlink(missing_ok=True)
    monkeypatch.setenv("CORRECTIONS_RULES_DIR", str(rules_dir))
    monkeypatch.setattr(clock, "now_utc", lambda: today)
    result = CliRunner().invoke(main, ["rules", "validate"])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    warning = f"注意：缺少 {rules_dir / 'holidays' / '2027.yaml'}"
    assert (warning in result.stderr) is warned, result.stderr
    # With next year's calendar in place, nothing to say.
    shutil.copyfile(rules_dir / "holidays" / "2026.yaml", rules_dir / "holidays" / "2027.yaml")
    _edit(rules_dir / "holidays" / "2027.yaml", "year: 2026", "year: 2027")
    again = CliRunner().invoke(main, ["rules", "validate"])
    assert "注意：缺少" not in again.stderr


def test_rules_validate_checks_holiday_files(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from corrections.cli import main

    monkeypatch.setenv("CORRECTIONS_RULES_DIR", str(RULES_DIR))
    good = CliRunner().invoke(main, ["rules", "validate"])
    assert good.exit_code == 0, good.output
    assert "通过  2026.yaml" in good.output and "通过  clocks.yaml" in good.output
    rules_dir = _copy(tmp_path)
    _edit(rules_dir / "holidays" / "2025.yaml", "- 2025-10-11  # 周六", "- 2025-10-10")
    bad = CliRunner().invoke(main, ["rules", "validate", str(rules_dir / "holidays" / "2025.yaml")])
    assert bad.exit_code == 1
    assert "2025.yaml: working_weekends" in bad.output
