"""Sealing a juvenile's record (未成年人犯罪记录封存) and reading it through an unseal request.

刑事诉讼法 Art. 286: the record of a crime committed under 18 and punished with at most five
years' imprisonment is sealed, and given to no one but the judicial organs for a case and units
querying under state regulations; 社区矫正法 Art. 54 says the same of a juvenile's correction
file. The rules (articles, categories, the grant's duration, labels) are ``rules/persons.yaml``,
section ``sealing``.

- :func:`seal_if_juvenile` seals the record at discharge (called by the discharge, in its
  transaction); :func:`seal` seals one discharged before sealing existed (city staff) and
  :func:`seal_discharged` all of them (the CLI).
- Once sealed, every view of the person and of everything recorded about them is a stub for
  every role (``privacy.Visibility.SEALED``: id, person, dates), unless the viewer holds a
  grant: lists and statistics still count the person.
- :func:`request_unseal` (city staff or the person's district, with a reason and a legal basis)
  and :func:`decide` (another city-level user, never the requester). An approved request is a
  grant to its requester alone until it expires; every response that shows the record under it
  is audited naming the request (:func:`sealed_for`), as is every step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, Forbidden, RuleViolation
from corrections.core.i18n import Message, _, bilingual
from corrections.core.ruleset_store import ensure_recorded
from corrections.persons import rules as person_rules
from corrections.persons.models import Person, PersonSeal, UnsealRequest
from corrections.persons.scope import actor_level, audit_person, get_record_of, get_scoped

# Who may ask to read a sealed record: city staff, or the command centre of its district.
REQUEST_LEVELS = ("city", "district")
DECISIONS = {"approve": "approved", "refuse": "refused"}


def _rules() -> person_rules.Sealing:
    return person_rules.current().sealing


def _status_is(status: str) -> Message:
    """The ``errors`` entry of a refusal that depends on the person's status (在矫, 解矫 ...)."""
    label = person_rules.current().label("statuses", status) or status
    return _("status is {status}", status=bilingual(status, label))


def _request_status(status: str) -> Message:
    """An unseal request's status as a message parameter: 待审批, 已批准 ... in Chinese."""
    return bilingual(status, _rules().request_statuses.get(status, status))


# Who decides on a request to read a sealed record: city staff alone.
CITY_DECIDES = _("City staff decide on requests to read a sealed record.")


def qualifies(person: Person, rules: person_rules.Sealing) -> bool:
    """Whether the law seals ``person``'s record: a crime committed under 18 (the juvenile
    flag: under 18 at the offence, or at intake, which came after it) in a category whose
    sentence the rules take as within five years (``sealing.categories``)."""
    return bool(person.juvenile) and person.category in rules.categories


# --- sealing -----------------------------------------------------------------------------


def seal_if_juvenile(
    session: Session, person: Person, now: datetime, actor: Actor
) -> PersonSeal | None:
    """Seal ``person``'s record at discharge when the law says so (刑事诉讼法 Art. 286).

    Called by the discharge, in its transaction, after the status change; returns the seal, or
    None for an adult, a category the rules do not seal, or a record sealed already."""
    if person.sealed or not qualifies(person, _rules()):
        return None
    return _seal(session, person, "discharge", actor, now)


def seal(
    session: Session, *, actor: Actor, person_id: int, now: datetime | None = None
) -> PersonSeal:
    """Seal a juvenile's record discharged before sealing existed (补充封存), by city staff."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    if actor.role != Role.CITY:
        raise Forbidden(_("A record discharged before sealing existed is sealed by city staff."))
    if person.sealed:
        raise Conflict(
            _("The record is already sealed."), errors={"person_id": [_("already sealed")]}
        )
    if person.status != "discharged":
        raise Conflict(
            _("Only a discharged record is sealed."),
            errors={"person_id": [_status_is(person.status)]},
        )
    if not qualifies(person, _rules()):
        raise RuleViolation(
            _(
                "The record does not qualify for sealing: the crime must have been committed "
                "under 18, in a category the rules seal."
            ),
            field="person_id",
        )
    return _seal(session, person, "backfill", actor, now)


def seal_discharged(
    session: Session, *, actor: Actor, now: datetime | None = None, operator: str | None = None
) -> int:
    """Seal every discharged juvenile record of a sealed category not sealed yet; returns how
    many (the backfill of records discharged before sealing existed). ``operator``: who ran
    it at the shell (``cli:<os user>@<host>``) for the named user, in each seal's audit row."""
    now = now or now_utc()
    rules = _rules()
    persons = session.scalars(
        select(Person)
        .where(
            Person.status == "discharged",
            Person.juvenile.is_(True),
            Person.sealed.is_(False),
            Person.category.in_(rules.categories),
        )
        .order_by(Person.id)
    ).all()
    for person in persons:
        _seal(session, person, "backfill", actor, now, operator)
    return len(persons)


