"""Table tests of the procedure rules (rules/procedures.yaml), named after the article each
encodes: 社区矫正法 18 (investigation assessment), 22 (intake announcement), 24 (correction plan),
25 and 52 (correction team); 实施办法 54 (discharge announcement, unverified); 出境入境管理法 12
(exit ban)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from corrections.core import rules as registry
from corrections.procedures import rules as procedure_rules
from corrections.procedures.rules import (
    AssessmentFacts,
    ExitBanFacts,
    Facts,
    Member,
    PlanFacts,
    Review,
    checklist,
    plan_review,
    team_requirements,
)

RULES_FILE = Path(__file__).resolve().parents[2] / "rules" / "procedures.yaml"
TODAY = date(2026, 11, 27)
WOMAN, MAN = Member("family", "female"), Member("officer", "male")
EXPERT = Member("juvenile_expert", "male")


@pytest.fixture(scope="module")
def rules() -> procedure_rules.ProcedureRules:
    return procedure_rules.build(registry.load_file(RULES_FILE))


def _states(rules, **facts) -> dict[str, str]:
    base = {"status": "active", "gender": "male", "juvenile": False}
    return {s.id: s.state for s in checklist(rules, Facts(**(base | facts)))}


def _step(rules, step, **facts):
    base = {"status": "active", "gender": "male", "juvenile": False}
    return next(s for s in checklist(rules, Facts(**(base | facts))) if s.id == step)


# --- 社区矫正法 25: a woman's team has a woman ------------------------------------------------


@pytest.mark.parametrize(
    ("gender", "members", "met"),
    [
        ("female", (), False),
        ("female", (MAN,), False),
        ("female", (MAN, WOMAN), True),
        ("female", (Member("officer", "female"),), True),
        ("male", (MAN,), None),  # does not apply
    ],
)
def test_art_25_a_female_persons_team_includes_a_female_member(rules, gender, members, met):
    results = {
        r.requirement.id: r.met
        for r in team_requirements(rules, gender=gender, juvenile=False, members=members)
    }
    assert results.get("female_member") == met


def test_art_25_the_unmet_rule_is_named_on_the_checklist(rules):
    step = _step(rules, "correction_team", gender="female", members=(MAN,))
    assert (step.state, step.reasons) == ("missing", ("female_member",))
    assert rules.reason_label("female_member").startswith("社区矫正对象为女性的")


def test_art_25_a_team_without_members_is_missing_after_intake_and_due_before(rules):
    assert _step(rules, "correction_team").reasons == ("no_team_members",)
    assert _states(rules)["correction_team"] == "missing"
    assert _states(rules, status="pending_intake")["correction_team"] == "due"
    assert _states(rules, members=(MAN,))["correction_team"] == "done"


# --- 社区矫正法 52: a juvenile's team has someone familiar with juveniles -------------------


@pytest.mark.parametrize(
    ("members", "met"),
    [((), False), ((MAN,), False), ((Member("school", "female"),), False), ((EXPERT,), True)],
)
def test_art_52_a_juveniles_team_includes_a_juvenile_expert(rules, members, met):
    results = {
        r.requirement.id: r.met
        for r in team_requirements(rules, gender="male", juvenile=True, members=members)
    }
    assert results["juvenile_expert"] is met


def test_art_25_and_52_a_juvenile_girl_needs_both(rules):
    step = _step(rules, "correction_team", gender="female", juvenile=True, members=(EXPERT,))
    assert step.reasons == ("female_member",)
    both = _step(rules, "correction_team", gender="female", juvenile=True, members=(EXPERT, WOMAN))
    assert both.state == "done"


# --- 社区矫正法 24: the plan, its review ----------------------------------------------------


def test_art_24_plan_reviewed_when_grade_changes(rules):
    marked = datetime(2026, 11, 20, 2, tzinfo=UTC)
    review = plan_review(
        next_review_on=date(2027, 2, 1),
        review_due_kind="grade_changed",
        review_due_since=marked,
        today=TODAY,
    )
    assert review == Review(True, "grade_changed", marked)
    step = _step(rules, "correction_plan", plan=PlanFacts(review))
    assert (step.state, step.reasons) == ("due", ("grade_changed",))


@pytest.mark.parametrize(
    ("next_review_on", "due"),
    [(date(2026, 11, 26), True), (TODAY, True), (date(2026, 11, 28), False)],
)
def test_art_24_plan_reviewed_on_its_review_day(rules, next_review_on, due):
    review = plan_review(
        next_review_on=next_review_on, review_due_kind=None, review_due_since=None, today=TODAY
    )
    assert review.due is due and review.kind == ("scheduled" if due else None)
    state = _states(rules, plan=PlanFacts(review))["correction_plan"]
    assert state == ("due" if due else "done")


def test_art_24_no_plan_is_missing_after_intake(rules):
    assert _states(rules)["correction_plan"] == "missing"
    assert _states(rules, status="pending_intake")["correction_plan"] == "due"


def test_art_24_an_ended_term_needs_no_more_review(rules):
    plan = PlanFacts(Review(True, "scheduled"))
    assert _states(rules, status="discharged", plan=plan)["correction_plan"] == "done"


def test_art_24_the_review_window_is_data(rules):
    assert rules.default_review_on(date(2026, 11, 30)) == date(2027, 2, 28)


# --- 社区矫正法 18: the investigation assessment ----------------------------------------------


@pytest.mark.parametrize(
    ("assessment", "state"),
    [
        (None, "not_applicable"),
        (AssessmentFacts(finished=False), "missing"),
        (AssessmentFacts(finished=True), "done"),
    ],
)
def test_art_18_assessment_missing_while_requested_and_unfinished(rules, assessment, state):
    for status in ("pending_intake", "active"):
        assert (
            _states(rules, status=status, assessment=assessment)["investigation_assessment"]
            == state
        )


# --- 社区矫正法 22, 实施办法 54: the announcements-----------------------------------------------


@pytest.mark.parametrize(
    ("status", "announced", "state"),
    [
        ("pending_intake", frozenset(), "due"),
        ("active", frozenset(), "missing"),
        ("active", frozenset({"intake"}), "done"),
        ("discharged", frozenset(), "missing"),
    ],
)
def test_art_22_intake_announcement(rules, status, announced, state):
    assert _states(rules, status=status, announcements=announced)["intake_announcement"] == state


@pytest.mark.parametrize(
    ("status", "announced", "state"),
    [
        ("active", frozenset(), "not_applicable"),
        ("terminated", frozenset(), "not_applicable"),
        ("deceased", frozenset(), "not_applicable"),
        ("discharged", frozenset({"intake"}), "due"),
        ("discharged", frozenset({"intake", "discharge"}), "done"),
    ],
)
def test_shishi_banfa_54_discharge_announcement_only_after_discharge(
    rules, status, announced, state
):
    assert _states(rules, status=status, announcements=announced)["discharge_announcement"] == state


# --- 出境入境管理法 12(2): the exit ban --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ban", "filing", "lifting"),
    [
        ("pending_intake", None, "due", "not_applicable"),
        ("active", None, "missing", "not_applicable"),
        ("active", ExitBanFacts(lift_due=False, lifted=False), "done", "not_applicable"),
        ("active", ExitBanFacts(lift_due=True, lifted=False), "done", "due"),
        ("discharged", ExitBanFacts(lift_due=False, lifted=False), "done", "due"),
        ("terminated", ExitBanFacts(lift_due=True, lifted=True), "done", "done"),
    ],
)
def test_exit_entry_law_12_filed_at_intake_lifted_when_the_term_ends(
    rules, status, ban, filing, lifting
):
    states = _states(rules, status=status, exit_ban=ban)
    assert (states["exit_ban_filing"], states["exit_ban_lifting"]) == (filing, lifting)


# --- the rules file itself -------------------------------------------------------------------


def test_the_checklist_follows_the_rules_files_order_and_labels(rules):
    steps = checklist(rules, Facts(status="active", gender="male", juvenile=False))
    assert [s.id for s in steps] == list(procedure_rules.STEPS)
    assert rules.steps["intake_announcement"]["label_zh"] == "入矫宣告"
    assert rules.states == {
        "done": "已完成",
        "missing": "缺失",
        "not_applicable": "不适用",
        "due": "待办理",
    }


def test_every_rule_names_its_article_and_basis_and_unverified_ones_say_so():
    rows = registry.articles(registry.load_file(RULES_FILE))
    assert rows and {r["basis"] for r in rows} <= {"statute", "local"}
    for row in rows:
        assert row["basis"], row
        assert ("UNVERIFIED" in row["article"]) == (not row["verified"]), row
        if "实施办法" in row["article"]:
            assert not row["verified"], row
    paths = {r["path"] for r in rows}
    assert {"steps.correction_team", "team.requirements[female_member]"} <= paths


def test_a_bad_rules_file_is_refused_naming_the_key(tmp_path):
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    data["team"]["requirements"][0]["member"] = {"roles": ["astronaut"]}
    del data["steps"]["exit_ban_lifting"]["basis"]
    bad = tmp_path / "procedures.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(registry.RulesError) as err:
        registry.load_file(bad)
    message = str(err.value)
    assert "procedures.yaml: team.requirements.0.member.roles.0" in message
    assert "procedures.yaml: steps.exit_ban_lifting.basis" in message
