"""Alerts: raised set-based by the jobs (one live alert per cause, the database decides),
acknowledged, resolved or dismissed by people, resolved by the system when the cause is gone,
escalated when nobody acknowledges a critical one in time. Every change is also a row of
``alert_changes``, which the live stream replays."""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    delete,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased

from corrections.alerts import rules as alert_rules
from corrections.alerts.models import (
    LIVE_PREDICATE,
    LIVE_STATUSES,
    SYSTEM_LIVE_PREDICATE,
    Alert,
    AlertChange,
    AlertStream,
)
from corrections.alerts.rules import SEVERITY_RANK
from corrections.alerts.summary import summary_zh
from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, NotFound, TooManyRequests
from corrections.core.i18n import _, bilingual
from corrections.core.pagination import bounded_count
from corrections.core.sqlfuncs import insert_for
from corrections.core.types import UTCDateTime
from corrections.org.models import DisplayToken, Unit, User
from corrections.persons import privacy
from corrections.persons.models import Person

_AL = Alert.__table__
_CH = AlertChange.__table__
_PERSON = Person.__table__
_LIVE_WHERE = _AL.c.status.in_(LIVE_STATUSES)
SYSTEM_NAME = "system"


def _kind_rule(kind: str) -> dict[str, Any]:
    return alert_rules.current().kind(kind)


# --- raising -----------------------------------------------------------------------------


def raise_from(
    session: Session, source: Select, *, kind: str, now: datetime, once: bool = True
) -> int:
    """Raise one ``kind`` alert per row of ``source`` (columns ``person_id``, ``subject_type``,
    ``subject_id``, ``detail``), set-based; a cause that already has a live alert is skipped
    by the unique index. ``once``: nor is a cause that ever had one (a state that persists,
    like an overdue trip, is alerted once; what a person dismissed stays dismissed).
    Returns how many were raised."""
    src = source.subquery("src")
    severity = _kind_rule(kind)["severity"]
    rows = select(
        src.c.person_id,
        literal(kind).label("kind"),
        src.c.subject_type,
        src.c.subject_id,
        literal(severity).label("severity"),
        literal(SEVERITY_RANK[severity]).label("severity_rank"),
        _PERSON.c.office_id,
        _PERSON.c.district_id,
        literal("open").label("status"),
        src.c.detail,
        literal(now, UTCDateTime()).label("raised_at"),
        literal(SYSTEM_NAME).label("raised_by"),
        literal(now, UTCDateTime()).label("updated_at"),
        literal(0).label("escalation_level"),
        literal(False).label("auto_resolved"),
        literal(1).label("version"),
    )
    rows = rows.select_from(src.outerjoin(_PERSON, _PERSON.c.id == src.c.person_id))
    rows = rows.where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    if once:
        earlier = _AL.alias("earlier")
        rows = rows.where(
            ~select(earlier.c.id)
            .where(
                earlier.c.person_id == src.c.person_id,
                earlier.c.kind == kind,
                earlier.c.subject_type == src.c.subject_type,
                earlier.c.subject_id == src.c.subject_id,
            )
            .exists()
        )
    columns = [c.name for c in rows.selected_columns]
    stmt = (
        insert_for(session)(Alert)
        .from_select(columns, rows)
        .on_conflict_do_nothing(
            index_elements=["person_id", "kind", "subject_type", "subject_id"],
            index_where=text(LIVE_PREDICATE),
        )
        .returning(_AL.c.id, _AL.c.person_id)
    )
    return _log_changes(session, stmt, "raised", now)


def follow_person(session: Session, person_id: int, *, office_id: int, district_id: int) -> None:
    """The person moved to another office (a transfer): their alerts, which carry the office
    and district the lists are scoped by, go along."""
    session.execute(
        update(Alert)
        .where(Alert.person_id == person_id)
        .values(office_id=office_id, district_id=district_id)
        .execution_options(synchronize_session=False)
    )


