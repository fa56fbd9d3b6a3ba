"""Obligations derived from the grade: planning, matching events against them, re-planning
when the grade changes, and the set-based sweep that finds what was missed.

Interval kinds (report, check, visit): one open obligation per person and kind at a time; its
window opens the day after the last fulfilment (the anchor) and is due ``interval`` days after
it. Periodic kinds (the health report and re-examination of 暂予监外执行) chain the same way,
with the period of rules/supervision.yaml (calendar months) instead of the grade's interval,
for the categories the rule names. Hour kinds (education, service): one window per calendar
month, pro-rated when the term starts or ends inside the month. Once kinds (the summary before
the term ends): one window, due by a clock of rules/clocks.yaml. All days are Asia/Shanghai
calendar days, both ends included; nothing is planned past the term's last day.

While a person is held by another authority (a detention record) nothing falls due: what was
open is excused (a month's hours pro-rated to the days before), nothing is planned, and on
release everything is planned again from the release day, as at intake.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Numeric,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from corrections.alerts import rules as alert_rules
from corrections.alerts import service as alerts
from corrections.alerts.models import Alert
from corrections.core import clocks
from corrections.core.clock import BUSINESS_TZ, add_months, business_date, start_of_business_day
from corrections.core.sqlfuncs import add_days, insert_for, json_object, least
from corrections.core.types import UTCDateTime
from corrections.grading import rules as grading_rules
from corrections.persons.models import SUPERVISED_STATUSES, Person
from corrections.supervision import rules as supervision_rules
from corrections.supervision.models import (
    ONE_OPEN_PREDICATE,
    Detention,
    Obligation,
    SupervisionEvent,
    TravelPermit,
)

_OB = Obligation.__table__
INTERVAL_KINDS = ("report", "check", "visit")  # the grade's intervals
PERIODIC_KINDS = ("health_report", "medical_reexam")  # their own period, in the rules
CHAINED_KINDS = (*INTERVAL_KINDS, *PERIODIC_KINDS)  # the next window from the last fulfilment
HOUR_KINDS = ("education", "service")
ONCE_KINDS = ("term_summary",)  # one window, due by a clock
DAY = timedelta(days=1)

_INTERVAL_FIELD = {
    "report": "report_interval_days",
    "check": "check_interval_days",
    "visit": "visit_interval_days",
}
_HOURS_FIELD = {"education": "education_hours_per_month", "service": "service_hours_per_month"}


def interval_days(grade: str, kind: str) -> int:
    return getattr(grading_rules.current().grade(grade).requirements, _INTERVAL_FIELD[kind])


def monthly_hours(grade: str, kind: str) -> int:
    return getattr(grading_rules.current().grade(grade).requirements, _HOURS_FIELD[kind])


def _rule(kind: str) -> supervision_rules.ObligationRule:
    return supervision_rules.current().obligations[kind]


def owes(person: Person, kind: str) -> bool:
    """Whether ``person`` owes obligations of ``kind`` (its rule's categories, if it names any)."""
    return _rule(kind).owed_by(person.category)


def next_due(person: Person, kind: str, anchor: date) -> date:
    """The due day of a chained window whose predecessor was fulfilled (or due) on ``anchor``:
    the grade's interval, or the rule's period (calendar months clamp at month ends, and the
    anchor day is not counted, as in rules/clocks.yaml)."""
    if kind in INTERVAL_KINDS:
        return anchor + timedelta(days=interval_days(person.grade, kind))
    rule = _rule(kind)
    if rule.unit == "calendar_months":
        return add_months(anchor, rule.period)
    return anchor + timedelta(days=rule.period)


def event_kind(event: SupervisionEvent) -> str | None:
    """Which obligation kind an event can count toward, if any."""
    kind = supervision_rules.current().obligation_kind_of(event.type)
    if (
        kind
        and event.type in ("phone_check", "location_check")
        and not event.payload.get("success")
    ):
        return None  # a failed check fulfils nothing
    return kind


# --- planning ----------------------------------------------------------------------------


def _row(
    person_id: int,
    kind: str,
    opens: date,
    due: date,
    grade: str,
    now: datetime,
    hours_required: float | None = None,
) -> dict:
    """One new open obligation. Every row has every column: a multi-row INSERT takes its
    column list from the first row, so a missing key would silently drop a value."""
    return {
        "person_id": person_id,
        "kind": kind,
        "opens_on": opens,
        "due_on": due,
        "status": "open",
        "grade": grade,
        "created_at": now,
        "updated_at": now,
        "hours_required": hours_required,
        "hours_done": None if hours_required is None else 0.0,
    }


def _interval_row(person: Person, kind: str, anchor: date, now: datetime) -> dict | None:
    """The chained window after ``anchor`` (interval and periodic kinds)."""
    if anchor >= person.term_end or not owes(person, kind):
        return None
    due = min(next_due(person, kind, anchor), person.term_end)
    return _row(person.id, kind, anchor + DAY, due, person.grade, now)


def _once_row(person: Person, kind: str, opens: date, now: datetime) -> dict | None:
    """The one window of a once kind, open from ``opens``, due by its clock (counted from the
    term's last day); on ``opens`` at the latest when the clock ran out before."""
    if opens > person.term_end or not owes(person, kind):
        return None
    due = clocks.due_for(_rule(kind).clock, person.term_end)
    return _row(person.id, kind, opens, max(due, opens), person.grade, now)


def _month_window(
    person: Person, month: date, since: date | None = None
) -> tuple[date, date] | None:
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    opens = max(first, person.term_start, since or first)
    due = min(last, person.term_end)
    return (opens, due) if opens <= due else None


def _prorated(hours: int, window: tuple[date, date]) -> float:
    opens, due = window
    days_in_month = calendar.monthrange(opens.year, opens.month)[1]
    return round(hours * ((due - opens).days + 1) / days_in_month, 1)


def _hour_row(
    person: Person, kind: str, month: date, now: datetime, since: date | None = None
) -> dict | None:
    window = _month_window(person, month, since)
    if window is None:
        return None
    hours = _prorated(monthly_hours(person.grade, kind), window)
    return _row(person.id, kind, window[0], window[1], person.grade, now, hours)


def initial_rows(
    person: Person, start: date, now: datetime, last: dict[str, date] | None = None
) -> list[dict]:
    """A newly supervised person's first obligations, anchored on ``start``; ``last``: the
    day each chained kind was last done before (a caseload carried over from another
    system), from which its next window is planned instead."""
    last = last or {}
    rows = [
        r
        for kind in CHAINED_KINDS
        if (r := _interval_row(person, kind, last.get(kind, start), now))
    ]
    # Supervision starts today: this month's hours are pro-rated from today.
    rows += [r for kind in HOUR_KINDS if (r := _hour_row(person, kind, start, now, since=start))]
    rows += [r for kind in ONCE_KINDS if (r := _once_row(person, kind, start, now))]
    return rows


def plan_initial(session: Session, person: Person, start: date, now: datetime) -> int:
    """Plan a newly supervised person's first obligations, anchored on ``start`` (the intake
    report counts as the first report)."""
    rows = initial_rows(person, start, now)
    if rows:
        session.execute(Obligation.__table__.insert(), rows)
    return len(rows)


def replan_for_grade(session: Session, person: Person, change_day: date, now: datetime) -> None:
    """The grade changed: re-plan the open obligations in place (no duplicate, no gap).

    An interval obligation keeps its anchor (the last fulfilment) and takes the new interval,
    but is never due before the day of the change. The month's hour obligation takes the new
    grade's hours (pro-rated as planned).
    """
    for ob in session.scalars(
        select(Obligation)
        .where(
            Obligation.person_id == person.id,
            Obligation.status == "open",
            # The others do not follow the grade.
            Obligation.kind.in_((*INTERVAL_KINDS, *HOUR_KINDS)),
        )
        .with_for_update()
    ):
        if ob.kind in INTERVAL_KINDS:
            anchor = ob.opens_on - DAY
            due = anchor + timedelta(days=interval_days(person.grade, ob.kind))
            ob.due_on = min(max(due, change_day), person.term_end)
        else:
            ob.hours_required = _prorated(
                monthly_hours(person.grade, ob.kind), (ob.opens_on, ob.due_on)
            )
            if (ob.hours_done or 0) >= ob.hours_required:
                ob.status, ob.fulfilled_at = "fulfilled", now
        ob.grade, ob.updated_at = person.grade, now


def plan_after_excuse(session: Session, person: Person, ob: Obligation, now: datetime) -> None:
    """An excused chained window counts as done on its due day: the chain goes on from it."""
    row = _interval_row(person, ob.kind, ob.due_on, now)
    if row:
        session.connection().execute(_OB.insert(), row)


def close_open(session: Session, person: Person, reason: str, now: datetime) -> int:
    """The term ended (or the person left this city's supervision): nothing more is due."""
    result = session.execute(
        update(Obligation)
        .where(Obligation.person_id == person.id, Obligation.status == "open")
        .values(status="excused", closed_reason=reason, updated_at=now)
    )
    return result.rowcount or 0


def bring_report_forward(session: Session, person: Person, due: date, now: datetime) -> None:
    """Make the open report obligation due no later than ``due`` (e.g. after a transfer)."""
    session.execute(
        update(Obligation)
        .where(
            Obligation.person_id == person.id,
            Obligation.kind == "report",
            Obligation.status == "open",
            Obligation.due_on > due,
        )
        .values(due_on=due, updated_at=now)
    )


# --- matching events ---------------------------------------------------------------------


def _away_on(session: Session, person_id: int, day: date) -> bool:
    return (
        session.scalar(
            select(TravelPermit.id)
            .where(
                TravelPermit.person_id == person_id,
                TravelPermit.status.in_(("approved", "departed", "overdue")),
                TravelPermit.start_date <= day,
                TravelPermit.end_date >= day,
            )
            .limit(1)
        )
        is not None
    )


def _counts_as_report(session: Session, event: SupervisionEvent, day: date) -> bool:
    rule = _rule("report")
    if event.channel in rule.channels:
        return True
    return event.channel in rule.remote_channels_while_away and _away_on(
        session, event.person_id, day
    )


@dataclass(frozen=True)
class Fulfilment:
    """The interval window an event is to fulfil, decided before the event is stored (so that
    on PostgreSQL the window's UPDATE and its successor's INSERT can travel with the event's
    own INSERT, in one statement)."""

    kind: str
    day: date
    successor: dict | None  # the next window, planned if this one is fulfilled


def plan_fulfilment(
    session: Session, person: Person, event: SupervisionEvent, now: datetime
) -> Fulfilment | None:
    """The window ``event`` can count toward, if any (hours are summed apart); a chained
    window's successor is planned with it."""
    kind = event_kind(event)
    if kind is None or kind in HOUR_KINDS or person.grade is None or not owes(person, kind):
        return None
    day = business_date(event.occurred_at)
    if kind == "report" and not _counts_as_report(session, event, day):
        return None
    successor = _interval_row(person, kind, day, now) if kind in CHAINED_KINDS else None
    return Fulfilment(kind, day, successor)


def on_event(
    session: Session,
    person: Person,
    event: SupervisionEvent,
    now: datetime,
    plan: Fulfilment | None = None,
) -> None:
    """Let one recorded event fulfil what it can (``plan``: its fulfilment, if planned)."""
    kind = event_kind(event)
    if kind in HOUR_KINDS and person.grade is not None:
        recompute_hours(session, person, kind, business_date(event.occurred_at), now)
        return
    plan = plan or plan_fulfilment(session, person, event, now)
    if plan is not None:
        due = _fulfil(session, person, plan.kind, plan.day, event, now, "open")
        if due is not None:
            if plan.successor:
                session.connection().execute(_OB.insert(), plan.successor)
            resolve_answered(session, person_id=person.id, kind=plan.kind, day=plan.day, now=now)
        after_fulfilment(session, person, event, plan, due, now)


def after_fulfilment(
    session: Session,
    person: Person,
    event: SupervisionEvent,
    plan: Fulfilment,
    fulfilled_due: date | None,
    now: datetime,
) -> None:
    """The open window was tried (``fulfilled_due``: its due day, None if none contained the
    day); an event for a window already marked missed still counts, late."""
    if fulfilled_due is not None or plan.day >= business_date(now):
        return  # done; or a missed window ended before today, so it cannot contain today
    kind, day = plan.kind, plan.day
    missed_due = _fulfil(session, person, kind, day, event, now, "missed")
    if missed_due is None:
        return  # nothing was due that day (an extra report is welcome, but fulfils nothing)
    # The window it fulfilled late (due after the event's day) and all before it are answered.
    resolve_answered(session, person_id=person.id, kind=kind, day=missed_due, now=now)
    # A late entry for a window already marked missed: the chain re-anchors on it.
    successor = session.scalar(
        select(Obligation)
        .where(
            Obligation.person_id == person.id,
            Obligation.kind == kind,
            Obligation.status == "open",
            Obligation.opens_on == missed_due + DAY,
        )
        .with_for_update()
    )
    if successor is not None:
        successor.opens_on = day + DAY
        successor.due_on = min(next_due(person, kind, day), person.term_end)
        successor.updated_at = now


# --- alerts a fulfilment answers ---------------------------------------------------------

ANSWERED_NOTE = "已履行，自动解除"


def _missed_answered(person_id, kind, day) -> ColumnElement[bool]:
    """The live alerts of missed windows of ``kind`` due on ``day`` or before."""
    answered = select(Obligation.id).where(
        Obligation.person_id == person_id, Obligation.kind == kind, Obligation.due_on <= day
    )
    return and_(
        Alert.kind == "obligation_missed",
        Alert.person_id == person_id,
        Alert.subject_type == "obligation",
        Alert.subject_id.in_(answered),
    )


def resolve_answered(session: Session, *, person_id: int, kind: str, day, now: datetime) -> int:
    """An event of ``kind`` answers the missed windows of that kind due on ``day`` or before:
    their alerts are resolved."""
    return alerts.resolve_where(
        session, _missed_answered(person_id, kind, day), now=now, note=ANSWERED_NOTE
    )


def answered_ctes(fulfilled) -> list:
    """PostgreSQL: :func:`resolve_answered` as CTEs of the event's own INSERT statement, run
    only when the event fulfilled a window (``fulfilled``: that UPDATE's CTE). Parameters:
    ``p_person``, ``p_kind``, ``p_day``, ``p_now``."""
    condition = and_(
        _missed_answered(bindparam("p_person"), bindparam("p_kind"), bindparam("p_day")),
        select(fulfilled.c.due_on).exists(),
    )
    return alerts.resolving_ctes(condition, bindparam("p_now", type_=UTCDateTime()), ANSWERED_NOTE)


def _fulfil_statement(event_id):
    """UPDATE the earliest window of a kind and status that contains a day: fulfilled by
    ``event_id``; returns its due day."""
    return (
        _OB.update()
        .where(
            _OB.c.id
            == select(_OB.c.id)
            .where(
                _OB.c.person_id == bindparam("p_person"),
                _OB.c.kind == bindparam("p_kind"),
                _OB.c.status == bindparam("p_status"),
                _OB.c.opens_on <= bindparam("p_day"),
                _OB.c.due_on >= bindparam("p_day"),
            )
            .order_by(_OB.c.due_on)
            .limit(1)
            .scalar_subquery(),
            _OB.c.status == bindparam("p_status"),
        )
        .values(
            status="fulfilled",
            fulfilled_by_event_id=event_id,
            fulfilled_at=bindparam("p_at"),
            updated_at=bindparam("p_now"),
        )
        .returning(_OB.c.due_on)
    )


# Built once: the statement is the same for every event, only the values change.
_FULFIL = _fulfil_statement(bindparam("p_event"))
_ROW_COLUMNS = tuple(_row(0, "", date.min, date.min, "", datetime.min.replace(tzinfo=UTC)))


# The successor's values that are the fulfilled window's (same person, kind, time): one
# parameter each. (The statement then binds at most 50 values, which psycopg converts once
# per process rather than at every execution.)
_SUCCESSOR_SHARES = {
    "person_id": "p_person",
    "kind": "p_kind",
    "created_at": "p_now",
    "updated_at": "p_now",
}


def fulfil_ctes(new_event: Any) -> tuple[list, list]:
    """PostgreSQL: the open window's UPDATE and its successor's INSERT as CTEs of the statement
    that inserts the event (``new_event``: that INSERT's CTE). The successor goes in only if a
    window was fulfilled; the result column is the fulfilled window's due day (or NULL).
    The window's missed predecessors' alerts resolve in the same statement.
    Parameters from :func:`fulfil_params`."""
    fulfilled = _fulfil_statement(select(new_event.c.id).scalar_subquery()).cte("fulfilled")
    successor = (
        _OB.insert()
        .from_select(
            list(_ROW_COLUMNS),
            select(
                *(
                    bindparam(_SUCCESSOR_SHARES.get(c, f"s_{c}"), type_=_OB.c[c].type)
                    for c in _ROW_COLUMNS
                )
            )
            .select_from(fulfilled)
            .where(bindparam("s_plan", type_=Boolean)),
        )
        .cte("successor")
    )
    ctes = [fulfilled, successor, *answered_ctes(fulfilled)]
    return ctes, [select(fulfilled.c.due_on).scalar_subquery()]


def fulfil_params(person: Person, plan: Fulfilment, occurred_at: datetime, now: datetime) -> dict:
    """The values of :func:`fulfil_ctes` for one planned fulfilment."""
    successor = plan.successor or _row(person.id, plan.kind, plan.day, plan.day, "", now)
    return {
        "p_person": person.id,
        "p_kind": plan.kind,
        "p_status": "open",
        "p_day": plan.day,
        "p_at": occurred_at,
        "p_now": now,
        "s_plan": plan.successor is not None,
        **{f"s_{k}": v for k, v in successor.items() if k not in _SUCCESSOR_SHARES},
    }


def _fulfil(
    session: Session,
    person: Person,
    kind: str,
    day: date,
    event: SupervisionEvent,
    now: datetime,
    status: str,
) -> date | None:
    """Mark the ``status`` window of ``kind`` that contains ``day`` fulfilled by ``event``, in
    one UPDATE; return its due day, or None if there was none. The status is checked again on
    the row itself, so two events racing for one window cannot both fulfil it."""
    row = (
        session.connection()
        .execute(
            _FULFIL,
            {
                "p_person": person.id,
                "p_kind": kind,
                "p_status": status,
                "p_day": day,
                "p_event": event.id,
                "p_at": event.occurred_at,
                "p_now": now,
            },
        )
        .first()
    )
    return row[0] if row else None


_EV = SupervisionEvent.__table__
BUSINESS_ZONE = BUSINESS_TZ.key
# Built once (this runs for every education or community-service entry).
_HOUR_WINDOW = (
    select(_OB.c.id, _OB.c.opens_on, _OB.c.due_on, _OB.c.status, _OB.c.hours_required)
    .where(
        _OB.c.person_id == bindparam("p_person"),
        _OB.c.kind == bindparam("p_kind"),
        _OB.c.opens_on <= bindparam("p_day"),
        _OB.c.due_on >= bindparam("p_day"),
    )
    .with_for_update()
)
_WINDOW_EVENTS = (
    select(_EV.c.id, _EV.c.occurred_at, _EV.c.payload)
    .where(
        _EV.c.person_id == bindparam("p_person"),
        _EV.c.type.in_(bindparam("p_types", expanding=True)),
        _EV.c.occurred_at >= bindparam("p_start"),
        _EV.c.occurred_at < bindparam("p_end"),
        _EV.c.recorded_at >= bindparam("p_recorded_since"),
        # Corrected events count as their correction, not twice.
        _EV.c.id.not_in(
            select(_EV.c.corrects_id).where(
                _EV.c.corrects_id.is_not(None),
                _EV.c.person_id == bindparam("p_person"),
                _EV.c.recorded_at >= bindparam("p_recorded_since"),
            )
        ),
    )
    .order_by(_EV.c.occurred_at, _EV.c.id)
)
_SET_HOURS = (
    _OB.update()
    .where(_OB.c.id == bindparam("p_id"))
    .values(
        hours_done=bindparam("p_done"),
        status=bindparam("p_status"),
        fulfilled_by_event_id=bindparam("p_event"),
        fulfilled_at=bindparam("p_at"),
        updated_at=bindparam("p_now"),
    )
)


def hours_ctes(new_event: Any) -> tuple[list, list]:
    """PostgreSQL: :func:`recompute_hours` for an hour entry as CTEs of the statement that
    inserts it (``new_event``: that INSERT's CTE, which the others cannot see as a table row
    yet, so it joins the month's events by its parameters). Same rules as the Python version:
    the window containing the day is locked, hours add up in (occurred_at, id) order over
    uncorrected events inside it, the event that reaches the requirement fulfils it.
    Parameters from :func:`hours_params`."""
    win = _HOUR_WINDOW.cte("win")
    start = func.timezone(BUSINESS_ZONE, cast(win.c.opens_on, DateTime()))
    end = func.timezone(BUSINESS_ZONE, cast(add_days(win.c.due_on, 1), DateTime()))
    since = bindparam("p_recorded_since", type_=UTCDateTime())
    corrected = select(_EV.c.corrects_id).where(
        _EV.c.corrects_id.is_not(None),
        _EV.c.person_id == bindparam("p_person"),
        _EV.c.recorded_at >= since,
    )
    earlier = (
        select(
            _EV.c.id,
            _EV.c.occurred_at,
            cast(_EV.c.payload.op("->>")("hours"), Float).label("hours"),
        )
        .select_from(_EV.join(win, true()))
        .where(
            _EV.c.person_id == bindparam("p_person"),
            # An array parameter, not an expanding IN: the statement's text stays the same
            # from one execution to the next, rendered once.
            _EV.c.type == any_(bindparam("p_types", type_=ARRAY(String))),
            _EV.c.occurred_at >= start,
            _EV.c.occurred_at < end,
            _EV.c.recorded_at >= since,
            _EV.c.id.not_in(corrected),
        )
    )
    this = select(
        new_event.c.id,
        bindparam("p_at", type_=UTCDateTime()),
        bindparam("p_hours", type_=Float()),
    )
    entries = earlier.union_all(this).cte("entries")
    running = select(
        entries.c.id,
        entries.c.occurred_at,
        func.sum(entries.c.hours)
        .over(order_by=(entries.c.occurred_at, entries.c.id))
        .label("total"),
    ).cte("running")
    total = (
        select(running.c.total)
        .order_by(running.c.occurred_at.desc(), running.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    completing = (
        select(running.c.id, running.c.occurred_at)
        .where(running.c.total >= func.coalesce(win.c.hours_required, 0))
        .order_by(running.c.occurred_at, running.c.id)
        .limit(1)
        .cte("completing")
    )
    reached = select(completing.c.id).exists()
    status = case(
        (reached & win.c.status.in_(("open", "missed", "fulfilled")), "fulfilled"),
        (
            ~reached & (win.c.status == "fulfilled"),
            case((win.c.due_on >= bindparam("p_today"), "open"), else_="missed"),
        ),
        else_=win.c.status,
    )
    fulfilled = reached & win.c.status.in_(("open", "missed", "fulfilled"))
    updated = (
        _OB.update()
        .where(_OB.c.id == win.c.id)
        .values(
            hours_done=func.round(cast(total, Numeric), 2),
            status=status,
            fulfilled_by_event_id=case(
                (fulfilled, select(completing.c.id).scalar_subquery()), else_=None
            ),
            fulfilled_at=case(
                (fulfilled, select(completing.c.occurred_at).scalar_subquery()), else_=None
            ),
            updated_at=bindparam("p_now", type_=UTCDateTime()),
        )
        .cte("hours_updated")
    )
    return [win, entries, running, completing, updated], [literal(None, Date()).label("due")]


def recorded_since(day: date) -> datetime:
    """A bound on when the events of ``day``'s month (an hour window lies within one calendar
    month) and their corrections were recorded: none was recorded more than the rules' future
    tolerance before it occurred (a day more, to be safe). On PostgreSQL it confines the
    month's read to the event log's partitions of that month onward, not every month since
    the log began."""
    tolerance = supervision_rules.current().future_tolerance
    return start_of_business_day(day.replace(day=1)) - tolerance - DAY


def hours_params(person: Person, kind: str, event: SupervisionEvent, now: datetime) -> dict:
    """The values of :func:`hours_ctes` for one hour entry."""
    return {
        "p_person": person.id,
        "p_kind": kind,
        "p_day": business_date(event.occurred_at),
        "p_types": list(_rule(kind).hours_from),
        "p_at": event.occurred_at,
        "p_hours": float((event.payload or {}).get("hours", 0)),
        "p_today": business_date(now),
        "p_now": now,
        "p_recorded_since": recorded_since(business_date(event.occurred_at)),
    }


def recompute_hours(session: Session, person: Person, kind: str, day: date, now: datetime) -> None:
    """Hours accumulate across the month's events (corrected ones count as corrected)."""
    window = (
        session.connection()
        .execute(_HOUR_WINDOW, {"p_person": person.id, "p_kind": kind, "p_day": day})
        .first()
    )
    if window is None:
        return
    ob_id, opens_on, due_on, status, required = window
    types = list(_rule(kind).hours_from)
    rows = (
        session.connection()
        .execute(
            _WINDOW_EVENTS,
            {
                "p_person": person.id,
                "p_types": types,
                "p_start": start_of_business_day(opens_on),
                "p_end": start_of_business_day(due_on + DAY),
                "p_recorded_since": recorded_since(opens_on),
            },
        )
        .all()
    )
    total, completing = 0.0, (None, None)
    for event_id, occurred_at, payload in rows:
        total += float((payload or {}).get("hours", 0))
        if completing[0] is None and total >= (required or 0):
            completing = (event_id, occurred_at)
    if completing[0] is not None:
        status = "fulfilled" if status in ("open", "missed", "fulfilled") else status
    elif status == "fulfilled":
        status = "open" if due_on >= business_date(now) else "missed"
    if status != "fulfilled":
        completing = (None, None)
    session.connection().execute(
        _SET_HOURS,
        {
            "p_id": ob_id,
            "p_done": round(total, 2),
            "p_status": status,
            "p_event": completing[0],
            "p_at": completing[1],
            "p_now": now,
        },
    )


def on_correction(
    session: Session,
    person: Person,
    corrected: SupervisionEvent,
    correction: SupervisionEvent,
    now: datetime,
) -> None:
    """A correction replaces an event: whatever the old one fulfilled is judged again."""
    kind = event_kind(corrected)
    if kind in HOUR_KINDS:
        recompute_hours(session, person, kind, business_date(corrected.occurred_at), now)
        if business_date(correction.occurred_at).replace(day=1) != business_date(
            corrected.occurred_at
        ).replace(day=1):
            recompute_hours(session, person, kind, business_date(correction.occurred_at), now)
        return
    ob = session.scalar(
        select(Obligation).where(Obligation.fulfilled_by_event_id == corrected.id).with_for_update()
    )
    if ob is not None:
        ob.status = "open" if ob.due_on >= business_date(now) else "missed"
        ob.fulfilled_by_event_id = ob.fulfilled_at = None
        ob.updated_at = now
        session.flush()
        if ob.status == "open":
            # Its successor was planned from the corrected event: it goes, this one reopens.
            session.execute(
                update(Obligation)
                .where(
                    Obligation.person_id == person.id,
                    Obligation.kind == ob.kind,
                    Obligation.status == "open",
                    Obligation.id != ob.id,
                )
                .values(
                    status="excused", closed_reason="replanned after a correction", updated_at=now
                )
            )
    on_event(session, person, correction, now)


# --- held by another authority -----------------------------------------------------------


def suspend(session: Session, person: Person, start: date, reason: str, now: datetime) -> int:
    """The person is held from ``start``: nothing of theirs falls due until the release.

    A window due before ``start`` and still open was missed before they were taken: it is
    marked missed now (with its alert). Every other window not done is excused with ``reason``
    (missed ones too, when the detention is recorded after the sweep found them: the person
    could not have done them), and their alerts resolve; a month's hours window that began
    before ``start`` ends the day before instead, its hours pro-rated to those days.
    Returns how many windows were excused.
    """
    late = list(
        session.scalars(
            update(Obligation)
            .where(
                Obligation.person_id == person.id,
                Obligation.status == "open",
                Obligation.due_on < start,
            )
            .values(status="missed", missed_at=now, updated_at=now)
            .returning(Obligation.id)
            .execution_options(synchronize_session=False)
        )
    )
    if late:
        raise_missed_alerts(session, Obligation.id.in_(late), now)
    excused, shortened = [], []
    for ob in session.scalars(
        select(Obligation)
        .where(
            Obligation.person_id == person.id,
            Obligation.status.in_(("open", "missed")),
            Obligation.due_on >= start,
        )
        .with_for_update()
    ):
        if ob.kind in HOUR_KINDS and ob.opens_on < start:
            ob.due_on = start - DAY
            ob.hours_required = _prorated(
                monthly_hours(ob.grade or person.grade, ob.kind), (ob.opens_on, ob.due_on)
            )
            ob.updated_at = now
            shortened.append(ob)
        else:
            ob.status, ob.closed_reason, ob.updated_at = "excused", reason, now
            excused.append(ob.id)
    session.flush()
    for ob in shortened:  # the hours done before may now be enough
        recompute_hours(session, person, ob.kind, ob.opens_on, now)
        session.refresh(ob)
    # A missed month that the hours done before now cover is answered too.
    answered = excused + [ob.id for ob in shortened if ob.status == "fulfilled"]
    if answered:
        alerts.resolve_where(
            session,
            and_(
                Alert.kind == "obligation_missed",
                Alert.person_id == person.id,
                Alert.subject_type == "obligation",
                Alert.subject_id.in_(answered),
            ),
            now=now,
            note=reason,
        )
    return len(excused)


def resume(session: Session, person: Person, day: date, reason: str, now: datetime) -> int:
    """Released on ``day``: what the person owes is planned again from that day, as at intake
    (the chains anchored on it, the month's hours pro-rated from it, each month since, the once
    windows not yet done). A month window that :func:`suspend` excused with ``reason`` and that
    opens that very day is opened again. Hours entered since the release count. Returns how
    many windows were planned."""
    today = business_date(now)
    open_kinds = set(
        session.scalars(
            select(Obligation.kind).where(
                Obligation.person_id == person.id, Obligation.status == "open"
            )
        )
    )
    rows = [
        r
        for kind in CHAINED_KINDS
        if kind not in open_kinds and (r := _interval_row(person, kind, day, now))
    ]
    for kind in ONCE_KINDS:
        done_or_due = select(Obligation.id).where(
            Obligation.person_id == person.id,
            Obligation.kind == kind,
            Obligation.status.in_(("open", "fulfilled")),
        )
        if session.scalar(done_or_due.limit(1)) is None and (
            r := _once_row(person, kind, day, now)
        ):
            rows.append(r)
    if rows:
        session.execute(_OB.insert(), rows)
    windows = 0
    month = day.replace(day=1)
    while month <= today.replace(day=1):
        for kind in HOUR_KINDS:
            row = _hour_row(person, kind, month, now, since=day if month <= day else None)
            if row is not None:
                windows += _open_month_window(session, person, row, reason, now)
        month = add_months(month, 1)
    return len(rows) + windows


def _open_month_window(
    session: Session, person: Person, row: dict, reason: str, now: datetime
) -> int:
    """Insert a month's hours window (or open again the one the detention excused, ``reason``,
    that opens that day; one an officer excused stays so) and count the hours entered in it."""
    existing = session.scalar(
        select(Obligation)
        .where(
            Obligation.person_id == person.id,
            Obligation.kind == row["kind"],
            Obligation.opens_on == row["opens_on"],
        )
        .with_for_update()
    )
    if existing is None:
        session.execute(_OB.insert(), row)
    elif existing.status == "excused" and existing.closed_reason == reason:
        existing.status, existing.due_on = "open", row["due_on"]
        existing.hours_required, existing.grade = row["hours_required"], row["grade"]
        existing.closed_reason = existing.missed_at = None
        existing.updated_at = now
        session.flush()
    else:
        return 0
    recompute_hours(session, person, row["kind"], row["opens_on"], now)
    return 1


def raise_missed_alerts(session: Session, where: ColumnElement[bool], now: datetime) -> int:
    """One obligation_missed alert per missed window ``where`` selects, for the kinds
    rules/alerts.yaml alerts on. Each miss is its own cause: no look at history (a miss that a
    correction brings back is alerted again)."""
    return alerts.raise_from(
        session,
        select(
            Obligation.person_id,
            literal("obligation").label("subject_type"),
            Obligation.id.label("subject_id"),
            json_object("obligation_kind", Obligation.kind, "due_on", Obligation.due_on).label(
                "detail"
            ),
        ).where(
            where,
            Obligation.status == "missed",
            Obligation.kind.in_(alert_rules.current().alert_on_missed),
        ),
        kind="obligation_missed",
        now=now,
        once=False,
    )


# --- the sweep ---------------------------------------------------------------------------


@dataclass
class SweepResult:
    missed: int  # obligations marked missed in this run (``missed_at`` = the run's ``now``)
    planned: int
    hour_windows: int
    started: int = 0  # periodic chains and once windows a supervised person lacked


def sweep(session: Session, *, today: date, now: datetime, plan_months: bool = True) -> SweepResult:
    """Mark what is overdue as missed and plan what comes next, set-based.

    Works from "what is overdue now", so after downtime one run catches up on the whole
    missed period: an interval chain that missed several windows gets each of them marked
    (one UPDATE and one INSERT ... SELECT per window missed in a row, not per person). What
    this run marked carries ``missed_at = now``, for the alerts raised from it.
    ``plan_months``: also plan this month's hour windows for whoever lacks them, and the
    periodic chains and once windows a person lacks (a look at every supervised person; the
    scheduler does it in the first sweep of each month). Nothing is planned for a person held
    by another authority (the release plans it).
    """
    missed = planned = 0
    overdue = (Obligation.status == "open", Obligation.due_on < today)
    mark = (
        update(Obligation)
        .where(*overdue, Obligation.kind.in_(INTERVAL_KINDS))
        .values(status="missed", missed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        if postgres:  # one statement: the UPDATE's rows feed the successors' INSERT
            marked, added = _mark_and_plan(session, mark, now)
        else:
            marked = session.execute(mark).rowcount
            added = _plan_successors(session, now) if marked else 0
        if not marked:
            break
        missed += marked
        planned += added
    marked, added = _sweep_periodic(session, today, now)
    missed, planned = missed + marked, planned + added
    # Month windows that ended: short of hours is missed; a once window past due is missed.
    missed += (
        session.execute(
            update(Obligation)
            .where(*overdue, Obligation.kind.in_((*HOUR_KINDS, *ONCE_KINDS)))
            .values(status="missed", missed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    windows = started = 0
    if plan_months:
        windows = plan_month_windows(session, today=today, now=now)
        started = plan_missing(session, today=today, now=now)
    return SweepResult(missed=missed, planned=planned, hour_windows=windows, started=started)


def _held_after(person_id, day) -> ColumnElement[bool]:
    """SQL: the person is held now, or was taken into custody after ``day`` (whose release
    plans what follows): no successor is planned for a window due on ``day``."""
    return (
        select(Detention.id)
        .where(
            Detention.person_id == person_id,
            or_(Detention.end_date.is_(None), Detention.start_date > day),
        )
        .exists()
    )


def _held_now(person_id) -> ColumnElement[bool]:
    return (
        select(Detention.id)
        .where(Detention.person_id == person_id, Detention.end_date.is_(None))
        .exists()
    )


def _sweep_periodic(session: Session, today: date, now: datetime) -> tuple[int, int]:
    """The periodic chains (calendar months, which the dialects do not count alike): mark what
    is overdue missed, then plan the successor of each window this run marked that lacks one
    (SQL selects them, as :func:`_plan_successors` does; Python counts the months), pass after
    pass until nothing is overdue. Returns (marked, planned)."""
    ob, nxt = _OB.alias("ob"), _OB.alias("nxt")
    lacking = (
        select(ob.c.person_id, ob.c.kind, ob.c.due_on)
        .join(Person.__table__, Person.__table__.c.id == ob.c.person_id)
        .where(
            ob.c.missed_at == now,
            ob.c.status == "missed",
            ob.c.kind.in_(PERIODIC_KINDS),
            Person.__table__.c.status.in_(SUPERVISED_STATUSES),
            ~_held_after(ob.c.person_id, ob.c.due_on),
            ~select(nxt.c.id)
            .where(
                nxt.c.person_id == ob.c.person_id,
                nxt.c.kind == ob.c.kind,
                nxt.c.opens_on == add_days(ob.c.due_on, 1),
            )
            .exists(),
        )
    )
    missed = planned = 0
    while True:
        marked = session.execute(
            update(Obligation)
            .where(
                Obligation.status == "open",
                Obligation.due_on < today,
                Obligation.kind.in_(PERIODIC_KINDS),
            )
            .values(status="missed", missed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not marked:
            return missed, planned
        missed += marked
        windows = session.execute(lacking).all()
        persons = {
            p.id: p
            for p in session.scalars(
                select(Person).where(Person.id.in_({w.person_id for w in windows}))
            )
        }
        rows = [
            row
            for person_id, kind, due_on in windows
            if (row := _interval_row(persons[person_id], kind, due_on, now))
        ]
        if rows:
            session.execute(_OB.insert(), rows)
        planned += len(rows)


def plan_missing(session: Session, *, today: date, now: datetime) -> int:
    """Plan, from today, the periodic chains without an open window and the once windows never
    planned, for the supervised persons who owe them and are not held (persons supervised
    before a kind existed; a chain that an excuse ended). Set-based selection: only those
    lacking one are loaded."""
    rows = []
    for kind in (*PERIODIC_KINDS, *ONCE_KINDS):
        has = select(Obligation.id).where(
            Obligation.person_id == Person.id, Obligation.kind == kind
        )
        if kind in PERIODIC_KINDS:
            has = has.where(Obligation.status == "open")
        stmt = select(Person).where(
            Person.status.in_(SUPERVISED_STATUSES),
            Person.grade.is_not(None),
            Person.term_end > today,
            ~has.exists(),
            ~_held_now(Person.id),
        )
        if categories := _rule(kind).categories:
            stmt = stmt.where(Person.category.in_(categories))
        plan = _interval_row if kind in PERIODIC_KINDS else _once_row
        rows += [r for person in session.scalars(stmt) if (r := plan(person, kind, today, now))]
    if rows:
        session.execute(_OB.insert(), rows)
    return len(rows)


def _interval_case(kind_column, grade_column):
    """The grade's interval for a kind, as SQL (from the grading rules, not hard-coded)."""
    rules = grading_rules.current()
    whens = [
        (
            (kind_column == kind) & (grade_column == g.id),
            getattr(g.requirements, _INTERVAL_FIELD[kind]),
        )
        for g in rules.grades
        for kind in INTERVAL_KINDS
    ]
    return case(*whens, else_=None)


def _successors(source, now: datetime, *, per_row: bool = False):
    """SELECT of the next window after each missed interval window in ``source`` (columns
    person_id, kind, due_on), unless the term is over, supervision ended or the person was
    taken into custody since (see :func:`_held_after`).

    ``per_row`` (PostgreSQL): each window's person is looked up by its key (a LATERAL
    subquery that OFFSET 0 keeps from being merged into a join). The planner cannot tell how
    few windows an UPDATE marks (it counts the past history windows among those due before
    today: 20 times too many at 100,000 persons) and otherwise hashes the whole persons
    table for them, which grows with the city rather than with what was missed."""
    if per_row:
        people = Person.__table__.alias("people")
        p = (
            select(people.c.grade, people.c.term_end, people.c.status)
            .where(people.c.id == source.c.person_id)
            .offset(0)
            .lateral("p")
        )
        joined = source.join(p, true())
    else:
        p = Person.__table__
        joined = source.join(p, p.c.id == source.c.person_id)
    opens = add_days(source.c.due_on, 1)
    due = least(add_days(source.c.due_on, _interval_case(source.c.kind, p.c.grade)), p.c.term_end)
    return (
        select(
            source.c.person_id,
            source.c.kind,
            opens.label("opens_on"),
            due.label("due_on"),
            literal("open").label("status"),
            p.c.grade,
            literal(now, UTCDateTime()).label("created_at"),
            literal(now, UTCDateTime()).label("updated_at"),
        )
        .select_from(joined)
        .where(
            p.c.status.in_(SUPERVISED_STATUSES),
            p.c.grade.is_not(None),
            source.c.due_on < p.c.term_end,
            ~_held_after(source.c.person_id, source.c.due_on),
        )
    )


_SUCCESSOR_COLUMNS = ["person_id", "kind", "opens_on", "due_on", "status", "grade"]


def _plan_successors(session: Session, now: datetime) -> int:
    """Plan the successors of what this run marked missed (``missed_at = now``), unless the
    chain already has one (it opens the day after): a later pass of the loop sees earlier
    passes' rows again."""
    ob, nxt = Obligation.__table__.alias("ob"), Obligation.__table__.alias("nxt")
    rows = _successors(ob, now).where(
        ob.c.missed_at == now,
        ob.c.status == "missed",
        ob.c.kind.in_(INTERVAL_KINDS),
        ~select(nxt.c.id)
        .where(
            nxt.c.person_id == ob.c.person_id,
            nxt.c.kind == ob.c.kind,
            nxt.c.opens_on == add_days(ob.c.due_on, 1),
        )
        .exists(),
    )
    columns = [*_SUCCESSOR_COLUMNS, "created_at", "updated_at"]
    # Counted from RETURNING: psycopg reports no rowcount for INSERT ... SELECT.
    stmt = _OB.insert().from_select(columns, rows).returning(_OB.c.id)
    return len(session.execute(stmt).all())


def _mark_and_plan(session: Session, mark, now: datetime) -> tuple[int, int]:
    """PostgreSQL: mark overdue interval windows missed and plan their successors in one
    statement (the UPDATE's RETURNING feeds the INSERT, so only this pass's rows count).
    Returns (marked, planned)."""
    marked = mark.returning(_OB.c.person_id, _OB.c.kind, _OB.c.due_on).cte("marked")
    columns = [*_SUCCESSOR_COLUMNS, "created_at", "updated_at"]
    planned = (
        insert_for(session)(Obligation)
        .from_select(columns, _successors(marked, now, per_row=True))
        .on_conflict_do_nothing(
            index_elements=["person_id", "kind"],
            # As the index spells it: inside a CTE the predicate is not rendered with literal
            # values, and PostgreSQL cannot match parameters to the index.
            index_where=text(ONE_OPEN_PREDICATE),
        )
        .returning(_OB.c.id)
        .cte("planned")
    )
    counts = select(
        select(func.count()).select_from(marked).scalar_subquery(),
        select(func.count()).select_from(planned).scalar_subquery(),
    )
    return tuple(session.execute(counts).one())


def plan_month_windows(session: Session, *, today: date, now: datetime) -> int:
    """Create this month's hour windows for supervised persons that lack them (set-based
    selection: only the persons without a window are loaded)."""
    first = today.replace(day=1)
    last = add_months(first, 1) - DAY
    rows = []
    for kind in HOUR_KINDS:
        has_window = (
            select(Obligation.id)
            .where(
                Obligation.person_id == Person.id,
                Obligation.kind == kind,
                Obligation.due_on >= first,
                Obligation.opens_on <= last,
            )
            .exists()
        )
        lacking = session.scalars(
            select(Person).where(
                Person.status.in_(SUPERVISED_STATUSES),
                Person.grade.is_not(None),
                Person.term_start <= last,
                Person.term_end >= first,
                ~has_window,
                ~_held_now(Person.id),
            )
        ).all()
        rows += [r for person in lacking if (r := _hour_row(person, kind, today, now))]
    if rows:
        session.execute(Obligation.__table__.insert(), rows)
    return len(rows)
