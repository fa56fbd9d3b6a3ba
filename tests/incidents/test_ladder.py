"""The sanction ladder (corrections/incidents/ladder.py): table tests named after the article,
on the rules files as shipped (rules/incidents.yaml, rules/sanctions.yaml)."""

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
TODAY = date(2027, 3, 1)


def _kinds(found):
    return [(p.kind, p.article.split(" (")[0]) for p in found]


def _episode(state, lost_on):
    return ladder.Episode(incident_id=7, state=state, lost_on=lost_on)


@pytest.mark.parametrize(
    ("category", "state", "lost_on", "today", "expected"),
    [
        # 实施办法 35(2): more than 10 days out of supervision -> warning; day 10 is not.
        ("parole", "lost_contact", date(2027, 2, 1), date(2027, 2, 11), []),
        (
            "parole",
            "lost_contact",
            date(2027, 2, 1),
            date(2027, 2, 12),
            [("warning", "实施办法 35(2)")],
        ),
        # 实施办法 46(2) / 47(1) / 49(2): more than one calendar month -> the top step.
        (
            "parole",
            "absconded",
            date(2027, 1, 31),
            date(2027, 2, 28),
            [("warning", "实施办法 35(2)")],
        ),
        (
            "parole",
            "absconded",
            date(2027, 1, 31),
            date(2027, 3, 1),
            [("warning", "实施办法 35(2)"), ("revocation", "实施办法 47(1)")],
        ),
        (
            "suspended_sentence",
            "lost_contact",
            date(2027, 1, 15),
            date(2027, 2, 16),
            [("warning", "实施办法 35(2)"), ("revocation", "实施办法 46(2)")],
        ),
        (
            "temporary_outside_custody",
            "lost_contact",
            date(2027, 1, 15),
            date(2027, 2, 16),
            [("warning", "实施办法 35(2)"), ("return_to_custody", "实施办法 49(2)")],
        ),
        # Only overdue: nothing, however long.
        ("parole", "overdue", date(2026, 1, 1), date(2027, 2, 16), []),
    ],
)
def test_shishi_banfa_35_46_47_49_absence_thresholds(category, state, lost_on, today, expected):
    found = ladder.absence(category, _episode(state, lost_on), today, RULES)
    assert _kinds(found) == expected
    for p in found:
        assert p.evidence["incident_id"] == 7
        assert p.evidence["out_of_supervision_since"] == lost_on.isoformat()


@pytest.mark.parametrize(
    ("was", "today", "expected"),
    [
        ("lost_contact", date(2027, 2, 11), [("admonition", "实施办法 34(1)")]),
        ("lost_contact", date(2027, 2, 12), []),
        ("overdue", date(2027, 2, 3), []),
    ],
)
def test_shishi_banfa_34_admonition_when_back_within_10_days(was, today, expected):
    assert _kinds(ladder.on_close(was, date(2027, 2, 1), today, RULES, {})) == expected


@pytest.mark.parametrize(
    ("reported_on", "today", "expected"),
    [
        (date(2027, 1, 10), TODAY, []),  # on the deadline
        (date(2027, 1, 20), TODAY, [("admonition", "实施办法 34(1)")]),
        (date(2027, 1, 21), TODAY, [("warning", "实施办法 35(2)")]),
        (None, date(2027, 1, 20), []),  # not reported yet, 10 days: nothing yet
        (None, date(2027, 1, 21), [("warning", "实施办法 35(2)")]),
        (
            None,
            date(2027, 2, 11),
            [("warning", "实施办法 35(2)"), ("revocation", "实施办法 46(2)")],
        ),
    ],
)
def test_shishi_banfa_34_35_46_late_intake_uses_the_same_thresholds(reported_on, today, expected):
    found = ladder.late_intake("suspended_sentence", date(2027, 1, 10), reported_on, today, RULES)
    assert _kinds(found) == expected
    assert all(p.basis.startswith("intake:") for p in found)


def R(event_id, type_, on, severity=None):
    return ladder.Record(event_id, type_, on, severity)


@pytest.mark.parametrize(
    ("category", "records", "expected"),
    [
        # 实施办法 35(5): two admonitions not corrected -> warning.
        (
            "parole",
            [R(1, "admonition", date(2027, 1, 5)), R(2, "admonition", date(2027, 2, 5))],
            [("warning", "实施办法 35(5)")],
        ),
        ("parole", [R(1, "admonition", date(2027, 1, 5))], []),
        # Outside the 6-month window (local): corrected.
        (
            "parole",
            [R(1, "admonition", date(2026, 8, 31)), R(2, "admonition", date(2027, 2, 5))],
            [],
        ),
        # A commendation after them corrects them.
        (
            "parole",
            [
                R(1, "admonition", date(2027, 1, 5)),
                R(2, "admonition", date(2027, 1, 6)),
                R(3, "commendation", date(2027, 2, 1)),
            ],
            [],
        ),
        # A warning since answered the admonitions before it.
        (
            "parole",
            [
                R(1, "admonition", date(2027, 1, 5)),
                R(2, "admonition", date(2027, 1, 6)),
                R(3, "warning", date(2027, 1, 20)),
            ],
            [],
        ),
        # 实施办法 46(4) / 47(2) / 49(4): two warnings not corrected -> the top step.
        (
            "suspended_sentence",
            [R(1, "warning", date(2026, 10, 5)), R(2, "warning", date(2027, 2, 5))],
            [("revocation", "实施办法 46(4)")],
        ),
        (
            "parole",
            [R(1, "warning", date(2026, 10, 5)), R(2, "warning", date(2027, 2, 5))],
            [("revocation", "实施办法 47(2)")],
        ),
        (
            "temporary_outside_custody",
            [R(1, "warning", date(2026, 10, 5)), R(2, "warning", date(2027, 2, 5))],
            [("return_to_custody", "实施办法 49(4)")],
        ),
        # 禁止令: minor -> warning (35(1)), serious -> revocation (46(1)).
        (
            "suspended_sentence",
            [R(9, "prohibition_breach", date(2027, 2, 5), "minor")],
            [("warning", "实施办法 35(1)")],
        ),
        (
            "suspended_sentence",
            [R(9, "prohibition_breach", date(2027, 2, 5), "serious")],
            [("revocation", "实施办法 46(1)")],
        ),
        (
            "control_order",
            [R(9, "prohibition_breach", date(2027, 2, 5), "serious")],
            [("police_penalty", "实施办法 36")],
        ),
    ],
)
def test_shishi_banfa_35_5_46_4_47_2_49_4_the_ladder(category, records, expected):
    found = ladder.repeated(category, records, TODAY, RULES)
    assert _kinds(found) == expected
    for p in found:
        assert p.evidence["event_ids"] and p.basis  # the evidence, by id; proposed once


def test_the_ladder_evidence_names_the_first_two_sanctions_so_a_third_does_not_repropose():
    records = [R(i, "admonition", date(2027, 2, i)) for i in (1, 2, 3)]
    (p,) = ladder.repeated("parole", records, TODAY, RULES)
    assert p.evidence["event_ids"] == [1, 2] and p.basis == "admonitions:1,2"
