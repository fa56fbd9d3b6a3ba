"""Which persons an actor may see: enforced in every query that touches persons."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, select, true
from sqlalchemy.orm import Session, load_only

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.errors import Forbidden, NotFound
from corrections.persons.models import Person


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL condition selecting the persons ``actor`` may see at all."""
    if actor.role == Role.OFFICER:
        return Person.office_id == actor.unit_id
    if actor.role == Role.COMMANDER:
        return Person.district_id == actor.unit_id
    if actor.role in (Role.CITY, Role.ANALYST):
        return true()
    return false()


def sees_juvenile_identity(actor: Actor, person: Person) -> bool:
    """Only the person's own office and district command centre see a juvenile's identity."""
    return (actor.role == Role.OFFICER and actor.unit_id == person.office_id) or (
        actor.role == Role.COMMANDER and actor.unit_id == person.district_id
    )


def in_scope(actor: Actor, person: Person) -> bool:
    """The same rule as :func:`scope_clause`, for a person already loaded."""
    if actor.role == Role.OFFICER:
        return person.office_id == actor.unit_id
    if actor.role == Role.COMMANDER:
        return person.district_id == actor.unit_id
    return actor.role in (Role.CITY, Role.ANALYST)


# Levels at which decisions are taken, lowest first.
LEVEL_RANK = {"office": 0, "district": 1, "city": 2}


def actor_level(actor: Actor, person: Person) -> str | None:
    """The level at which ``actor`` may decide for ``person`` (None: not at all)."""
    if actor.role == Role.CITY:
        return "city"
    if actor.role == Role.COMMANDER and actor.unit_id == person.district_id:
        return "district"
    if actor.role == Role.OFFICER and actor.unit_id == person.office_id:
        return "office"
    return None


def require_level(actor: Actor, person: Person, level: str, what: str) -> str:
    """The actor's level for the person, or :class:`Forbidden` if it is below ``level``."""
    have = actor_level(actor, person)
    if have is None or LEVEL_RANK[have] < LEVEL_RANK[level]:
        raise Forbidden(f"{what} is decided at {level} level or above.")
    return have


# What the supervision log needs of a person: recording an event loads no personal data.
SUPERVISION_COLUMNS = (
    Person.version,
    Person.status,
    Person.juvenile,
    Person.category,
    Person.office_id,
    Person.district_id,
    Person.judgment_effective_date,
    Person.term_start,
    Person.term_end,
    Person.grade,
    Person.grade_since,
    Person.has_guarantor,
    Person.intake_risk,
    Person.sealed,
)


@functools.cache
def _load_only(columns: tuple) -> Any:
    return load_only(*columns)


@functools.cache
def _actor_and_person(columns: tuple) -> Any:
    from corrections.org import service as org

    return (
        org.actor_query(Person)
        .outerjoin(Person, Person.id == bindparam("person_id"))
        .options(_load_only(columns))
    )


def load_actor_and_person(
    session: Session, token: str, person_id: int, columns: tuple
) -> Actor | None:
    """The token's actor, with person ``person_id`` (only ``columns``) loaded into the session
    by the same statement, so that :func:`get_scoped` then needs no query. Nothing about the
    person is checked or returned here."""
    from corrections.org import service as org

    params = {**org.actor_params(token), "person_id": person_id}
    row = session.execute(_actor_and_person(columns), params).first()
    if row is None:
        return None
    # The identity map holds objects weakly: keep the person for this session's life.
    session.info["prefetched_person"] = row[-1]
    return org.actor_from(row)


def get_scoped(session: Session, actor: Actor, person_id: int, *, columns: tuple = ()) -> Person:
    """The person if ``actor`` may see them, else :class:`NotFound` (no existence leak).

    A primary-key load (its statement is cached by SQLAlchemy) checked against the scope rule;
    every single-person path goes through here, lists filter with :func:`scope_clause`.
    ``columns`` loads only those (others load when first touched).
    """
    options = [_load_only(columns)] if columns else None
    person = session.get(Person, person_id, options=options)
    if person is None or not in_scope(actor, person):
        raise NotFound("No such person.")
    return person


def read_scoped(
    session: Session,
    actor: Actor,
    person_id: int,
    *,
    action: str,
    detail: dict | None = None,
    now=None,
) -> Person:
    """Fetch a person within scope and audit the read (as a juvenile access where it is one).

    Every read of a person's record goes through here, so none escapes the audit trail.
    """
    person = get_scoped(session, actor, person_id)
    audit_person(session, actor, person, action, detail=detail, now=now)
    return person


def audit_person(
    session: Session,
    actor: Actor,
    person: Person,
    action: str,
    *,
    detail: dict | None = None,
    now=None,
) -> None:
    """Audit an action on a person's record, marked as a juvenile access where it is one."""
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="person",
        subject_id=person.id,
        juvenile=person.juvenile,
        detail=detail,
        now=now,
    )


def get_record_of(
    session: Session, actor: Actor, person_id: int, model: type, record_id: int, what: str
) -> tuple[Person, Any]:
    """A person within scope and one of their records (``model`` has ``person_id``); a record
    of another person, or of a person out of scope, is a 404 like a missing one."""
    person = get_scoped(session, actor, person_id)
    record = session.scalar(
        select(model).where(model.id == record_id, model.person_id == person.id)
    )
    if record is None:
        raise NotFound(f"No such {what}.")
    return person, record
