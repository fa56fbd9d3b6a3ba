"""Flagged control (挂牌管控): a person put under closer watch at district or township
(judicial office) level, reviewed monthly, closed by conversion (转化) approved at the flag's level
or above by someone other than who opened it (the demo has one officer account per office, so
a township flag is converted by the office's other staff or the district). Repeated
sanctions (and, with the risk model, a high risk band) propose a flag."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, literal, select, text
from sqlalchemy.orm import Session

from corrections.alerts import rules as alert_rules
from corrections.alerts import service as alerts
from corrections.core import ruleset_store
from corrections.core.auth import SYSTEM, Actor
from corrections.core.clock import business_date, now_utc, start_of_business_day
from corrections.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from corrections.core.i18n import Message, _, bilingual
from corrections.core.sqlfuncs import insert_for, json_object
from corrections.incidents.models import LIVE_FLAG_PREDICATE, Flag
from corrections.org.models import User
from corrections.persons import listing, privacy
from corrections.persons.models import SUPERVISED_STATUSES, Person
from corrections.persons.scope import (
    audit_person,
    get_scoped,
    read_scoped,
    require_level,
)
from corrections.supervision.common import status_is, status_text
from corrections.supervision.models import SupervisionEvent
from corrections.supervision.rules import SANCTIONS

LIVE = ("proposed", "active")


def _rules() -> alert_rules.AlertRules:
    return alert_rules.current()


def _flag_status(status: str) -> Message:
    return bilingual(status, _rules().label("flag_statuses", status) or status)


def _check_officer(session: Session, person: Person, officer_id: int | None) -> None:
    if officer_id is None:
        raise RuleViolation(_("a responsible officer is required"), field="responsible_officer_id")
    user = session.get(User, officer_id)
    if user is None or not user.active or user.role != "officer":
        raise RuleViolation(_("no such active officer"), field="responsible_officer_id")
    if user.unit_id != person.office_id:
        raise RuleViolation(
            _("the responsible officer must work at the person's office"),
            field="responsible_officer_id",
        )


def open_flag(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    level: str,
    reason: str,
    responsible_officer_id: int | None,
    review_due_on: date | None,
    now: datetime | None = None,
) -> Flag:
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    require_level(actor, person, level, _("Opening a {level}-level flag", level=level))
    if person.status not in SUPERVISED_STATUSES:
        raise Conflict(
            _(
                "Only a supervised person can be flagged (status {status}).",
                status=status_text(person.status),
            ),
            errors={"person_id": [status_is(person.status)]},
        )
    _check_officer(session, person, responsible_officer_id)
    today = business_date(now)
    review_due_on = review_due_on or today + timedelta(days=_rules().flag_review_every_days)
    if review_due_on <= today:
        raise RuleViolation(_("must be after today"), field="review_due_on")
    live = session.scalar(select(Flag).where(Flag.person_id == person.id, Flag.status.in_(LIVE)))
    if live is not None and live.status == "active":
        raise Conflict(
            _("The person is already under flagged control."),
            errors={"level": [_flag_status("active")]},
        )
    if live is not None:  # a proposal becomes the flag
        flag = live
        flag.status, flag.level, flag.reason = "active", level, reason
    else:
        flag = Flag(person_id=person.id, status="active", level=level, reason=reason, reviews=[])
        session.add(flag)
    flag.responsible_officer_id = responsible_officer_id
    flag.review_due_on, flag.opened_at, flag.opened_by = review_due_on, now, actor.username
    flag.updated_at = now
    flag.rules_version = ruleset_store.versions(session, now, "alerts")
    session.flush()
    audit_person(
        session, actor, person, "flag.open", now=now, detail={"flag_id": flag.id, "level": level}
    )
    return flag


def _get(session: Session, actor: Actor, person_id: int, flag_id: int) -> tuple[Person, Flag]:
    person = get_scoped(session, actor, person_id, lock=True)
    flag = session.scalar(select(Flag).where(Flag.id == flag_id, Flag.person_id == person.id))
    if flag is None:
        raise NotFound(_("No such flag."))
    return person, flag


def review_flag(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    flag_id: int,
    note: str,
    next_review_on: date | None = None,
    now: datetime | None = None,
) -> Flag:
    """The monthly review: noted, the next one scheduled, the review alert resolved."""
    now = now or now_utc()
    person, flag = _get(session, actor, person_id, flag_id)
    require_level(actor, person, flag.level, _("Reviewing a {level}-level flag", level=flag.level))
    if flag.status != "active":
        raise Conflict(
            _("The flag is {status}.", status=_flag_status(flag.status)),
            errors={"status": [_flag_status(flag.status)]},
        )
    today = business_date(now)
    next_review_on = next_review_on or today + timedelta(days=_rules().flag_review_every_days)
    if next_review_on <= today:
        raise RuleViolation(_("must be after today"), field="next_review_on")
    flag.reviews = [
        *(flag.reviews or []),
        {"at": now.isoformat(), "by": actor.username, "note": note},
    ]
    flag.last_reviewed_at, flag.review_due_on, flag.updated_at = now, next_review_on, now
    session.flush()
    _resolve_review_alert(session, flag, now, "已复核")
    audit_person(session, actor, person, "flag.review", now=now, detail={"flag_id": flag.id})
    return flag


def close_flag(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    flag_id: int,
    outcome: str,
    reason: str,
    now: datetime | None = None,
) -> Flag:
    """Conversion (转化) of an active flag, or declining a proposed one; by the flag's level."""
    now = now or now_utc()
    person, flag = _get(session, actor, person_id, flag_id)
    require_level(actor, person, flag.level, _("Closing a {level}-level flag", level=flag.level))
    expected = {"converted": "active", "declined": "proposed"}[outcome]
    if flag.status != expected:
        status = _flag_status(flag.status)
        refusal = (
            _("Only an active flag can be converted (this one: {status}).", status=status)
            if outcome == "converted"
            else _("Only a proposed flag can be declined (this one: {status}).", status=status)
        )
        raise Conflict(refusal, errors={"status": [status]})
    if outcome == "converted" and flag.opened_by == actor.username:
        raise Forbidden(_("Conversion needs an approver other than the one who opened the flag."))
    flag.status, flag.closed_at, flag.closed_by = outcome, now, actor.username
    flag.close_reason, flag.updated_at = reason, now
    session.flush()
    _resolve_review_alert(session, flag, now, "已摘牌" if outcome == "converted" else "不予挂牌")
    audit_person(session, actor, person, f"flag.{outcome}", now=now, detail={"flag_id": flag.id})
    return flag


