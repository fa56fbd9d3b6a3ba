"""Which persons an actor may see: enforced in every query that touches persons."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, select, true
from sqlalchemy.orm import Session, aliased, load_only, scoped_session

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.errors import Forbidden, NotFound
from corrections.core.i18n import Message, _, bilingual
from corrections.persons.models import Person


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL condition selecting the persons ``actor`` may see at all."""
    if actor.role == Role.OFFICER:
        return Person.office_id == actor.unit_id
    # A wall display counts its district's persons (statistics) and shows their alerts; its
    # role may read no person's record (core/auth.py), and what it shows of anyone is the
    # ``wall`` visibility (persons/privacy.py).
    if actor.role in (Role.COMMANDER, Role.DISPLAY):
        return Person.district_id == actor.unit_id
    if actor.role in (Role.CITY, Role.ANALYST):
        return true()
    if actor.role == Role.PROCURATOR:
        # A procuratorate serves a district (its persons) or the city (everyone): the account's
        # unit is its agency's (oversight/, exchange/service.py).
        return true() if procurator_sees_all(actor) else Person.district_id == actor.unit_id
    return false()


def procurator_sees_all(actor: Actor) -> bool:
    """Whether a procurator's unit is the city (its procuratorate serves every district).

    A unit's kind never changes and ids are never reused, so it is looked up once per unit and
    kept for the app's life: only procurators pay for it, never the officers' hot path."""
    from flask import current_app

    from corrections.core.db import db
    from corrections.org.models import Unit, UnitKind

    kinds = current_app.extensions.setdefault("corrections.procurator_unit_kinds", {})
    if actor.unit_id not in kinds:
        kinds[actor.unit_id] = db.session.scalar(select(Unit.kind).where(Unit.id == actor.unit_id))
    return kinds[actor.unit_id] == UnitKind.CITY


def sees_juvenile_identity(actor: Actor, person: Person) -> bool:
    """Only the person's own office and district command centre see a juvenile's identity."""
    return (actor.role == Role.OFFICER and actor.unit_id == person.office_id) or (
        actor.role == Role.COMMANDER and actor.unit_id == person.district_id
    )


def in_scope(actor: Actor, person: Person) -> bool:
    """The same rule as :func:`scope_clause`, for a person already loaded."""
    if actor.role == Role.OFFICER:
        return person.office_id == actor.unit_id
    if actor.role in (Role.COMMANDER, Role.DISPLAY):
        return person.district_id == actor.unit_id
    if actor.role == Role.PROCURATOR:
        return person.district_id == actor.unit_id or procurator_sees_all(actor)
    return actor.role in (Role.CITY, Role.ANALYST)


# Levels at which decisions are taken, lowest first.
LEVEL_RANK = {"office": 0, "district": 1, "city": 2}
# Who decides at each level, as a message parameter (``office`` in English, 司法所 in Chinese).
LEVEL_ZH = {"office": "司法所", "district": "区司法局", "city": "市司法局"}


def level_text(level: str) -> Message:
    """A decision level as a message parameter: its identifier in English, who decides at it
    in Chinese."""
    return bilingual(level, LEVEL_ZH.get(level, level))


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
    """The actor's level for the person, or :class:`Forbidden` if it is below ``level``.
    ``what``: a message (``_("This travel permit")``), so the refusal reads in one language."""
    have = actor_level(actor, person)
    if have is None or LEVEL_RANK[have] < LEVEL_RANK[level]:
        raise Forbidden(
            _("{what} is decided at {level} level or above.", what=what, level=level_text(level))
        )
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
def _actor_and_person(columns: tuple, key_share: bool = False) -> Any:
    from corrections.org import service as org

    if not key_share:
        return (
            org.actor_query(Person)
            .outerjoin(Person, Person.id == bindparam("person_id"))
            .options(_load_only(columns))
        )
    # PostgreSQL locks no row on the nullable side of an outer join: the person is read under
    # the lock in a derived table of their own (SQLite, which has no row locks, ignores it).
    locked = (
        select(Person.id, *columns)
        .where(Person.id == bindparam("person_id"))
        .with_for_update(read=True, key_share=True)
        .subquery("locked_person")
    )
    person = aliased(Person, locked)
    return (
        org.actor_query(person)
        .outerjoin(locked, true())
        .options(load_only(*(getattr(person, c.key) for c in columns)))
    )


def load_actor_and_person(
    session: Session, token: str, person_id: int, columns: tuple, key_share: bool = False
) -> Actor | None:
    """The token's actor, with person ``person_id`` (only ``columns``) loaded into the session
    by the same statement, so that :func:`get_scoped` then needs no query. Nothing about the
    person is checked or returned here.

    ``key_share``: that statement, the transaction's first, also takes the person's share lock
    (``FOR KEY SHARE`` on PostgreSQL, the lock an event's foreign key takes anyway), and the
    person is read under it: see :func:`holds_key_share`.
    """
    from corrections.org import service as org

    params = {**org.actor_params(token), "person_id": person_id}
    row = session.execute(_actor_and_person(columns, key_share), params).first()
    if row is None:
        return None
    # The identity map holds objects weakly: keep the person for this session's life.
    session.info["prefetched_person"] = row[-1]
    if key_share and row[-1] is not None:
        _held(session, _KEY_SHARES).add(person_id)
    return org.actor_from(row)


def holds_key_share(session: Session, person_id: int) -> bool:
    """Whether this transaction took ``person_id``'s share lock with the token check
    (:func:`load_actor_and_person`): what that statement loaded of the person was read under
    the lock (on PostgreSQL a locking read waits for a writer and returns its committed row)."""
    return person_id in (_held(session, _KEY_SHARES) or ())