def _new_alert(
    person_id: int | None,
    kind: str,
    subject_type: str,
    subject_id: int,
    detail: dict[str, Any] | None,
    now: datetime,
    raised_by: str,
) -> dict[str, Any]:
    """A new open alert's column values; its office and district are the person's at the
    moment of the insert (subqueries), none for the system's own alert."""
    office_id = district_id = None
    if person_id is not None:
        where = _PERSON.c.id == person_id
        office_id = select(_PERSON.c.office_id).where(where).scalar_subquery()
        district_id = select(_PERSON.c.district_id).where(where).scalar_subquery()
    severity = _kind_rule(kind)["severity"]
    return {
        "person_id": person_id,
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "severity": severity,
        "severity_rank": SEVERITY_RANK[severity],
        "office_id": office_id,
        "district_id": district_id,
        "status": "open",
        "detail": detail or {},
        "raised_at": now,
        "raised_by": raised_by,
        "updated_at": now,
        "escalation_level": 0,
        "auto_resolved": False,
        "version": 1,
    }


def raise_one(
    session: Session,
    *,
    person_id: int | None,
    kind: str,
    subject_type: str,
    subject_id: int,
    detail: dict[str, Any] | None,
    now: datetime,
    raised_by: str = SYSTEM_NAME,
) -> int | None:
    """Raise one alert unless its cause has a live one already; returns its id, or None.
    ``person_id`` None: the system's own alert (a backup failed), whose cause is (kind,
    subject) and which the city and the administrators see."""
    if person_id is None:
        cause, live = ["kind", "subject_type", "subject_id"], SYSTEM_LIVE_PREDICATE
    else:
        cause, live = ["person_id", "kind", "subject_type", "subject_id"], LIVE_PREDICATE
    row = _new_alert(person_id, kind, subject_type, subject_id, detail, now, raised_by)
    stmt = (
        insert_for(session)(Alert)
        .values(row)
        .on_conflict_do_nothing(index_elements=cause, index_where=text(live))
        .returning(_AL.c.id, _AL.c.person_id)
    )
    rows = session.execute(stmt).all()
    _insert_changes(session, rows, "raised", now)
    return rows[0][0] if rows else None


def raise_many(
    session: Session,
    causes: list[tuple[int, str, int, dict[str, Any] | None]],
    *,
    kind: str,
    now: datetime,
) -> list[int]:
    """:func:`raise_one` for many persons' causes, each (person id, subject type, subject
    id, detail), in one statement per 1,000 (a job's batch): the ids raised (a cause with a
    live alert raises none)."""
    raised: list[int] = []
    for i in range(0, len(causes), 1000):
        rows = [
            _new_alert(person_id, kind, subject_type, subject_id, detail, now, SYSTEM_NAME)
            for person_id, subject_type, subject_id, detail in causes[i : i + 1000]
        ]
        stmt = (
            insert_for(session)(Alert)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["person_id", "kind", "subject_type", "subject_id"],
                index_where=text(LIVE_PREDICATE),
            )
            .returning(_AL.c.id, _AL.c.person_id)
        )
        done = session.execute(stmt).all()
        _insert_changes(session, done, "raised", now)
        raised += [row[0] for row in done]
    return raised


def _log_changes(session: Session, returning_stmt, change: str, now: datetime) -> int:
    """Run a statement that returns (alert id, person id) and log each as a change; on
    PostgreSQL in the same statement (a data-modifying CTE), elsewhere as a second one."""
    if session.get_bind().dialect.name == "postgresql":
        changed = returning_stmt.cte("changed")
        logged = _logged(changed, change, literal(now, UTCDateTime()), "logged")
        return session.execute(
            select(func.count()).select_from(changed).add_cte(logged)
        ).scalar_one()
    rows = session.execute(returning_stmt).all()
    _insert_changes(session, rows, change, now)
    return len(rows)


def _logged(changed, change: str, at, name: str):
    """CTE: one change row per alert that ``changed`` (a CTE returning id, person_id) lists."""
    return (
        _CH.insert()
        .from_select(
            ["alert_id", "person_id", "change", "at"],
            select(changed.c.id, changed.c.person_id, literal(change), at),
        )
        .cte(name)
    )


def _insert_changes(session: Session, rows, change: str, now: datetime) -> None:
    if rows:
        session.execute(
            _CH.insert(),
            [
                {"alert_id": alert_id, "person_id": person_id, "change": change, "at": now}
                for alert_id, person_id in rows
            ],
        )


