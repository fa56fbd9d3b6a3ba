"""Property: no sequence of months and events moves a person looser than the rules allow, and
no looser move skips a grade."""

from __future__ import annotations

from datetime import date

from hypothesis import event, given, settings
from hypothesis import strategies as st

from corrections.core.clock import add_months
from corrections.grading import engine

# Mostly compliant months, so that looser moves actually happen and get checked.
MONTH = st.fixed_dictionaries(
    {
        "missed_reports": st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3]),
        "recorded": st.sampled_from([True] * 6 + [False]),  # anything on record that month at all
        "sanction": st.sampled_from([None] * 12 + ["admonition", "warning", "police_penalty"]),
        "commendation": st.booleans(),
        "lost_contact": st.sampled_from([False] * 20 + [True]),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    months=st.lists(MONTH, min_size=1, max_size=30),
    start_grade=st.sampled_from(["strict", "tight"]),
    risk=st.sampled_from([None, "low", "medium", "high"]),
)
def test_looser_moves_are_single_steps_the_rules_allow(rules, months, start_grade, risk):
    start = date(2025, 1, 1)
    grade, since, out_since = start_grade, start, None
    assessments: list[engine.AssessmentSummary] = []
    sanctions: list[engine.EventRecord] = []
    commendations: list[engine.EventRecord] = []
    for i, m in enumerate(months):
        month = add_months(start, i)
        events = []
        if m["sanction"]:
            events.append(engine.EventRecord(m["sanction"], month.replace(day=10)))
        if m["commendation"]:
            events.append(engine.EventRecord("commendation", month.replace(day=20)))
        obligations = tuple(
            engine.ObligationOutcome("report", "missed") for _ in range(m["missed_reports"])
        ) + ((engine.ObligationOutcome("report", "fulfilled"),) if m["recorded"] else ())
        result = engine.assess_month(engine.MonthInputs(month, obligations, tuple(events)), rules)
        assessments.append(
            engine.AssessmentSummary(month, result.score, result.rating, result.complete)
        )
        for e in events:
            (commendations if e.kind == "commendation" else sanctions).append(e)
            forced = engine.stricter_for(grade, e.kind, rules)
            if forced is not None:
                assert rules.grade(forced.grade).rank < rules.grade(grade).rank
                grade, since = forced.grade, e.on
                if rules.grade(grade).level == "strict":
                    out_since = None
        if m["lost_contact"]:
            forced = engine.stricter_for(grade, "lost_contact", rules)
            if forced is not None:
                grade, since, out_since = forced.grade, month.replace(day=25), None
        judged_on = add_months(month, 1)
        evaluation = engine.evaluate_looser(
            engine.GradeHistory(
                current_grade=grade,
                grade_since=since,
                intake_date=start,
                out_of_strict_level_since=out_since,
                assessments=tuple(assessments),
                sanctions=tuple(sanctions),
                commendations=tuple(commendations),
                risk_band=risk,
            ),
            rules,
            judged_on,
        )
        if not evaluation.eligible:
            continue
        old, new = rules.grade(grade), rules.grade(evaluation.to_grade)
        # One step, never more.
        assert new.rank == old.rank + 1
        # And only what the rules allow, checked here independently of the engine.
        assert add_months(since, rules.looser["min_months_in_grade"]) <= judged_on
        assert add_months(start, rules.intake_period_months) <= judged_on
        last3 = assessments[-rules.looser["good_assessments_required"] :]
        assert len(last3) == rules.looser["good_assessments_required"]
        assert all(a.rating == "good" and a.complete for a in last3)
        window_start = add_months(judged_on, -rules.looser["sanction_free_months"])
        assert not [s for s in sanctions if s.on > window_start]
        if new.level == "lenient":
            assert (
                risk == "low"
                or len(commendations) >= 3
                or (out_since is not None and add_months(out_since, 6) <= judged_on)
            )
        event("looser move made")
        grade, since = new.id, judged_on
        if old.level == "strict" and new.level != "strict":
            out_since = judged_on
