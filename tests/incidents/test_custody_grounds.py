"""Return to custody (收监执行) of 暂予监外执行 beyond the ladder's grounds: a table test per
item of 实施办法 49 that rules/sanctions.yaml ``custody_grounds`` encodes, on the rules files as
shipped (corrections/incidents/ladder.py ``custody``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from corrections.core import rules as registry
from corrections.incidents import ladder
from corrections.incidents.rules import build

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
RULES = build(
    registry.load_file(RULES_DIR / "incidents.yaml"),
    registry.load_file(RULES_DIR / "sanctions.yaml"),
)
TODAY = date(2027, 6, 1)
TERM_END = date(2028, 10, 31)
TOC = "temporary_outside_custody"
R, M = ladder.Record, ladder.Missed
WARNED = R(5, "warning", date(2027, 3, 1))
BEFORE, AFTER = date(2027, 2, 27), date(2027, 5, 27)  # re-exams due before / after the warning
PRAISED = R(6, "commendation", date(2027, 4, 1))


def rx(obligation_id: int, due_on: date, kind: str = "medical_reexam") -> ladder.Missed:
    return M(obligation_id, kind, due_on)


def _found(category, records, missed, term_end=TERM_END):
    found = ladder.custody(category, records, missed, term_end, TODAY, RULES)
    return [(p.kind, p.article.split(" (")[0], p.ground, p.evidence) for p in found]


@pytest.mark.parametrize(
    ("category", "records", "missed", "expected"),
    [
        # A re-exam missed, a warning, the next re-exam missed: return to custody.
        (TOC, [WARNED], [rx(11, BEFORE), rx(12, AFTER)], [(5, [11, 12])]),
        # The warning not yet answered by another miss: nothing.
        (TOC, [WARNED], [rx(11, BEFORE)], []),
        # A miss only after the warning (the warning was for something else): nothing.
        (TOC, [WARNED], [rx(12, AFTER)], []),
        # Missed health reports are not re-examinations.
        (TOC, [WARNED], [rx(11, BEFORE, "health_report"), rx(12, AFTER, "health_report")], []),
        # A commendation after the warning: corrected.
        (TOC, [WARNED, PRAISED], [rx(11, BEFORE), rx(12, AFTER)], []),
        # A warning outside the not-corrected window (6 months before today): not counted.
        (
            TOC,
            [R(5, "warning", date(2026, 11, 20))],
            [rx(11, date(2026, 11, 1)), rx(12, date(2027, 2, 1))],
            [],
        ),
        # Only 暂予监外执行 is returned to custody.
        ("parole", [WARNED], [rx(11, BEFORE), rx(12, AFTER)], []),
    ],
)
def test_shishi_banfa_49_5_reexam_not_submitted_after_a_warning(
    category, records, missed, expected
):
    found = _found(category, records, missed)
    assert [(p[3]["event_ids"][0], p[3]["obligation_ids"]) for p in found] == expected
    for kind, article, ground, _evidence in found:
        assert (kind, ground) == ("return_to_custody", "reexam_not_submitted")
        assert article == "实施办法 49(5)"


@pytest.mark.parametrize(
    ("category", "on", "term_end", "proposed"),
    [
        (TOC, date(2027, 5, 1), TERM_END, True),  # 情形消失, term not over
        (TOC, date(2027, 5, 1), date(2027, 5, 2), True),
        # On its last day nothing is left to serve.
        (TOC, date(2027, 5, 2), date(2027, 5, 2), False),
        ("suspended_sentence", date(2027, 5, 1), TERM_END, False),
    ],
)
def test_shishi_banfa_49_6_criminal_procedure_268_3_reason_ceased_before_the_term_ends(
    category, on, term_end, proposed
):
    found = _found(category, [R(9, "release_condition_ended", on)], [], term_end)
    if not proposed:
        assert found == []
        return
    ((kind, article, ground, evidence),) = found
    assert (kind, article, ground) == ("return_to_custody", "实施办法 49(6)", "condition_ended")
    assert evidence["event_ids"] == [9]
    # Not limited to the not-corrected window: the fact stands until decided.
    old = _found(category, [R(9, "release_condition_ended", date(2026, 1, 5))], [], term_end)
    assert len(old) == 1


def test_the_ladder_grounds_of_return_to_custody_cite_criminal_procedure_268():
    for ground in ("absence", "warnings", "prohibition"):
        assert "刑事诉讼法 268(2)" in RULES.top_article(TOC, ground)
