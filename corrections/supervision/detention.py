"""A person held by another authority (行政拘留, 司法拘留, 强制隔离戒毒, 刑事强制措施 ...): the
office records it when it is told, and the release when it comes. While the person is held
nothing falls due, nothing is missed and no lost-contact episode opens (an open one closes);
on release what is due is planned again from the release day
(:func:`corrections.supervision.obligations.suspend` / ``resume``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import Conflict, RuleViolation
from corrections.core.i18n import _
from corrections.persons import privacy
from corrections.persons.models import SUPERVISED_STATUSES, Person
from corrections.persons.scope import (
    audit_person,
    get_record_of,
    get_scoped,
    read_scoped,
    require_level,
)
from corrections.supervision import obligations
from corrections.supervision.common import current_rules, require_supervised
from corrections.supervision.models import Detention
from corrections.supervision.rules import SupervisionRules


def _rule() -> SupervisionRules:
    return current_rules()


def _reason(detention: Detention) -> str:
    """What the obligations the detention excuses say (the release finds its own by it)."""
    return f"{_rule().detention_suspended_reason_zh} [detention:{detention.id}]"


def record_detention(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> Detention:
    """Record that the person is held from ``start_date`` (the person's office or above):
    what falls due from that day is excused, a month's hours are pro-rated to the days before,
    and nothing is planned until the release."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    require_level(actor, person, "office", _("Recording a detention"))
    return record_for(session, actor=actor, person=person, data=data, now=now)


def record_for(
    session: Session, *, actor: Actor, person: Person, data: dict[str, Any], now: datetime
) -> Detention:
    """:func:`record_detention` for a person already found and locked by a caller that has
    decided who may (the police's own notice, exchange/inbound.py)."""
    require_supervised(person)
    start: date = data["start_date"]
    if start > business_date(now):
        raise RuleViolation(_("must not be in the future"), field="start_date")
    if start < person.judgment_effective_date:
        raise RuleViolation(_("is before the judgment took effect"), field="start_date")
    previous = session.scalars(
        select(Detention).where(Detention.person_id == person.id).order_by(Detention.start_date)
    ).all()
    for other in previous:
        if other.end_date is None:
            raise Conflict(
                _(
                    "The person is already held (detention {id}); record the release first.",
                    id=other.id,
                ),
                errors={"start_date": [_("detention {id} is open", id=other.id)]},
            )
        if start < other.end_date:
            raise Conflict(
                _(
                    "Overlaps detention {id} (released {day}).",
                    id=other.id,
                    day=other.end_date,
                ),
                errors={"start_date": [_("before the release of detention {id}", id=other.id)]},
            )
    detention = Detention(
        person_id=person.id,
        kind=data["kind"],
        start_date=start,
        authority=data["authority"],
        document_number=data.get("document_number"),
        note=data.get("note"),
        recorded_by_id=actor.user_id,
        recorded_by=actor.username,
        recorded_at=now,
    )
    session.add(detention)
    try:
        session.flush()
    except IntegrityError:  # another request recorded one at the same time
        raise Conflict(_("The person is already held.")) from None
    excused = obligations.suspend(session, person, start, _reason(detention), now)
    audit_person(
        session,
        actor,
        person,
        "detention.record",
        now=now,
        detail={"detention_id": detention.id, "kind": detention.kind, "excused": excused},
    )
    return detention


def release(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    detention_id: int,
    end_date: date,
    note: str | None,
    now: datetime | None = None,
) -> Detention:
    """Record the release on ``end_date``: what the person owes is planned again from that
    day (a release recorded late plans each month since, and the sweep then finds what was
    missed after the release)."""
    now = now or now_utc()
    person, detention = get_record_of(
        session, actor, person_id, Detention, detention_id, _("detention"), lock=True
    )
    require_level(actor, person, "office", _("Recording a release"))
    if detention.end_date is not None:
        raise Conflict(
            _("The release was already recorded ({day}).", day=detention.end_date),
            errors={"end_date": [_("already released")]},
        )
    if end_date < detention.start_date:
        raise RuleViolation(
            _("is before the start ({day})", day=detention.start_date), field="end_date"
        )
    if end_date > business_date(now):
        raise RuleViolation(_("must not be in the future"), field="end_date")
    detention.end_date, detention.release_note = end_date, note
    detention.released_by, detention.released_at = actor.username, now
    session.flush()
    planned = 0
    if person.status in SUPERVISED_STATUSES:
        planned = obligations.resume(session, person, end_date, _reason(detention), now)
    audit_person(
        session,
        actor,
        person,
        "detention.release",
        now=now,
        detail={"detention_id": detention.id, "planned": planned},
    )
    return detention


def list_detentions(session: Session, *, actor: Actor, person_id: int) -> tuple[Person, list]:
    """The person's detentions, latest first (audited as a read of the record)."""
    person = read_scoped(session, actor, person_id, action="detention.list")
    rows = session.scalars(
        select(Detention)
        .where(Detention.person_id == person.id)
        .order_by(Detention.start_date.desc(), Detention.id.desc())
    ).all()
    return person, list(rows)


def detention_views(
    session: Session, actor: Actor, person: Person, detentions: list[Detention]
) -> list[dict[str, Any]]:
    """Detentions as ``actor`` may see them (the authority, document and notes are typed)."""
    rule = _rule()
    views = []
    for d in detentions:
        view = {
            c: getattr(d, c)
            for c in (
                "id",
                "person_id",
                "kind",
                "start_date",
                "end_date",
                "authority",
                "document_number",
                "note",
                "recorded_by",
                "recorded_at",
                "released_by",
                "released_at",
                "release_note",
            )
        }
        view["kind_label_zh"] = rule.detention_kinds[d.kind]
        view["article"] = rule.detention_article
        view["held"] = d.end_date is None
        views.append((person, view))
    return privacy.present_all(session, actor, "detention", views)


def detention_view(session: Session, actor: Actor, record: Detention) -> dict[str, Any]:
    """One detention as ``actor`` may see it."""
    person = session.get(Person, record.person_id)
    return detention_views(session, actor, person, [record])[0]
