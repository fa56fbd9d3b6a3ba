"""Disclosure control for the public figures: a pure function of one row of counts (one
metric, one month: a cell per district and the city total) and the threshold.

Primary suppression: a count from 1 to ``threshold - 1`` is withheld (shown as "<10").
Complementary suppression: the city total is the sum of the districts, so a reader who knows
the rule (it is published) knows each "<10" cell lies in 1..9 and each complementary cell is
at least the threshold; from the total minus the shown cells they get the sum of the hidden
ones. While that leaves any hidden cell with exactly one possible value (one hidden cell; two
"<10" cells summing to 2; two summing to 18 ...), the smallest shown non-zero district cell is
withheld too; with none left, the total is. Zeros are shown: a zero concerns nobody, and a
zero is never chosen as a complement (a hidden zero beside a hidden "<10" would give the
"<10" back whenever the hidden sum is below the threshold).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

SMALL = "small"  # primary: 1..threshold-1
WITHHELD = "withheld"  # complementary: at least the threshold


@dataclass(frozen=True)
class Cell:
    """One published cell: the count, or None and why it is withheld."""

    count: int
    suppressed: str | None = None

    @property
    def shown(self) -> int | None:
        return None if self.suppressed else self.count


@dataclass(frozen=True)
class Row:
    districts: dict[Hashable, Cell]
    total: Cell


def _bounds(kind: str, threshold: int) -> tuple[int, float]:
    return (1, threshold - 1) if kind == SMALL else (threshold, float("inf"))


def feasible_ranges(
    hidden: Mapping[Hashable, str], hidden_sum: int, threshold: int
) -> dict[Hashable, tuple[float, float]]:
    """For each hidden cell, the least and greatest value it can have given what a reader
    knows: its kind's bounds (small 1..threshold-1, withheld >= threshold) and the sum of all
    the hidden cells (total minus the shown cells)."""
    bounds = {k: _bounds(kind, threshold) for k, kind in hidden.items()}
    low_all = sum(lo for lo, _hi in bounds.values())
    high_all = sum(hi for _lo, hi in bounds.values())
    ranges = {}
    for key, (lo, hi) in bounds.items():
        others_low, others_high = low_all - lo, high_all - hi
        ranges[key] = (max(lo, hidden_sum - others_high), min(hi, hidden_sum - others_low))
    return ranges


def recoverable(hidden: Mapping[Hashable, str], hidden_sum: int, threshold: int) -> set:
    """The hidden cells a reader can pin to one value from the total (none: safe)."""
    return {
        key for key, (lo, hi) in feasible_ranges(hidden, hidden_sum, threshold).items() if lo >= hi
    }


def protect(counts: Mapping[Hashable, int], threshold: int) -> Row:
    """Withhold what must be withheld in one row (districts in ``counts``; the total is their
    sum). Deterministic: ties between equal complements go to the first key in sorted order."""
    if any(n < 0 for n in counts.values()):
        raise ValueError("counts are never negative")
    total = sum(counts.values())
    kinds: dict[Hashable, str] = {k: SMALL for k, n in counts.items() if 0 < n < threshold}
    total_kind = SMALL if 0 < total < threshold else None
    if total_kind is None and kinds:
        while True:
            hidden_sum = total - sum(n for k, n in counts.items() if k not in kinds)
            if not recoverable(kinds, hidden_sum, threshold):
                break
            candidates = sorted(
                (n, str(k), k) for k, n in counts.items() if k not in kinds and n > 0
            )
            if not candidates:
                total_kind = WITHHELD
                break
            kinds[candidates[0][2]] = WITHHELD
    return Row(
        districts={k: Cell(n, kinds.get(k)) for k, n in counts.items()},
        total=Cell(total, total_kind),
    )