def _seal(
    session: Session,
    person: Person,
    ground: str,
    actor: Actor,
    now: datetime,
    operator: str | None = None,
) -> PersonSeal:
    version = ensure_recorded(session, "persons", now)
    row = PersonSeal(
        person_id=person.id,
        ground=ground,
        sealed_at=now,
        sealed_by_id=actor.user_id,
        sealed_by=actor.username,
        rules_version=version,
        inputs={"juvenile": bool(person.juvenile), "category": person.category},
    )
    session.add(row)
    person.sealed = True
    person.updated_at = now
    session.flush()
    _cache(session)["sealed"][person.id] = True
    audit_person(
        session,
        actor,
        person,
        "person.sealed",
        detail={
            "ground": ground,
            "rules_version": version,
            **({"operator": operator} if operator else {}),
        },
        now=now,
    )
    return row


def seal_view(row: PersonSeal) -> dict[str, Any]:
    return {
        "person_id": row.person_id,
        "ground": row.ground,
        "ground_label_zh": _rules().grounds[row.ground],
        "sealed_at": row.sealed_at,
        "sealed_by": row.sealed_by,
        "rules_version": row.rules_version,
    }


# --- unseal requests ---------------------------------------------------------------------


def _requester(session: Session, actor: Actor, person_id: int, *, lock: bool = False) -> Person:
    person = get_scoped(session, actor, person_id, lock=lock)
    if actor_level(actor, person) not in REQUEST_LEVELS:
        raise Forbidden(
            _("City staff or the person's district command centre ask to read a sealed record.")
        )
    return person


def request_unseal(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    legal_basis: str,
    reason: str,
    now: datetime | None = None,
) -> UnsealRequest:
    """Ask to read a sealed record (查询申请), with the reason and the legal basis
    (最高法刑诉解释 Art. 581); another city-level user decides."""
    now = now or now_utc()
    person = _requester(session, actor, person_id, lock=True)
    rules = _rules()
    if legal_basis not in rules.legal_bases:
        raise RuleViolation(
            _("must be one of: {choices}", choices=", ".join(rules.legal_bases)),
            field="legal_basis",
        )
    if not person.sealed:
        raise Conflict(
            _("The record is not sealed; there is nothing to ask for."),
            errors={"person_id": [_("not sealed")]},
        )
    pending = session.scalar(
        select(UnsealRequest.id).where(
            UnsealRequest.person_id == person.id,
            UnsealRequest.requested_by_id == actor.user_id,
            UnsealRequest.status == "pending",
        )
    )
    if pending is not None:
        raise Conflict(
            _("You already have a request for this record awaiting a decision."),
            errors={"person_id": [_("request {id} is pending", id=pending)]},
        )
    row = UnsealRequest(
        person_id=person.id,
        legal_basis=legal_basis,
        reason=reason,
        requested_by_id=actor.user_id,
        requested_by=actor.username,
        requested_at=now,
        status="pending",
        rules_version=ensure_recorded(session, "persons", now),
    )
    session.add(row)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "person.unseal_requested",
        detail={"unseal_request_id": row.id, "legal_basis": legal_basis},
        now=now,
    )
    return row


def decide(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    request_id: int,
    decision: str,
    note: str | None = None,
    now: datetime | None = None,
) -> UnsealRequest:
    """Approve or refuse an unseal request: city staff other than the requester. An approval
    lets the requester alone read the record until ``expires_at`` (rules: sealing.grant)."""
    now = now or now_utc()
    person, row = get_record_of(
        session, actor, person_id, UnsealRequest, request_id, _("unseal request"), lock=True
    )
    if actor.role != Role.CITY:
        raise Forbidden(CITY_DECIDES)
    if row.requested_by_id == actor.user_id:
        raise Forbidden(_("Nobody decides their own request: another city-level user decides it."))
    if row.status != "pending":
        status = _request_status(row.status)
        raise Conflict(
            _("The request is {status}, not awaiting a decision.", status=status),
            errors={"decision": [_("request is {status}", status=status)]},
        )
    if decision == "refuse" and not note:
        raise RuleViolation(_("say why it is refused"), field="note")
    row.status = DECISIONS[decision]
    row.decided_by_id, row.decided_by, row.decided_at = actor.user_id, actor.username, now
    row.decision_note = note
    if row.status == "approved":
        row.expires_at = now + timedelta(days=_rules().grant_days)
    session.flush()
    _cache(session)["grants"].clear()
    audit_person(
        session,
        actor,
        person,
        f"person.unseal_{row.status}",
        detail={
            "unseal_request_id": row.id,
            "requested_by": row.requested_by,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        },
        now=now,
    )
    return row


def requests_of(session: Session, *, actor: Actor, person_id: int) -> list[UnsealRequest]:
    """The unseal requests of a record, newest first (for city staff and its district)."""
    person = _requester(session, actor, person_id)
    rows = list(
        session.scalars(
            select(UnsealRequest)
            .where(UnsealRequest.person_id == person.id)
            .order_by(UnsealRequest.requested_at.desc(), UnsealRequest.id.desc())
        )
    )
    audit_person(session, actor, person, "person.unseal_requests_read", detail={"count": len(rows)})
    return rows


