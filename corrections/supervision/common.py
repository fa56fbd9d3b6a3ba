"""What the supervision use cases share: their rules, labels and small checks."""

from __future__ import annotations

from datetime import date

from corrections.core.errors import Conflict
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.supervision import rules as supervision_rules

ACTIVE_PERMITS = ("requested", "approved", "departed", "overdue")


def current_rules() -> supervision_rules.SupervisionRules:
    return supervision_rules.current()


def label(group: str, key: str) -> str:
    """The Chinese label of a state the API shows (``labels`` in rules/supervision.yaml)."""
    return current_rules().label(group, key)


def default_channel(event_type: str) -> str | None:
    return current_rules().event_types[event_type].default_channel


def require_supervised(person: Person) -> None:
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            f"The person's correction has ended ({person.status}); nothing more can be recorded.",
            errors={"person_id": [f"status is {person.status}"]},
        )


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)