def end_for_case(session: Session, person: Person, reason: str, now: datetime) -> list[int]:
    """The case ended: its live flags end with ``reason`` (their review alerts with them)."""
    live = list(
        session.scalars(select(Flag).where(Flag.person_id == person.id, Flag.status.in_(LIVE)))
    )
    for flag in live:
        flag.status, flag.closed_at, flag.closed_by = "ended", now, SYSTEM.username
        flag.close_reason, flag.updated_at = reason, now
    session.flush()
    for flag in live:
        _resolve_review_alert(session, flag, now, reason)
    return [flag.id for flag in live]


def _resolve_review_alert(session: Session, flag: Flag, now: datetime, note: str) -> None:
    alerts.resolve_where(
        session,
        and_(
            alerts.Alert.kind == "flag_review_due",
            alerts.Alert.subject_type == "flag",
            alerts.Alert.subject_id == flag.id,
        ),
        now=now,
        note=note,
    )


def list_person_flags(session: Session, *, actor: Actor, person_id: int) -> list[Flag]:
    person = read_scoped(session, actor, person_id, action="flag.list")
    return list(
        session.scalars(
            select(Flag).where(Flag.person_id == person.id).order_by(Flag.opened_at.desc())
        )
    )


def list_flags(
    session: Session,
    *,
    actor: Actor,
    status: str | None,
    level: str | None,
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int]:
    """Flags in scope by review day (``status=proposed``: the proposals a district decides),
    each with its person as ``actor`` may see them (the response audits the persons shown)."""
    stmt = listing.scoped(actor, select(Flag), Flag.person_id)
    if status:
        stmt = stmt.where(Flag.status == status)
    if level:
        stmt = stmt.where(Flag.level == level)
    rows, total = listing.page(
        session, stmt, Flag.review_due_on, Flag.id, page=page, page_size=page_size
    )
    return listing.present(
        session, actor, "flag", [(person, _listed_view(flag, person)) for flag, person in rows]
    ), total


def _listed_view(flag: Flag, person: listing.ListedPerson) -> dict[str, Any]:
    rules = alert_rules.current()
    return {
        **_view(flag, person),
        **listing.queue_fields(
            "flag",
            proposed_zh=rules.label("flag_levels", flag.level),
            level=flag.level,
            proposed_by=flag.opened_by,
            proposed_at=flag.opened_at,
            rules=[
                {
                    "rule_id": flag.basis,
                    "label_zh": rules.labels["flag_bases"].get(flag.basis),
                    "article": None,
                }
            ]
            if flag.basis
            else [],
        ),
        "evidence_refs": [],
    }


def flag_view(
    session: Session, actor: Actor, flag: Flag, *, listed: privacy.PersonRef | None = None
) -> dict[str, Any]:
    """A flag as ``actor`` may see it (reasons and review notes are typed text); ``listed``:
    the person as a list selected them (their office and district are shown)."""
    person = listed or session.get(Person, flag.person_id)
    return privacy.present(session, actor, person, "flag", _view(flag, listed))


