"""Procuratorate oversight (检察监督): a procurator files a 纠正意见 or 检察建议 about a district
(an office, a person); the district's commanders (or the city) see it as a queue with its
reply deadline and reply in writing, which closes it; an overdue reply raises an alert
(oversight/jobs.py). Who sees an opinion: the subject district's commanders, the city, and
the procurators whose scope holds the district (persons/scope.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.orm import Session, aliased

from corrections.alerts import service as alerts
from corrections.alerts.models import Alert
from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.clock import BUSINESS_TZ, business_date, now_utc
from corrections.core.errors import Conflict, NotFound, RuleViolation
from corrections.core.i18n import _
from corrections.core.pagination import paginate
from corrections.exchange.models import Agency
from corrections.org.models import Unit, UnitKind, User
from corrections.oversight import rules as oversight_rules
from corrections.oversight.models import OversightOpinion
from corrections.persons.listing import ListedPerson
from corrections.persons.models import Person
from corrections.persons.scope import get_scoped, procurator_sees_all

ALERT_KIND = "oversight_reply_overdue"
# Alert.subject_type holds 16 characters.
ALERT_SUBJECT = "opinion"


# How long before its filing a document may say it was received.
RECEIVED_AT_MOST_AGO = timedelta(days=7)


# --- procurator accounts -------------------------------------------------------------------


def create_procurator(session: Session, **kwargs: Any) -> User:
    """A procurator account (检察人员) of a procuratorate: role ``procurator``, its agency's
    unit (a district: that district's persons; the city: all), no password until its user
    redeems a reset code (the operator issues one)."""
    from corrections.exchange import service as exchange

    return exchange.create_agency_account(
        session, role=Role.PROCURATOR, kind="procuratorate", **kwargs
    )


def agency_of(session: Session, actor: Actor) -> Agency:
    """The procuratorate of a procurator account (none active: it may file nothing)."""
    from corrections.exchange import service as exchange

    return exchange.agency_of(session, actor, kind="procuratorate")


# --- scope ---------------------------------------------------------------------------------


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """The opinions ``actor`` may see: about their district (commanders, a district's
    procurators), or all (the city, the city's procurators)."""
    if actor.role == Role.CITY:
        return true()
    if actor.role == Role.PROCURATOR and procurator_sees_all(actor):
        return true()
    if actor.role in (Role.COMMANDER, Role.PROCURATOR):
        return OversightOpinion.district_id == actor.unit_id
    return OversightOpinion.id.is_(None)


def _in_scope(actor: Actor, district_id: int) -> bool:
    """Whether ``actor`` may file about (or see) the district: a procurator, or the
    procuratorate's own system sending its documents in (a partner account of that agency,
    exchange/inbound.py), within its agency's jurisdiction."""
    if actor.role == Role.CITY:
        return True
    filer = actor.role in (Role.PROCURATOR, Role.PARTNER)
    if filer and procurator_sees_all(actor):
        return True
    return (filer or actor.role == Role.COMMANDER) and actor.unit_id == district_id


# --- filing --------------------------------------------------------------------------------


def file_opinion(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    document_number: str,
    issued_on: date,
    content: str,
    district_code: str,
    office_code: str | None = None,
    person_id: int | None = None,
    subject: Person | None = None,
    received_at: datetime | None = None,
    now: datetime | None = None,
) -> OversightOpinion:
    """File a procuratorate's document about a district within the procurator's scope (and
    within it, optionally, an office and/or a person); its reply is due by the rules' clock
    for its kind, counted from the day the bureau received it (``received_at``, default now).
    Refused (422, the field named) when the subject is outside the procurator's scope, the
    office is not in the district or is not the person's, or the dates are impossible; a
    document number the agency filed already is 409. Audited. ``subject``: the person, already
    found within the agency's jurisdiction (a document sent in names them by our reference,
    exchange/inbound.py), instead of ``person_id``."""
    now = now or now_utc()
    rules = oversight_rules.current()
    agency = agency_of(session, actor)
    if kind not in rules.labels:
        raise RuleViolation(_("unknown kind"), field="kind")
    received_at = received_at or now
    today = business_date(now)
    if issued_on > today:
        raise RuleViolation(_("must not be in the future"), field="issued_on")
    if received_at > now:
        raise RuleViolation(_("must not be in the future"), field="received_at")
    if business_date(received_at) < issued_on:
        raise RuleViolation(_("must not be before the day it was issued"), field="received_at")
    if received_at < now - RECEIVED_AT_MOST_AGO:
        # Filed long after it came, it would be overdue at once (an alert against the
        # district for a reply nobody could have given): a late filing says so in a note.
        raise RuleViolation(
            _("must be within the last {days} days", days=RECEIVED_AT_MOST_AGO.days),
            field="received_at",
        )
    district = session.scalar(
        select(Unit).where(Unit.code == district_code, Unit.kind == UnitKind.DISTRICT)
    )
    # The agency's jurisdiction: its district, or (the city's procuratorate) every district.
    if district is None or not _in_scope(actor, district.id):
        raise RuleViolation(_("not a district within your scope"), field="district_code")
    office = None
    if office_code is not None:
        office = session.scalar(
            select(Unit).where(Unit.code == office_code, Unit.kind == UnitKind.OFFICE)
        )
        if office is None or office.parent_id != district.id:
            raise RuleViolation(_("not a judicial office of the district"), field="office_code")
    person = subject
    if person is None and person_id is not None:
        try:
            person = get_scoped(session, actor, person_id)
        except NotFound:
            raise RuleViolation(_("No such person."), field="person_id") from None
    if person is not None:
        if person.district_id != district.id:
            raise RuleViolation(_("the person is not in the district"), field="person_id")
        if office is not None and person.office_id != office.id:
            raise RuleViolation(_("the person is not in the office"), field="person_id")
    if session.scalar(
        select(OversightOpinion.id).where(
            OversightOpinion.agency_id == agency.id,
            OversightOpinion.document_number == document_number,
        )
    ):
        raise Conflict(
            _("This document was filed already."),
            errors={"document_number": [_("already exists")]},
        )
    clock = rules.replies[kind]
    opinion = OversightOpinion(
        agency_id=agency.id,
        kind=kind,
        document_number=document_number,
        issued_on=issued_on,
        received_at=received_at,
        district_id=district.id,
        office_id=office.id if office is not None else None,
        person_id=person.id if person is not None else None,
        content=content,
        reply_due_on=rules.reply_due(kind, business_date(received_at)),
        article=clock.article,
        rules_version=rules.version,
        status="open",
        created_by=actor.username,
        created_at=now,
    )
    session.add(opinion)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="oversight.file",
        subject_type="oversight_opinion",
        subject_id=opinion.id,
        juvenile=bool(person and person.juvenile),
        detail={"kind": kind, "agency": agency.code, "district": district.code},
        now=now,
        person_ids=[person.id] if person is not None else None,
    )
    return opinion


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpinionRow:
    """An opinion as a list shows it: the record, its agency and units, and its person (None:
    about a district or an office)."""

    opinion: OversightOpinion
    agency: Agency
    district: Unit
    office: Unit | None
    person: ListedPerson | None


_DISTRICT = aliased(Unit, name="opinion_district")
_OFFICE = aliased(Unit, name="opinion_office")
_PERSON_OFFICE = aliased(Unit, name="opinion_person_office")


def _rows_stmt(actor: Actor):
    return (
        select(
            OversightOpinion,
            Agency,
            _DISTRICT,
            _OFFICE,
            Person.id,
            Person.juvenile,
            Person.office_id,
            Person.district_id,
            Person.sealed,
            Person.name,
            _PERSON_OFFICE.code,
            _PERSON_OFFICE.name_zh,
        )
        .join(Agency, Agency.id == OversightOpinion.agency_id)
        .join(_DISTRICT, _DISTRICT.id == OversightOpinion.district_id)
        .outerjoin(_OFFICE, _OFFICE.id == OversightOpinion.office_id)
        .outerjoin(Person, Person.id == OversightOpinion.person_id)
        .outerjoin(_PERSON_OFFICE, _PERSON_OFFICE.id == Person.office_id)
        .where(scope_clause(actor))
    )


def _row(row) -> OpinionRow:
    opinion, agency, district, office, *person = row
    listed = ListedPerson(*person) if person[0] is not None else None
    return OpinionRow(opinion, agency, district, office, listed)


def list_opinions(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    kind: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[OpinionRow], int]:
    """The opinions ``actor`` may see, oldest received first (the commanders' queue:
    ``status=open``)."""
    stmt = _rows_stmt(actor)
    if status is not None:
        stmt = stmt.where(OversightOpinion.status == status)
    if kind is not None:
        stmt = stmt.where(OversightOpinion.kind == kind)
    rows, total = paginate(
        session,
        stmt,
        OversightOpinion.received_at,
        OversightOpinion.id,
        page=page,
        page_size=page_size,
    )
    return [_row(r) for r in rows], total


def get_row(session: Session, actor: Actor, opinion_id: int) -> OpinionRow:
    row = session.execute(_rows_stmt(actor).where(OversightOpinion.id == opinion_id)).first()
    if row is None:
        raise NotFound(_("No such opinion."))
    return _row(row)


# --- replying ------------------------------------------------------------------------------


def reply(
    session: Session,
    *,
    actor: Actor,
    opinion_id: int,
    text: str,
    now: datetime | None = None,
) -> OversightOpinion:
    """The district (its commander) or the city replies in writing; the opinion closes and
    its overdue alert, if any, is resolved. Once: a second reply is 409. Audited."""
    now = now or now_utc()
    opinion = session.scalar(
        select(OversightOpinion)
        .where(OversightOpinion.id == opinion_id, scope_clause(actor))
        .with_for_update()
    )
    if opinion is None or actor.role not in (Role.COMMANDER, Role.CITY):
        raise NotFound(_("No such opinion."))
    if opinion.status != "open":
        raise Conflict(
            _("This opinion was replied to already."), errors={"reply": [_("already replied")]}
        )
    opinion.status = "replied"
    opinion.reply = text
    opinion.replied_by = actor.username
    opinion.replied_at = now
    session.flush()
    # To the procuratorate that filed it, in this transaction (exchange/triggers.py).
    from corrections.exchange import triggers as exchange

    late = business_date(now) > opinion.reply_due_on
    exchange.opinion_replied(session, opinion, late=late, now=now)
    juvenile = bool(
        opinion.person_id
        and session.scalar(select(Person.juvenile).where(Person.id == opinion.person_id))
    )
    audit.record(
        session,
        actor=actor,
        action="oversight.reply",
        subject_type="oversight_opinion",
        subject_id=opinion.id,
        juvenile=juvenile,
        detail={
            "kind": opinion.kind,
            "reply_due_on": opinion.reply_due_on.isoformat(),
            "late": late,
        },
        now=now,
        person_ids=[opinion.person_id] if opinion.person_id else None,
    )
    alerts.resolve_where(
        session,
        and_(
            Alert.kind == ALERT_KIND,
            Alert.subject_type == ALERT_SUBJECT,
            Alert.subject_id == opinion.id,
        ),
        now=now,
        note="已书面回复",
    )
    return opinion


def days_left(opinion: OversightOpinion, today: date) -> int:
    """Days from ``today`` to the reply's last day (negative: overdue by that many)."""
    return (opinion.reply_due_on - today).days


# --- the deadline job ----------------------------------------------------------------------


def overdue_opinions(session: Session, *, now: datetime) -> list[tuple[int, int | None, str]]:
    """(id, person id, kind) of the open opinions past their reply day, not yet alerted."""
    today = business_date(now)
    return [
        (row.id, row.person_id, row.kind)
        for row in session.execute(
            select(OversightOpinion.id, OversightOpinion.person_id, OversightOpinion.kind).where(
                OversightOpinion.status == "open",
                OversightOpinion.overdue_alerted_at.is_(None),
                OversightOpinion.reply_due_on < today,
            )
        )
    ]


def local_midnight(day: date) -> datetime:
    """The instant an Asia/Shanghai day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TZ)


def figures_scope(actor: Actor) -> int | None:
    """The district whose offices ``actor`` sees in the per-office view (None: all)."""
    if actor.role == Role.CITY or procurator_sees_all(actor):
        return None
    return actor.unit_id
