"""Records listed across persons (the decision queues of a district or the city): each record
with its person as the caller may see them, the person's name and office selected by the
list's one query (no query per row), and every person shown audited with the response.

A domain's queue selects its records, lets :func:`scoped` add the person's columns and the
caller's scope, pages with :func:`page`, and shows the rows with :func:`present`, which puts
the person beside each view (``person``: id, name, office code and Chinese name) and applies
the privacy policy to the whole (persons/privacy.py: the name masked as the role requires, a
sealed record a stub)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import Session, aliased

from corrections.core.auth import Actor
from corrections.core.i18n import ZH, _
from corrections.core.pagination import paginate
from corrections.org.models import Unit
from corrections.persons import privacy
from corrections.persons.models import Person
from corrections.persons.scope import LEVEL_ZH, scope_clause


@dataclass(frozen=True)
class ListedPerson:
    """A person as a list selects them: what the privacy policy decides on (the
    :class:`privacy.Subject` members) and what the list shows beside the record."""

    id: int
    juvenile: bool
    office_id: int
    district_id: int
    sealed: bool | None
    name: str
    office_code: str
    office_name_zh: str

    def brief(self) -> dict[str, Any]:
        """The person beside a record, before masking."""
        return {
            "id": self.id,
            "name": self.name,
            "office_code": self.office_code,
            "office_name_zh": self.office_name_zh,
        }


_OFFICE = aliased(Unit, name="listed_office")
# The listed person's office, for a list filtered by it.
OFFICE = _OFFICE
COLUMNS = (
    Person.id,
    Person.juvenile,
    Person.office_id,
    Person.district_id,
    Person.sealed,
    Person.name,
    _OFFICE.code,
    _OFFICE.name_zh,
)


def scoped(actor: Actor, stmt: Select, person_id: ColumnElement[int]) -> Select:
    """``stmt`` (selecting one record entity) with the columns of its person (``person_id``:
    the record's column naming them), for the persons ``actor`` may see only."""
    return (
        stmt.add_columns(*COLUMNS)
        .join(Person, Person.id == person_id)
        .join(_OFFICE, _OFFICE.id == Person.office_id)
        .where(scope_clause(actor))
    )


def page(
    session: Session, stmt: Select, *order_by: Any, page: int, page_size: int
) -> tuple[list[tuple[Any, ListedPerson]], int]:
    """One page of a :func:`scoped` statement: (record, its person) rows and the total."""
    rows, total = paginate(session, stmt, *order_by, page=page, page_size=page_size)
    return [(row[0], ListedPerson(*row[1:])) for row in rows], total


def present(
    session: Session,
    actor: Actor,
    resource: str,
    items: Iterable[tuple[ListedPerson, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Views of records of ``resource``, each with its person beside it (``person``), as
    ``actor`` may see them; the persons are noted as shown by this response (audited once)."""
    return privacy.present_all(
        session,
        actor,
        resource,
        [(person, {**view, privacy.PERSON_BRIEF_FIELD: person.brief()}) for person, view in items],
    )


# The kinds of decision a queue lists (QueueItemSchema.decision_type).
DECISION_TYPES = {
    "grade_decision": _("Grade change proposal"),
    "sanction_proposal": _("Sanction proposal"),
    "flag": _("Flagged control"),
    "travel_permit": _("Travel permit request"),
}


def queue_fields(
    decision_type: str,
    *,
    proposed_zh: str,
    level: str | None,
    proposed_by: str | None,
    proposed_at: Any,
    rules: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The members every queue item carries beside its own (persons/schemas.py,
    QueueItemSchema); the person, the evidence and the actions are added by :func:`present`
    and the views."""
    return {
        "decision_type": decision_type,
        "decision_type_label_zh": DECISION_TYPES[decision_type].render(ZH),
        "proposed_zh": proposed_zh,
        "rules": list(rules),
        "proposed_by": proposed_by,
        "proposed_at": proposed_at,
        "decided_at_level": level,
        "decided_at_level_label_zh": LEVEL_ZH.get(level) if level else None,
    }