# --- resolving by the system -------------------------------------------------------------


def resolve_where(
    session: Session, condition: ColumnElement[bool], *, now: datetime, note: str
) -> int:
    """Resolve the live alerts matching ``condition`` because their cause is gone."""
    stmt = _resolving(condition, now, note).execution_options(synchronize_session=False)
    return _log_changes(session, stmt, "resolved", now)


def _resolving(condition: ColumnElement[bool], now: Any, note: str):
    """UPDATE ... RETURNING (id, person_id) resolving the live alerts matching ``condition``
    as the system (``now``: a value or a bind parameter)."""
    return (
        update(Alert)
        .where(_LIVE_WHERE, condition)
        .values(
            status="resolved",
            auto_resolved=True,
            closed_at=now,
            closed_by=SYSTEM_NAME,
            close_note=note,
            updated_at=now,
            version=Alert.version + 1,
        )
        .returning(_AL.c.id, _AL.c.person_id)
    )


def resolving_ctes(condition: ColumnElement[bool], now: Any, note: str) -> list:
    """PostgreSQL: :func:`resolve_where` as CTEs to ride in another statement (``now``: a
    bind parameter)."""
    resolved = _resolving(condition, now, note).cte("resolved_alerts")
    return [resolved, _logged(resolved, "resolved", now, "resolved_logged")]


# --- escalation --------------------------------------------------------------------------


def escalate(session: Session, *, now: datetime) -> int:
    """Unacknowledged critical alerts gain a level per ``after_minutes`` of waiting (level 1
    and up are visible to the city)."""
    rules = alert_rules.current()
    step = rules.escalate_after
    escalated = 0
    for level in range(1, rules.escalation_max_level + 1):
        stmt = (
            update(Alert)
            .where(
                Alert.status == "open",
                Alert.severity == "critical",
                Alert.escalation_level < level,
                Alert.raised_at <= now - step * level,
            )
            .values(
                escalation_level=level,
                escalated_at=now,
                updated_at=now,
                version=Alert.version + 1,
            )
            .returning(_AL.c.id, _AL.c.person_id)
            .execution_options(synchronize_session=False)
        )
        escalated += _log_changes(session, stmt, "escalated", now)
    return escalated


# --- scope, reading ----------------------------------------------------------------------


def _scope_rule(actor: Actor) -> tuple[str, Callable[[Any, Any], Any], int | None] | None:
    """Persons' alerts ``actor`` may see, spelled once as (field, comparison, value): their
    office's or district's persons; the city sees what was escalated to it. :func:`scope_clause`
    renders it as SQL, :func:`in_scope` checks a change the live stream fetched; both add the
    system's alerts a role sees (:data:`_SYSTEM_ALERT_KINDS`)."""
    if actor.role == Role.OFFICER:
        return "office_id", operator.eq, actor.unit_id
    # A wall display shows its district's alerts (names masked for the room: privacy.py).
    if actor.role in (Role.COMMANDER, Role.DISPLAY):
        return "district_id", operator.eq, actor.unit_id
    if actor.role == Role.CITY:
        return "escalation_level", operator.ge, 1
    return None


# Which of the system's own alerts (no person: a backup or its drill failed, the risk model
# drifted) a role sees: every kind (None), or only these. Officers and commanders see none:
# the system is not theirs to mend. Analysts see only those about the risk model
# (risk/monitoring.py), and nobody's person.
_SYSTEM_ALERT_KINDS: dict[Role, tuple[str, ...] | None] = {
    Role.CITY: None,
    Role.ADMIN: None,
    Role.ANALYST: ("model_drift",),
}


def _sees_system_alert(actor: Actor, kind: str) -> bool:
    if actor.role not in _SYSTEM_ALERT_KINDS:
        return False
    kinds = _SYSTEM_ALERT_KINDS[actor.role]
    return kinds is None or kind in kinds


def _system_clause(actor: Actor) -> ColumnElement[bool]:
    """:func:`_sees_system_alert` as SQL."""
    if actor.role not in _SYSTEM_ALERT_KINDS:
        return false()
    kinds = _SYSTEM_ALERT_KINDS[actor.role]
    system = Alert.person_id.is_(None)
    return system if kinds is None else system & Alert.kind.in_(kinds)


