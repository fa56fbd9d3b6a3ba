"""What the supervision use cases share: their rules, labels and small checks."""

from __future__ import annotations

from datetime import date

from corrections.core.errors import Conflict
from corrections.core.i18n import Message, _, bilingual
from corrections.persons import rules as person_rules
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.supervision import rules as supervision_rules

ACTIVE_PERMITS = ("requested", "approved", "departed", "overdue")


def current_rules() -> supervision_rules.SupervisionRules:
    return supervision_rules.current()


def label(group: str, key: str) -> str:
    """The Chinese label of a state the API shows (``labels`` in rules/supervision.yaml)."""
    return current_rules().label(group, key)


def status_text(status: str) -> Message:
    """A person's status as a message parameter: ``active`` in English, 在矫 in Chinese."""
    return bilingual(status, person_rules.current().label("statuses", status) or status)


def category_text(category: str) -> Message:
    """A person's category as a message parameter: ``parole`` in English, 假释 in Chinese."""
    known = person_rules.current().categories.get(category)
    return bilingual(category, known.label_zh if known else category)


def event_text(kind: str) -> Message:
    """An event type (a decision among them) as a message parameter: its ``label_zh``."""
    known = current_rules().event_types.get(kind)
    return bilingual(kind, known.label_zh if known else kind)


def status_is(status: str) -> Message:
    """The ``errors`` entry of a refusal that depends on the person's status."""
    return _("status is {status}", status=status_text(status))


def default_channel(event_type: str) -> str | None:
    return current_rules().event_types[event_type].default_channel


def require_supervised(person: Person) -> None:
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            _(
                "The person's correction has ended ({status}); nothing more can be recorded.",
                status=status_text(person.status),
            ),
            errors={"person_id": [status_is(person.status)]},
        )


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)
