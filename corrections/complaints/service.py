"""Registering complaints and answering them. A complaint belongs to a district: officers
and commanders register their own district's, city staff name the district; the district's
commander (or the city) answers. Every write is audited; so is every list shown (the summaries
are typed by staff and may quote someone)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.complaints import rules as complaint_rules
from corrections.complaints.models import Complaint
from corrections.core.auth import Actor, Role
from corrections.core.clock import business_date
from corrections.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from corrections.core.i18n import _
from corrections.core.pagination import paginate
from corrections.org.models import Unit, UnitKind

# Who answers a complaint: its district (commander) or the city.
ANSWERING_ROLES = frozenset({Role.COMMANDER, Role.CITY})


def _own_district(session: Session, actor: Actor) -> int | None:
    """The district of an officer's or commander's unit; None for the city."""
    if actor.role == Role.CITY:
        return None
    unit = session.get(Unit, actor.unit_id) if actor.unit_id is not None else None
    if unit is None or unit.district_id is None:
        raise Forbidden(_("Your role may not use this operation."))
    return unit.district_id


def _district_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code, Unit.kind == UnitKind.DISTRICT))
    if unit is None:
        raise RuleViolation(_("not a district of this city"), field="district_code")
    return unit


def create(session: Session, *, actor: Actor, data: dict[str, Any], now: datetime) -> Complaint:
    """Register a complaint received by the caller's district (city staff: the district named
    by ``district_code``)."""
    own = _own_district(session, actor)
    code = data.get("district_code")
    if own is None:
        if code is None:
            raise RuleViolation(
                _("city staff must name the district that received it"), field="district_code"
            )
        district = _district_by_code(session, code)
        if not district.active:
            raise RuleViolation(_("not a district of this city"), field="district_code")
    else:
        district = session.get(Unit, own)
        if code is not None and code != district.code:
            raise RuleViolation(
                _("must be your own district ({code}) or left out", code=district.code),
                field="district_code",
            )
    channels = complaint_rules.channels()
    if data["channel"] not in channels:
        raise RuleViolation(
            _("unknown channel (known: {known})", known=", ".join(channels)), field="channel"
        )
    today = business_date(now)
    if data["received_on"] > today:
        raise RuleViolation(_("must not be in the future"), field="received_on")
    complaint = Complaint(
        district_id=district.id,
        received_on=data["received_on"],
        channel=data["channel"],
        summary=data["summary"],
        created_by=actor.username,
        created_at=now,
    )
    session.add(complaint)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="complaint.create",
        subject_type="complaint",
        subject_id=complaint.id,
        detail={"district_id": district.id, "channel": complaint.channel},
        now=now,
    )
    return complaint


def _scope(session: Session, actor: Actor):
    own = _own_district(session, actor)
    return None if own is None else Complaint.district_id == own


def get(session: Session, *, actor: Actor, complaint_id: int, lock: bool = False) -> Complaint:
    """A complaint in the caller's scope (another district's is 404, like an unknown id)."""
    stmt = select(Complaint).where(Complaint.id == complaint_id)
    scope = _scope(session, actor)
    if scope is not None:
        stmt = stmt.where(scope)
    if lock:
        stmt = stmt.with_for_update()
    complaint = session.scalar(stmt)
    if complaint is None:
        raise NotFound(_("no complaint {id}", id=complaint_id))
    return complaint


def list_complaints(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    district_code: str | None = None,
    answered: bool | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Complaint], int]:
    """The complaints of the caller's district (the city: all, or one district's), newest
    received first; the response is audited."""
    stmt = select(Complaint)
    scope = _scope(session, actor)
    if scope is not None:
        stmt = stmt.where(scope)
    if district_code is not None:
        district = session.scalar(
            select(Unit).where(Unit.code == district_code, Unit.kind == UnitKind.DISTRICT)
        )
        if district is None:
            raise RuleViolation(_("not a district of this city"), field="query.district_code")
        stmt = stmt.where(Complaint.district_id == district.id)
    if answered is not None:
        stmt = stmt.where(
            Complaint.answered_on.is_not(None) if answered else Complaint.answered_on.is_(None)
        )
    items, total = paginate(
        session,
        stmt,
        Complaint.received_on.desc(),
        Complaint.id.desc(),
        page=page,
        page_size=page_size,
    )
    audit.record(
        session,
        actor=actor,
        action="complaint.list",
        subject_type="complaint",
        detail={"shown": [c.id for c in items]},
        now=now,
    )
    return items, total


def answer(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    answer_note: str,
    answered_on: date | None,
    now: datetime,
) -> Complaint:
    """Record the answer to a complaint (its district's commander, or the city); once."""
    complaint = get(session, actor=actor, complaint_id=complaint_id, lock=True)
    if actor.role not in ANSWERING_ROLES:
        raise Forbidden(_("A complaint is answered by its district or the city."))
    if complaint.answered_on is not None:
        raise Conflict(
            _("The complaint was already answered on {day}.", day=complaint.answered_on),
            errors={"answered_on": [_("already answered")]},
        )
    today = business_date(now)
    day = answered_on or today
    if day > today:
        raise RuleViolation(_("must not be in the future"), field="answered_on")
    if day < complaint.received_on:
        raise RuleViolation(
            _("is before the complaint was received ({day})", day=complaint.received_on),
            field="answered_on",
        )
    complaint.answered_on, complaint.answer_note = day, answer_note
    complaint.answered_by = actor.username
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="complaint.answer",
        subject_type="complaint",
        subject_id=complaint.id,
        detail={"district_id": complaint.district_id},
        now=now,
    )
    return complaint


def complaint_view(complaint: Complaint, units: dict[int, Unit]) -> dict[str, Any]:
    district = units[complaint.district_id]
    return {
        "id": complaint.id,
        "district_code": district.code,
        "district_name_zh": district.name_zh,
        "received_on": complaint.received_on,
        "channel": complaint.channel,
        "channel_label_zh": complaint_rules.channels().get(complaint.channel, complaint.channel),
        "summary": complaint.summary,
        "status": "open" if complaint.answered_on is None else "answered",
        "answered_on": complaint.answered_on,
        "answer_note": complaint.answer_note,
        "answered_by": complaint.answered_by,
        "created_by": complaint.created_by,
        "created_at": complaint.created_at,
    }


def districts(session: Session, complaints: list[Complaint]) -> dict[int, Unit]:
    """The districts of these complaints, by id (one query)."""
    ids = {c.district_id for c in complaints}
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