_SCOPE_COLUMNS = {
    "office_id": Alert.office_id,
    "district_id": Alert.district_id,
    "escalation_level": Alert.escalation_level,
}


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: the alerts ``actor`` may see (persons' alerts by an outer join: a
    system alert's person columns are NULL, which no person rule matches)."""
    rule = _scope_rule(actor)
    persons: ColumnElement[bool] = false()
    if rule is not None:
        field, compare, value = rule
        persons = compare(_SCOPE_COLUMNS[field], value)
    return or_(_system_clause(actor), persons)


def in_scope(actor: Actor, change: StreamChange) -> bool:
    """:func:`scope_clause` for a change already fetched (its alert and person as they were)."""
    if change.person is None:
        return _sees_system_alert(actor, change.view["kind"])
    rule = _scope_rule(actor)
    if rule is None:
        return False
    field, compare, value = rule
    return bool(compare(getattr(change, field), value))


# What each alert row brings of its person: enough to decide what the caller sees and to
# audit, and who and where they are (the name, masked as the caller requires, and the office
# and district), in the list's one statement.
_OFFICE = aliased(Unit, name="alert_office")
_DISTRICT = aliased(Unit, name="alert_district")
_PERSON_COLUMNS = (Person.office_id, Person.district_id, Person.juvenile, Person.sealed)
_NAME_COLUMNS = (Person.name, _OFFICE.code, _OFFICE.name_zh, _DISTRICT.name_zh)


def _with_person(stmt: Select) -> Select:
    # Outer: a system alert has no person (its person columns are None).
    return (
        stmt.outerjoin(Person, Person.id == Alert.person_id)
        .outerjoin(_OFFICE, _OFFICE.id == Person.office_id)
        .outerjoin(_DISTRICT, _DISTRICT.id == Person.district_id)
    )


def _scoped(actor: Actor) -> Select:
    return _with_person(select(Alert, *_PERSON_COLUMNS, *_NAME_COLUMNS)).where(scope_clause(actor))


# A list counts its alerts up to this many ("1000+", twenty pages): a district's history of a
# million alerts is not counted again for every page (the statistics count them all).
COUNT_LIMIT = 1_000


def list_alerts(
    session: Session,
    *,
    actor: Actor,
    status: list[str] | None = None,
    kind: list[str] | None = None,
    severity: list[str] | None = None,
    district_id: int | None = None,
    office_id: int | None = None,
    person_id: int | None = None,
    since: datetime | None = None,
    order: str = "waiting",
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Any], int, bool]:
    """Alerts in scope, most severe first, then the longest waiting (``order="newest"``: the
    newest) first: (the page's rows, the total, whether the total is exact: it is counted up
    to :data:`COUNT_LIMIT`).

    Every condition is on the alerts' own columns, so the page is a range of one of their
    indexes (ix_alerts_<scope>_order): its ids are found there, then only those rows are
    joined to their persons and units (a page 50 joins 50 rows, not 2,500)."""
    stmt = select(Alert.id).where(scope_clause(actor))
    if status:
        stmt = stmt.where(Alert.status.in_(status))
    if kind:
        stmt = stmt.where(Alert.kind.in_(kind))
    if severity:
        stmt = stmt.where(Alert.severity.in_(severity))
    if district_id is not None:
        stmt = stmt.where(Alert.district_id == district_id)
    if office_id is not None:
        stmt = stmt.where(Alert.office_id == office_id)
    if person_id is not None:
        stmt = stmt.where(Alert.person_id == person_id)
    if since is not None:
        stmt = stmt.where(Alert.raised_at >= since)
    if order == "newest":
        by_age = (Alert.raised_at.desc(), Alert.id.desc())
    else:
        by_age = (Alert.raised_at, Alert.id)
    total, exact = bounded_count(session, stmt, COUNT_LIMIT)
    order_by = (Alert.severity_rank, *by_age)
    ids = stmt.order_by(*order_by).offset((page - 1) * page_size).limit(page_size).subquery()
    rows = session.execute(
        _with_person(
            select(Alert, *_PERSON_COLUMNS, *_NAME_COLUMNS).join(ids, ids.c.id == Alert.id)
        ).order_by(*order_by)
    ).all()
    return list(rows), total, exact


