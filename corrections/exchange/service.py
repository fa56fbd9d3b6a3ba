"""Partner agencies and their accounts, the feed a partner reads, receipts (回执), and what
operators see and do (delivery states, resending dead letters)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import SYSTEM, Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from corrections.core.i18n import _, bilingual
from corrections.exchange import outbox
from corrections.exchange import rules as exchange_rules
from corrections.exchange.models import Agency, OutboxMessage, Receipt
from corrections.org import service as org
from corrections.org.models import Unit, UnitKind, User

# No '.': an agency's code starts the broker's routing keys (<code>.<type>), and its queue is
# bound to <code>.# (exchange/relay.py): a dot would let one agency's queue take another's.
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
RECEIPT_STATUSES = ("received", "accepted", "rejected")
RECEIPT_STATUS_ZH = {"received": "已接收", "accepted": "受理", "rejected": "退回"}
FEED_MAX = 500


# --- agencies and partner accounts ---------------------------------------------------------


def create_agency(
    session: Session,
    *,
    code: str,
    kind: str,
    name_zh: str,
    unit_code: str,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> tuple[Agency, int]:
    """Add an agency serving ``unit_code`` (the city or a district); the messages kept for its
    kind and jurisdiction (unrouted) become its own. Returns the agency and how many."""
    now = now or now_utc()
    rules = exchange_rules.current()
    if not CODE_RE.match(code or ""):
        raise RuleViolation(_("2–32 letters, digits, '_' or '-'"), field="code")
    if kind not in rules.agency_labels:
        raise RuleViolation(
            _("unknown agency kind (known: {known})", known=", ".join(rules.agency_labels)),
            field="kind",
        )
    name_zh = (name_zh or "").strip()
    if not 2 <= len(name_zh) <= 100:
        raise RuleViolation(_("2–100 characters"), field="name_zh")
    unit = org.get_unit_by_code(session, unit_code)
    if unit.kind not in (UnitKind.CITY, UnitKind.DISTRICT) or not unit.active:
        raise RuleViolation(_("an agency serves the city or an active district"), field="unit_code")
    if session.scalar(select(Agency.id).where(Agency.code == code)):
        raise Conflict(_("agency {code} exists", code=code), errors={"code": [_("already exists")]})
    agency = Agency(
        code=code,
        kind=kind,
        name_zh=name_zh,
        unit_id=unit.id,
        active=True,
        created_at=now,
        created_by=actor.username,
    )
    session.add(agency)
    session.flush()
    routed = outbox.route_waiting(session, agency)
    audit.record(
        session,
        actor=actor,
        action="exchange.agency_create",
        subject_type="agency",
        subject_id=agency.id,
        detail={"code": code, "kind": kind, "unit": unit.code, "routed": routed},
        now=now,
    )
    return agency, routed


def get_agency(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(_("no agency {code}", code=code))
    return agency


def list_agencies(session: Session) -> list[tuple[Agency, Unit, int]]:
    """Every agency with its unit and its active partner accounts."""
    accounts = (
        select(User.agency_id, func.count().label("n"))
        .where(User.role == Role.PARTNER, User.active.is_(True))
        .group_by(User.agency_id)
        .subquery()
    )
    rows = session.execute(
        select(Agency, Unit, func.coalesce(accounts.c.n, 0))
        .join(Unit, Unit.id == Agency.unit_id)
        .outerjoin(accounts, accounts.c.agency_id == Agency.id)
        .order_by(Agency.code)
    ).all()
    return [(a, u, n) for a, u, n in rows]


def create_agency_account(
    session: Session,
    *,
    username: str,
    agency_code: str,
    role: Role,
    kind: str | None = None,
    display_name: str = "",
    actor: Actor = SYSTEM,
) -> User:
    """An account bound to an agency (a partner reading its feed; a procurator, of a
    procuratorate only: ``kind``): ``role``, its agency's unit, no password until its user
    redeems a reset code (the operator issues one)."""
    agency = get_agency(session, agency_code)
    if kind is not None and agency.kind != kind:
        raise RuleViolation(
            _(
                "the agency {code} is not a {kind}",
                code=agency.code,
                kind=bilingual(kind, exchange_rules.current().agency_labels[kind]),
            ),
            field="agency",
        )
    if not agency.active:
        raise RuleViolation(_("the agency {code} is inactive", code=agency.code), field="agency")
    unit = session.get(Unit, agency.unit_id)
    return org.create_user(
        session,
        username=username,
        password=None,
        role=role,
        unit_code=unit.code,
        display_name=display_name,
        actor=actor,
        agency_id=agency.id,
    )


def create_partner(session: Session, **kwargs: Any) -> User:
    """A partner account of an agency (:func:`create_agency_account`)."""
    return create_agency_account(session, role=Role.PARTNER, **kwargs)


def agency_of(session: Session, actor: Actor, kind: str | None = None) -> Agency:
    """The active agency an account belongs to (of ``kind`` where given); an account without
    one reads and files nothing."""
    agency = session.scalar(
        select(Agency).join(User, User.agency_id == Agency.id).where(User.id == actor.user_id)
    )
    if agency is None or not agency.active or (kind is not None and agency.kind != kind):
        raise Forbidden(_("This account belongs to no active agency."))
    return agency


# --- the feed and receipts -----------------------------------------------------------------


def feed(
    session: Session, *, actor: Actor, after: int = 0, limit: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """The partner's messages after the cursor ``after`` (a message's ``sequence``), oldest
    first, at most ``limit``; and the cursor to ask from next. The response is audited by
    the persons its messages are about."""
    agency = agency_of(session, actor)
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.agency_id == agency.id, OutboxMessage.id > after)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    # A record sealed since (犯罪记录封存) is not served again (outbox.served).
    sealed = outbox.seals(session, (row.person_id for row in rows))
    items = []
    for row in rows:
        envelope = outbox.served(row, sealed)
        envelope["sequence"] = row.id
        envelope["receipt"] = {
            "state": "acknowledged" if row.acknowledged_at else "waiting",
            "acknowledged_at": outbox._value(row.acknowledged_at),
        }
        items.append(envelope)
    shown = {row.person_id: row.juvenile for row in rows if row.person_id is not None}
    if rows:
        audit.record(
            session,
            actor=actor,
            action="exchange.feed",
            subject_type="agency",
            subject_id=agency.id,
            juvenile=any(shown.values()),
            detail={
                "after": after,
                "messages": len(rows),
                "first": rows[0].id,
                "last": rows[-1].id,
            },
            person_ids=shown or None,
        )
    return items, rows[-1].id if rows else after


def receipt(
    session: Session,
    *,
    actor: Actor,
    event_id: str,
    status: str,
    note: str | None = None,
    now: datetime | None = None,
) -> tuple[Receipt, bool]:
    """The partner acknowledges one of its messages (by its CloudEvents id): ``received``
    (已接收) and later its decision (``accepted`` 受理 / ``rejected`` 退回), or the decision at
    once; the same status again is a replay (True), anything else a conflict. A message of
    another agency is not found."""
    now = now or now_utc()
    agency = agency_of(session, actor)
    message = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.event_id == event_id, OutboxMessage.agency_id == agency.id)
        .with_for_update()
    )
    if message is None:
        raise NotFound(_("No such message."))
    existing = session.scalar(
        select(Receipt).where(Receipt.message_id == message.id).with_for_update()
    )
    if existing is not None:
        if existing.status == status:
            return existing, True
        if existing.status != "received" or status == "received":
            raise Conflict(
                _(
                    "The message was already acknowledged as {status}.",
                    status=bilingual(existing.status, RECEIPT_STATUS_ZH[existing.status]),
                ),
                errors={"status": [_("already acknowledged")]},
            )
        # 已接收, then the decision on it (受理 / 退回): once; when it was received stays, the
        # audit trail keeps when it was decided.
        existing.status, existing.note = status, note or existing.note
        session.flush()
        _audit_receipt(session, actor, message, event_id, status, now, previous="received")
        return existing, False
    row = Receipt(
        message_id=message.id,
        agency_id=agency.id,
        status=status,
        note=note,
        received_at=now,
        received_by=actor.username,
    )
    session.add(row)
    message.acknowledged_at = now
    message.state = "acknowledged"
    session.flush()
    _audit_receipt(session, actor, message, event_id, status, now)
    return row, False


def _audit_receipt(session, actor, message, event_id, status, now, previous=None) -> None:
    detail = {"event_id": event_id, "status": status, "type": message.type}
    if previous:
        detail["previous"] = previous
    audit.record(
        session,
        actor=actor,
        action="exchange.receipt",
        subject_type="exchange_message",
        subject_id=message.id,
        juvenile=message.juvenile,
        detail=detail,
        now=now,
        person_ids=[message.person_id] if message.person_id else None,
    )


# --- operators -----------------------------------------------------------------------------


def list_messages(
    session: Session,
    *,
    state: str | None = None,
    agency: str | None = None,
    type_: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[tuple[OutboxMessage, Agency | None]], int]:
    """Messages for operators (no envelope: delivery facts only), newest first."""
    stmt = select(OutboxMessage, Agency).outerjoin(Agency, Agency.id == OutboxMessage.agency_id)
    if state is not None:
        stmt = stmt.where(OutboxMessage.state == state)
    if agency is not None:
        stmt = stmt.where(Agency.code == agency)
    if type_ is not None:
        stmt = stmt.where(OutboxMessage.type == type_)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.execute(
        stmt.order_by(OutboxMessage.id.desc()).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return [(m, a) for m, a in rows], total or 0


def resend(
    session: Session,
    *,
    actor: Actor,
    message_ids: list[int] | None = None,
    dead: bool = False,
    now: datetime | None = None,
) -> int:
    """Put messages back in the relay's queue (attempts from zero): the given ones, or every
    dead letter; returns how many were queued. The receiver de-duplicates by the message's id;
    an acknowledged message keeps its receipt and is not queued (nor counted); an id that is
    no routed message is refused, naming it."""
    now = now or now_utc()
    where = []
    if message_ids:
        where.append(OutboxMessage.id.in_(message_ids))
    if dead:
        where.append(OutboxMessage.state == "dead")
    # The given ones and (``dead``) every dead letter besides.
    where = [or_(*where)] if where else where
    if not where:
        raise RuleViolation(_("name the messages, or all dead ones"), field="message_ids")
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.state).where(
            *where, OutboxMessage.agency_id.is_not(None)
        )
    ).all()
    if message_ids:
        missing = sorted(set(message_ids) - {i for i, _state in rows})
        if missing:
            # Not a message (or not routed yet, so nothing to send again): say which.
            raise RuleViolation(
                _("no such routed message: {ids}", ids=", ".join(map(str, missing[:20]))),
                field="message_ids",
            )
    # An acknowledged message needs nothing: its receiver has it.
    ids = [i for i, state in rows if state != "acknowledged"]
    if not ids:
        return 0
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(state="pending", attempts=0, next_attempt_at=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor=actor,
        action="exchange.resend",
        subject_type="exchange_message",
        detail={"count": len(ids), "first": min(ids), "last": max(ids), "dead": dead},
        now=now,
    )
    return len(ids)


def overdue_receipts(session: Session, *, now: datetime) -> list[OutboxMessage]:
    """Messages routed to an agency, unacknowledged beyond the rules' hours, not yet alerted."""
    due = now - timedelta(hours=exchange_rules.current().receipt_due_hours)
    return list(
        session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.agency_id.is_not(None),
                OutboxMessage.acknowledged_at.is_(None),
                OutboxMessage.overdue_alerted_at.is_(None),
                OutboxMessage.created_at < due,
            )
        )
    )