def get_scoped(
    session: Session, actor: Actor, person_id: int, *, columns: tuple = (), lock: bool = False
) -> Person:
    """The person if ``actor`` may see them, else :class:`NotFound` (no existence leak).

    A primary-key load (its statement is cached by SQLAlchemy) checked against the scope rule;
    every single-person path goes through here, lists filter with :func:`scope_clause`.
    ``columns`` loads only those (others load when first touched). ``lock``: for a use case
    that reads the person's state and then writes on it, see :func:`lock_person`.
    """
    options = [_load_only(columns)] if columns else None
    if lock:
        person = _locked(session, person_id, options, scope_clause(actor))
    else:
        person = session.get(Person, person_id, options=options)
    if person is None or not in_scope(actor, person):
        raise NotFound(_("No such person."))
    return person


# FOR NO KEY UPDATE: it serialises the person's use cases and any UPDATE of the row, but not
# the inserts that merely reference the person (their foreign key takes FOR KEY SHARE), so an
# ordinary report never waits for it.
_ROW_LOCK = {"key_share": True}
_LOCKS = "person_locks"  # session.info: (the transaction, the person ids it has locked)
_KEY_SHARES = "person_key_shares"  # the same, for the share lock the token check took


def _held(session: Session, kind: str = _LOCKS) -> set[int] | None:
    """The persons locked (``kind``) in ``session``'s current transaction (None: none has
    begun)."""
    if isinstance(session, scoped_session):  # db.session: this request's own session
        session = session()
    # The innermost transaction: rolling back to a savepoint gives up what was locked in it.
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        return None
    held = session.info.get(kind)
    if held is None or held[0] is not transaction:
        held = session.info[kind] = (transaction, set())
    return held[1]


def _locked(
    session: Session, person_id: int, options: list | None = None, scope=None
) -> Person | None:
    """The person under their row lock; ``scope``: only if it holds (nobody locks a person
    they may not see)."""
    if person_id in (_held(session) or ()):
        return session.get(Person, person_id, options=options)
    stmt = select(Person).where(Person.id == person_id).with_for_update(**_ROW_LOCK)
    if scope is not None:
        stmt = stmt.where(scope)
    # Re-read under the lock: what was loaded before it (the token check's prefetch) may be
    # older than the last writer's commit.
    stmt = stmt.options(*(options or ())).execution_options(populate_existing=True)
    person = session.scalars(stmt).first()
    if person is not None:
        _held(session).add(person_id)
    return person


def lock_persons(session: Session, person_ids: Iterable[int]) -> list[Person]:
    """:func:`lock_person` for many persons in one statement per 10,000 (in id order), their
    rows re-read into the session: a job's batch takes the locks its steps would take one by
    one, and those steps then find them held. Returns the persons newly locked: keep them
    while the steps run (the session holds unchanged rows only weakly)."""
    ids = sorted(set(person_ids) - (_held(session) or set()))
    locked: list[Person] = []
    for i in range(0, len(ids), 10_000):
        stmt = (
            select(Person)
            .where(Person.id.in_(ids[i : i + 10_000]))
            .order_by(Person.id)
            .with_for_update(**_ROW_LOCK)
            .execution_options(populate_existing=True)
        )
        locked += session.scalars(stmt)
    _held(session).update(person.id for person in locked)
    return locked


def lock_person(session: Session, person: Person) -> Person:
    """Take ``person``'s row lock until the transaction ends, and re-read them.

    Every use case that reads a person's state and then writes on it (travel permits,
    monitoring periods, decisions recorded as events, grade and status changes, detentions,
    procedures, the end of a case ...) takes this lock first, so two requests for one person
    run one after the other and the second sees what the first wrote: a rule checked against
    the person's records cannot be skipped by sending requests at the same moment. On
    PostgreSQL it is ``SELECT ... FOR NO KEY UPDATE`` on the person's row; on SQLite every
    transaction already holds the database's write lock from its first statement (``BEGIN
    IMMEDIATE``, :func:`corrections.core.db.configure_sqlite`), so it is a plain re-read.
    Taking it twice in one transaction costs nothing more.
    """
    return _locked(session, person.id) or person  # the same object (one identity map)


def close_log(session: Session, person: Person) -> None:
    """Before a case ends: wait for the person's records being written now, and keep new ones
    out until this transaction ends.

    The person's ordinary lock (:func:`lock_person`) lets an event's insert through (its
    foreign key takes only ``FOR KEY SHARE``), which is what keeps reports fast; the end of a
    case must not, or a report could commit after the end was decided and be dated after it.
    ``FOR UPDATE`` conflicts with that key-share lock: an event being inserted now finishes
    first (and the end then sees it), and an event inserted after this waits until the end
    commits, then finds the case ended (supervision/events.py re-reads the status after its
    insert). On SQLite every write transaction is already alone (``BEGIN IMMEDIATE``).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Person.id).where(Person.id == person.id).with_for_update())


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
    session: Session,
    actor: Actor,
    person_id: int,
    model: type,
    record_id: int,
    what: str,
    *,
    lock: bool = False,
) -> tuple[Person, Any]:
    """A person within scope and one of their records (``model`` has ``person_id``); a record
    of another person, or of a person out of scope, is a 404 like a missing one. ``what``: a
    message naming the record (``_("travel permit")``). ``lock``: the person's row lock is
    taken first (:func:`lock_person`), so the record is read after it."""
    person = get_scoped(session, actor, person_id, lock=lock)
    record = session.scalar(
        select(model).where(model.id == record_id, model.person_id == person.id)
    )
    if record is None:
        raise NotFound(_("No such {what}.", what=what))
    return person, record