def get_alert(session: Session, actor: Actor, alert_id: int) -> tuple[Any, ...]:
    """The alert in ``actor``'s scope as :func:`list_alerts` gives its rows."""
    row = session.execute(_scoped(actor).where(Alert.id == alert_id)).first()
    if row is None:
        raise NotFound(_("No such alert."))
    return tuple(row)


def _view(
    alert: Alert,
    office_id: int | None,
    district_id: int | None,
    names: tuple[str | None, ...] = (None, None, None, None),
) -> dict[str, Any]:
    """``names``: the person's name, office code, office name and district name."""
    rules = alert_rules.current()  # once: a list page builds fifty of these
    rule = rules.kind(alert.kind)
    person_name, office_code, office_name_zh, district_name_zh = names
    view = {
        "id": alert.id,
        "person_id": alert.person_id,
        "office_id": office_id,
        "district_id": district_id,
        "office_code": office_code,
        "office_name_zh": office_name_zh,
        "district_name_zh": district_name_zh,
        "kind": alert.kind,
        "kind_label_zh": rule["label_zh"],
        "summary_zh": summary_zh(alert.kind, alert.detail, alert.raised_at, rules),
        "subject_type": alert.subject_type,
        "subject_id": alert.subject_id,
        "severity": alert.severity,
        "severity_label_zh": rules.label("severities", alert.severity),
        "status": alert.status,
        "status_label_zh": rules.label("statuses", alert.status),
        "detail": alert.detail or {},
        "raised_at": alert.raised_at,
        "updated_at": alert.updated_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "ack_note": alert.ack_note,
        "closed_at": alert.closed_at,
        "closed_by": alert.closed_by,
        "close_note": alert.close_note,
        "auto_resolved": alert.auto_resolved,
        "escalation_level": alert.escalation_level,
        "escalated_at": alert.escalated_at,
        "version": alert.version,
    }
    if alert.person_id is not None:  # a system alert names nobody
        view[privacy.PERSON_NAME_FIELD] = person_name
    return view


def alert_view(
    session: Session,
    actor: Actor,
    alert: Alert,
    office_id: int | None,
    district_id: int | None,
    juvenile: bool | None,
    sealed: bool | None = None,
    *names: str | None,
) -> dict[str, Any]:
    """An alert as ``actor`` may see it (notes are typed text, the person's name masked as
    the policy says); the response audits its person. Takes a row of :func:`list_alerts` or
    :func:`act` after the session and actor (``sealed``: the person's record is, as the row
    selected it; ``names``: the person's name, office code and name, district name). A
    system alert has no person: nothing to mask, nobody shown."""
    if alert.person_id is None:
        return _view(alert, None, None)
    person = privacy.PersonRef(alert.person_id, juvenile, office_id, district_id, sealed)
    view = _view(alert, office_id, district_id, names or (None, None, None, None))
    return privacy.present(session, actor, person, "alert", view)


# --- people acting on alerts -------------------------------------------------------------

_TRANSITIONS = {
    "acknowledge": (("open",), "acknowledged"),
    "resolve": (LIVE_STATUSES, "resolved"),
    "dismiss": (LIVE_STATUSES, "dismissed"),
}