def pending_requests(session: Session, *, actor: Actor, limit: int = 200) -> list[UnsealRequest]:
    """Requests waiting for a decision, oldest first: the city's queue."""
    if actor.role != Role.CITY:
        raise Forbidden(CITY_DECIDES)
    rows = list(
        session.scalars(
            select(UnsealRequest)
            .where(UnsealRequest.status == "pending")
            .order_by(UnsealRequest.requested_at, UnsealRequest.id)
            .limit(limit)
        )
    )
    audit.record(
        session,
        actor=actor,
        action="person.unseal_queue_read",
        subject_type="unseal_request",
        juvenile=bool(rows),
        detail={"count": len(rows)},
    )
    return rows


def request_view(row: UnsealRequest, now: datetime) -> dict[str, Any]:
    """An unseal request; an approval past its expiry shows as ``expired``."""
    rules = _rules()
    status = row.status
    if status == "approved" and not row.grants_at(now):
        status = "expired"
    basis = rules.legal_bases.get(row.legal_basis, {})
    return {
        "id": row.id,
        "person_id": row.person_id,
        "legal_basis": row.legal_basis,
        "legal_basis_label_zh": basis.get("label_zh"),
        "article": basis.get("article"),
        "reason": row.reason,
        "status": status,
        "status_label_zh": rules.request_statuses[status],
        "requested_by": row.requested_by,
        "requested_at": row.requested_at,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "decision_note": row.decision_note,
        "expires_at": row.expires_at,
        "rules_version": row.rules_version,
    }


# --- what the privacy policy asks --------------------------------------------------------

_CACHE = "sealing"  # session.info: (transaction, lookups made in it)


def _cache(session: Session) -> dict[str, Any]:
    """Lookups of this transaction: sealed flags, grants, grant uses audited. A new
    transaction (a new request, the stream's next batch) looks again: a grant that expired
    meanwhile is not used."""
    real = session() if isinstance(session, scoped_session) else session
    txn = real.get_transaction()
    entry = session.info.get(_CACHE)
    if entry is None or entry[0] is not txn:
        entry = (txn, {"sealed": {}, "grants": {}, "audited": set()})
        session.info[_CACHE] = entry
    return entry[1]


def _sealed_ids(session: Session, persons: list[Any], cache: dict[str, Any]) -> set[int]:
    sealed, unknown = set(), set()
    for person in persons:
        if person.id is None:  # not inserted yet: not sealed
            continue
        # A loaded person or a list row that selected the flag; else looked up once.
        flag = getattr(person, "sealed", None)
        if flag is None:
            flag = cache["sealed"].get(person.id)
        if flag is None:
            unknown.add(person.id)
        elif flag:
            sealed.add(person.id)
    if unknown:
        found = set(
            session.scalars(
                select(Person.id).where(Person.id.in_(sorted(unknown)), Person.sealed.is_(True))
            )
        )
        for person_id in unknown:
            cache["sealed"][person_id] = person_id in found
        sealed |= found
    return sealed


def sealed_for(session: Session, actor: Actor, persons: Iterable[Any]) -> set[int]:
    """The ids of the persons among ``persons`` whose record is sealed for ``actor``: sealed,
    and no active grant of ``actor``'s for it. A sealed record shown under a grant is audited,
    once per transaction, naming the request that granted it."""
    persons = list(persons)
    cache = _cache(session)
    sealed = _sealed_ids(session, persons, cache)
    if not sealed or actor.user_id is None:
        return sealed
    grants = cache["grants"]
    missing = sorted(pid for pid in sealed if (actor.user_id, pid) not in grants)
    if missing:
        found = dict(
            session.execute(
                select(UnsealRequest.person_id, func.max(UnsealRequest.id))
                .where(
                    UnsealRequest.person_id.in_(missing),
                    UnsealRequest.requested_by_id == actor.user_id,
                    UnsealRequest.grants_at(now_utc()),
                )
                .group_by(UnsealRequest.person_id)
            ).all()
        )
        for person_id in missing:
            grants[(actor.user_id, person_id)] = found.get(person_id)
    out = set()
    for person_id in sorted(sealed):
        grant = grants[(actor.user_id, person_id)]
        if grant is None:
            out.add(person_id)
        elif (person_id, grant) not in cache["audited"]:
            cache["audited"].add((person_id, grant))
            _audit_read_under_grant(session, actor, person_id, grant)
    return out


def granted_to(actor: Actor, now: datetime):
    """SQL: the ids of the persons ``actor`` holds an active grant for (for a query's WHERE)."""
    return select(UnsealRequest.person_id).where(
        UnsealRequest.requested_by_id == actor.user_id, UnsealRequest.grants_at(now)
    )


def _audit_read_under_grant(session: Session, actor: Actor, person_id: int, grant: int) -> None:
    from flask import has_request_context, request

    endpoint = request.endpoint if has_request_context() else None
    audit.record(
        session,
        actor=actor,
        action="person.sealed_read",
        subject_type="person",
        subject_id=person_id,
        juvenile=True,
        detail={"unseal_request_id": grant, "endpoint": endpoint or "?"},
    )