def _view(flag: Flag, listed: privacy.Subject | None) -> dict[str, Any]:
    view = {
        "id": flag.id,
        "person_id": flag.person_id,
        "office_id": listed.office_id if listed else None,
        "district_id": listed.district_id if listed else None,
        "level": flag.level,
        "level_label_zh": alert_rules.current().label("flag_levels", flag.level),
        "status": flag.status,
        "status_label_zh": alert_rules.current().label("flag_statuses", flag.status),
        "reason": flag.reason,
        "basis": flag.basis,
        "responsible_officer_id": flag.responsible_officer_id,
        "review_due_on": flag.review_due_on,
        "opened_at": flag.opened_at,
        "opened_by": flag.opened_by,
        "last_reviewed_at": flag.last_reviewed_at,
        "reviews": flag.reviews or [],
        "closed_at": flag.closed_at,
        "closed_by": flag.closed_by,
        "close_reason": flag.close_reason,
        "version": flag.version,
    }
    return view


# --- the job -----------------------------------------------------------------------------


def review_job(session: Session, *, now: datetime) -> dict[str, int]:
    """Raise ``flag_review_due`` for active flags whose review day has come; propose a flag
    for persons with repeated sanctions (set-based)."""
    today = business_date(now)
    due = alerts.raise_from(
        session,
        select(
            Flag.person_id,
            literal("flag").label("subject_type"),
            Flag.id.label("subject_id"),
            json_object("review_due_on", Flag.review_due_on).label("detail"),
        ).where(Flag.status == "active", Flag.review_due_on <= today),
        kind="flag_review_due",
        now=now,
        once=False,
    )
    rules = _rules()
    since = start_of_business_day(today - timedelta(days=rules.flags_sanctions_window_days))
    # NOT EXISTS, not NOT IN: PostgreSQL cannot hash a NOT IN subquery and ran this for
    # minutes on a city with a few million events.
    correction = SupervisionEvent.__table__.alias("correction")
    repeat = (
        select(SupervisionEvent.person_id)
        .where(
            SupervisionEvent.type.in_(SANCTIONS),
            SupervisionEvent.occurred_at >= since,
            SupervisionEvent.corrects_id.is_(None),
            ~select(correction.c.id)
            .where(correction.c.corrects_id == SupervisionEvent.id)
            .exists(),
        )
        .group_by(SupervisionEvent.person_id)
        .having(func.count() >= rules.flags_propose_after_sanctions)
    )
    candidates = session.scalars(
        select(Person.id).where(Person.id.in_(repeat), *_may_propose("sanctions", since))
    ).all()
    proposed = propose(
        session,
        candidates,
        basis="sanctions",
        reason=f"{rules.flags_sanctions_window_days}日内多次受到处罚，建议挂牌管控",
        now=now,
    )
    return {"review_alerts": due, "flags_proposed": proposed}


def _may_propose(basis: str, since: datetime) -> list:
    """Supervised, no live flag, and no flag on the same basis since ``since``."""
    return [
        Person.status.in_(SUPERVISED_STATUSES),
        ~exists().where(Flag.person_id == Person.id, Flag.status.in_(LIVE)),
        ~exists().where(Flag.person_id == Person.id, Flag.basis == basis, Flag.opened_at >= since),
    ]


def propose_for(
    session: Session, person_ids: list[int], *, basis: str, reason: str, since: datetime, now
) -> int:
    """Propose flagged control for those of ``person_ids`` who may get a proposal."""
    proposed = 0
    for start in range(0, len(person_ids), 5000):
        chunk = person_ids[start : start + 5000]
        eligible = session.scalars(
            select(Person.id).where(Person.id.in_(chunk), *_may_propose(basis, since))
        ).all()
        proposed += propose(session, eligible, basis=basis, reason=reason, now=now)
    return proposed


def propose(session: Session, person_ids, *, basis: str, reason: str, now: datetime) -> int:
    """Insert ``proposed`` flags (a person with a live flag is skipped by the unique index);
    a commander decides them. Returns how many were proposed."""
    if not person_ids:
        return 0
    version = ruleset_store.versions(session, now, "alerts")
    person_ids = list(person_ids)
    # In chunks: one multi-row INSERT may carry at most 65,535 parameters on PostgreSQL, 11 a
    # row here (flag_reviews failed on the 148,000-person city with 8,014 at once: issue 18).
    return sum(
        _insert_proposed(session, person_ids[i : i + _ROWS], reason, basis, version, now)
        for i in range(0, len(person_ids), _ROWS)
    )


_ROWS = 2000


def _insert_proposed(session: Session, person_ids, reason, basis, version, now) -> int:
    stmt = (
        insert_for(session)(Flag)
        .values(
            [
                {
                    "person_id": pid,
                    "level": "office",
                    "status": "proposed",
                    "reason": reason,
                    "basis": basis,
                    "opened_at": now,
                    "opened_by": SYSTEM.username,
                    "reviews": [],
                    "updated_at": now,
                    "version": 1,
                    "rules_version": version,
                }
                for pid in person_ids
            ]
        )
        .on_conflict_do_nothing(index_elements=["person_id"], index_where=text(LIVE_FLAG_PREDICATE))
        .returning(Flag.id)
    )
    return len(session.execute(stmt).all())