def act(
    session: Session,
    *,
    actor: Actor,
    alert_id: int,
    action: str,
    note: str | None,
    now: datetime | None = None,
) -> tuple[Alert, int | None, int | None, bool | None]:
    """Acknowledge, resolve or dismiss an alert in scope. A concurrent change of the same
    alert makes one of the two a 409 (the row's version decides)."""
    now = now or now_utc()
    row = get_alert(session, actor, alert_id)
    alert = row[0]
    allowed_from, to = _TRANSITIONS[action]
    if alert.status not in allowed_from:
        labels = alert_rules.current()
        status = bilingual(alert.status, labels.label("statuses", alert.status))
        raise Conflict(
            _(
                "The alert is {status}; it cannot be {to} now.",
                status=status,
                to=bilingual(to, labels.label("statuses", to)),
            ),
            errors={"status": [status]},
        )
    done = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.version == alert.version)
        .values(
            status=to,
            updated_at=now,
            version=alert.version + 1,
            **(
                {"acknowledged_at": now, "acknowledged_by": actor.username, "ack_note": note}
                if action == "acknowledge"
                else {"closed_at": now, "closed_by": actor.username, "close_note": note}
            ),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise Conflict(_("The alert was changed at the same time; reload it."))
    _insert_changes(session, [(alert.id, alert.person_id)], to, now)
    audit.record(
        session,
        actor=actor,
        action=f"alert.{action}",
        subject_type="alert",
        subject_id=alert.id,
        detail={"kind": alert.kind, "person_id": alert.person_id},
        now=now,
    )
    session.expire(alert)
    session.refresh(alert)
    return row


# --- the live stream ---------------------------------------------------------------------

# Changes fetched per statement, by a stream's replay and by a process's listener.
STREAM_BATCH = 500


@dataclass(frozen=True)
class StreamChange:
    """A change as the live stream fetched it: the alert's view (unmasked: masking is per
    reader), the person as scope and masking need them (None: a system alert), and the
    alert's escalation level."""

    id: int
    change: str
    at: datetime
    person: privacy.PersonRef | None
    escalation_level: int
    view: dict[str, Any]

    @property
    def office_id(self) -> int | None:
        return self.person.office_id if self.person else None

    @property
    def district_id(self) -> int | None:
        return self.person.district_id if self.person else None


def _fetch_changes(session: Session, *where: ColumnElement[bool], limit: int) -> list[StreamChange]:
    stmt = (
        _with_person(
            select(AlertChange, Alert, *_PERSON_COLUMNS, *_NAME_COLUMNS).join(
                Alert, Alert.id == AlertChange.alert_id
            )
        )
        .where(*where)
        .order_by(AlertChange.id)
        .limit(limit)
    )
    return [
        StreamChange(
            id=change.id,
            change=change.change,
            at=change.at,
            person=(
                None
                if alert.person_id is None
                else privacy.PersonRef(alert.person_id, juvenile, office_id, district_id, sealed)
            ),
            escalation_level=alert.escalation_level,
            view=_view(alert, office_id, district_id, tuple(names)),
        )
        for change, alert, office_id, district_id, juvenile, sealed, *names in session.execute(stmt)
    ]


def changes_after(
    session: Session, *, actor: Actor, after: int, limit: int = STREAM_BATCH
) -> list[StreamChange]:
    """Changes in ``actor``'s scope with an id above ``after``, oldest first (a stream's
    replay from ``Last-Event-ID``)."""
    return _fetch_changes(session, AlertChange.id > after, scope_clause(actor), limit=limit)


def live_alert_changes(
    session: Session, *, actor: Actor, after: int, up_to: int, limit: int = STREAM_BATCH
) -> list[StreamChange]:
    """For every live (open or acknowledged) alert in ``actor``'s scope, its latest change,
    if its id is above ``after`` and at most ``up_to``; oldest first. A stream's replay when
    its Last-Event-ID is past the newest change: the change log restarted (a database
    restore), so the ids the client knows mean nothing, and it gets what is live now."""
    later = aliased(AlertChange)
    latest_of_its_alert = (
        select(func.max(later.id)).where(later.alert_id == AlertChange.alert_id).scalar_subquery()
    )
    return _fetch_changes(
        session,
        AlertChange.id > after,
        AlertChange.id <= up_to,
        AlertChange.id == latest_of_its_alert,
        Alert.status.in_(LIVE_STATUSES),
        scope_clause(actor),
        limit=limit,
    )


def changes_since(
    session: Session, *, after: int, also: tuple[int, ...] = (), limit: int = STREAM_BATCH
) -> list[StreamChange]:
    """Every change with an id above ``after`` or in ``also`` (ids seen missing, whose
    transactions may have committed since), oldest first, whoever may see it: what a process's
    listener fetches once for all of its streams (each keeps what :func:`in_scope` allows)."""
    cond = AlertChange.id > after
    if also:
        cond = or_(cond, AlertChange.id.in_(also))
    return _fetch_changes(session, cond, limit=limit)


def deliver(
    session: Session,
    *,
    actor: Actor,
    changes: list[StreamChange],
    now: datetime | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """``changes`` (in ``actor``'s scope) as ``actor`` may see them: (change id, alert view
    with ``change`` and ``change_at``), and one audit row naming the persons the batch shows,
    committed before the batch is sent. The stream runs after its request has finished, so
    each batch is a use case (and a transaction) of its own."""
    try:
        out, shown = [], {}
        for change in changes:
            person = change.person
            # The fetched view is shared by every stream of the process: mask a copy.
            view = copy.deepcopy(change.view)
            if person is not None:  # a system alert has nobody's record to mask or audit
                view = privacy.redact("alert", view, privacy.visibility(session, actor, person))
                shown[person.id] = person.juvenile or shown.get(person.id, False)
            view["change"], view["change_at"] = change.change, change.at
            out.append((change.id, view))
        audit.record_disclosure(
            session,
            actor=actor,
            action="alert.stream",
            shown=shown,
            detail={"changes": len(out)},
            now=now,
        )
        session.commit()
        return out
    except Exception:
        session.rollback()
        raise
    finally:
        audit.forget_request(session)


def stream_batch(
    session: Session,
    *,
    actor: Actor,
    after: int,
    now: datetime | None = None,
    live_up_to: int | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """The next batch of a stream's replay: :func:`changes_after` (``live_up_to`` given:
    :func:`live_alert_changes` up to it) through :func:`deliver`."""
    if live_up_to is None:
        changes = changes_after(session, actor=actor, after=after)
    else:
        changes = live_alert_changes(session, actor=actor, after=after, up_to=live_up_to)
    return deliver(session, actor=actor, changes=changes, now=now)


def max_change_id(session: Session) -> int:
    return session.scalar(select(func.max(AlertChange.id))) or 0


# --- open streams, counted per user across workers ---------------------------------------


def open_stream(
    session: Session,
    *,
    actor: Actor,
    holder: str,
    max_per_user: int,
    stale_after: timedelta,
    retry_after: int,
) -> int:
    """Count a new stream of ``actor``'s against the per-user cap (every worker's streams
    count; those of a process that stopped renewing them do not) and record it; returns its
    id. :class:`TooManyRequests` when the user has ``max_per_user`` open already. A wall
    display's streams are counted per display, under the same cap."""
    now = now_utc()
    # Two streams opened at once by one user in two workers must not both see room: the
    # user's row is the lock (SQLite's write transaction serialises anyway).
    if actor.display_id is not None:
        owner = AlertStream.display_id == actor.display_id
        lock = select(DisplayToken.id).where(DisplayToken.id == actor.display_id)
    else:
        owner = AlertStream.user_id == actor.user_id
        lock = select(User.id).where(User.id == actor.user_id)
    session.execute(lock.with_for_update())
    session.execute(delete(AlertStream).where(owner, AlertStream.seen_at < now - stale_after))
    open_now = session.scalar(select(func.count()).select_from(AlertStream).where(owner))
    if open_now >= max_per_user:
        raise TooManyRequests(
            _(
                "{count} live alert streams of yours are open (at most {limit}); close one "
                "(another tab or device) or try again later.",
                count=open_now,
                limit=max_per_user,
            ),
            retry_after=retry_after,
            errors={"streams": [_("at most {limit} open streams per user", limit=max_per_user)]},
        )
    stream = AlertStream(
        user_id=actor.user_id,
        display_id=actor.display_id,
        token_id=actor.token_id,
        holder=holder,
        opened_at=now,
        seen_at=now,
    )
    session.add(stream)
    session.flush()
    return stream.id


def close_stream(session: Session, stream_id: int) -> None:
    """Forget an open stream (it ended); the caller commits."""
    session.execute(delete(AlertStream).where(AlertStream.id == stream_id))


def renew_streams(session: Session, *, holder: str, ids: list[int]) -> None:
    """``holder``'s streams ``ids`` are still open (the per-user count keeps them); the caller
    commits."""
    if ids:
        session.execute(
            update(AlertStream)
            .where(AlertStream.holder == holder, AlertStream.id.in_(ids))
            .values(seen_at=now_utc())
            .execution_options(synchronize_session=False)
        )
