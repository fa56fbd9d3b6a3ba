"""Scheduled supervision jobs: what was missed, trips not returned from, intakes not reported,
terms ending, monitoring periods ending. Set-based: one statement per kind of finding, however
many persons; each works from "what is true now", so a run after downtime catches up."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, literal, or_, select
from sqlalchemy.orm import Session

from corrections.alerts import rules as alert_rules
from corrections.alerts import service as alerts
from corrections.alerts.models import Alert
from corrections.core import clocks
from corrections.core.clock import business_date, start_of_business_day
from corrections.core.sqlfuncs import json_object
from corrections.grading.models import GradeDecision
from corrections.persons.models import SUPERVISED_STATUSES, Person
from corrections.supervision import obligations
from corrections.supervision.models import MonitoringPeriod, Obligation, TravelPermit
from corrections.supervision.travel import mark_overdue_permits


def sweep_obligations(
    session: Session, *, now: datetime, last_success: datetime | None = None
) -> dict[str, int]:
    """Open obligations past due -> missed (successors planned), one alert per miss.

    Month hour windows are planned by the first successful sweep of each Asia/Shanghai month
    (``last_success``: when the previous one started); intake plans a newcomer's own, and a
    grade change re-plans them in place, so later sweeps need not look at every person.
    """
    today = business_date(now)
    first_of_month = last_success is None or last_success < start_of_business_day(
        today.replace(day=1)
    )
    result = obligations.sweep(session, today=today, now=now, plan_months=first_of_month)
    # Each miss is raised in the run that marked it.
    raised = obligations.raise_missed_alerts(session, Obligation.missed_at == now, now)
    return {
        "missed": result.missed,
        "planned": result.planned,
        "hour_windows": result.hour_windows,
        "started": result.started,
        "alerts": raised,
    }


def travel_returns(session: Session, *, now: datetime) -> dict[str, int]:
    """Approved trips past their end without a return -> overdue, alert (the lost-contact
    detection opens the incident)."""
    marked = mark_overdue_permits(session, today=business_date(now), now=now)
    raised = alerts.raise_from(
        session,
        select(
            TravelPermit.person_id,
            literal("permit").label("subject_type"),
            TravelPermit.id.label("subject_id"),
            json_object("end_date", TravelPermit.end_date).label("detail"),
        ).where(TravelPermit.status == "overdue"),
        kind="travel_overdue",
        now=now,
    )
    resolved = alerts.resolve_where(
        session,
        and_(
            Alert.kind == "travel_overdue",
            Alert.subject_type == "permit",
            Alert.subject_id.in_(select(TravelPermit.id).where(TravelPermit.status != "overdue")),
        ),
        now=now,
        note="已返回",
    )
    return {"overdue": len(marked), "alerts": raised, "resolved": resolved}


def intake_deadlines(session: Session, *, now: datetime) -> dict[str, int]:
    """Judgment effective + 10 days and not reported (漏管 risk); grade decisions waiting for
    approval too long. Alerts resolve when the person reports / the decision is taken."""
    today = business_date(now)
    deadlines = alert_rules.current()
    intake = alerts.raise_from(
        session,
        select(
            Person.id.label("person_id"),
            literal("person").label("subject_type"),
            Person.id.label("subject_id"),
            json_object("intake_deadline", Person.intake_deadline).label("detail"),
        ).where(Person.status == "pending_intake", Person.intake_deadline < today),
        kind="intake_overdue",
        now=now,
    )
    intake_done = alerts.resolve_where(
        session,
        and_(
            Alert.kind == "intake_overdue",
            Alert.person_id.in_(select(Person.id).where(Person.status != "pending_intake")),
        ),
        now=now,
        note="已报到或已结束",
    )
    waiting_since = now - timedelta(days=deadlines.grade_approval_days)
    approvals = alerts.raise_from(
        session,
        select(
            GradeDecision.person_id,
            literal("grade_decision").label("subject_type"),
            GradeDecision.id.label("subject_id"),
            json_object("to_grade", GradeDecision.to_grade).label("detail"),
        ).where(GradeDecision.status == "proposed", GradeDecision.proposed_at <= waiting_since),
        kind="grade_approval_due",
        now=now,
    )
    approvals_done = alerts.resolve_where(
        session,
        and_(
            Alert.kind == "grade_approval_due",
            Alert.subject_id.in_(
                select(GradeDecision.id).where(GradeDecision.status != "proposed")
            ),
        ),
        now=now,
        note="已审批",
    )
    return {
        "intake_alerts": intake,
        "intake_resolved": intake_done,
        "approval_alerts": approvals,
        "approval_resolved": approvals_done,
    }


def term_endings(session: Session, *, now: datetime) -> dict[str, int]:
    """30 days before the term ends the discharge summary is due; after its last day the
    discharge itself. Resolved once the person is no longer supervised."""
    today = business_date(now)
    # The summary is due a clock before the term ends (rules/clocks.yaml): every term ending
    # by this date has reached it.
    summary_by = clocks.latest_start(
        "pre_expiry_summary", today, clocks.current(), clocks.calendar()
    )
    supervised = Person.status.in_(SUPERVISED_STATUSES)
    # The summary is an obligation too (term_summary): once it is done, nothing to remind of.
    summarised = (
        select(Obligation.person_id)
        .where(Obligation.kind == "term_summary", Obligation.status == "fulfilled")
        .scalar_subquery()
    )
    raised = 0
    for stage, condition in (
        ("summary_due", and_(Person.term_end <= summary_by, Person.id.not_in(summarised))),
        ("discharge_due", Person.term_end < today),
    ):
        raised += alerts.raise_from(
            session,
            select(
                Person.id.label("person_id"),
                literal(stage).label("subject_type"),
                Person.id.label("subject_id"),
                json_object("stage", stage, "term_end", Person.term_end).label("detail"),
            ).where(supervised, condition),
            kind="term_ending",
            now=now,
        )
    resolved = alerts.resolve_where(
        session,
        and_(
            Alert.kind == "term_ending", Alert.person_id.in_(select(Person.id).where(~supervised))
        ),
        now=now,
        note="矫正已结束",
    )
    resolved += alerts.resolve_where(
        session,
        and_(
            Alert.kind == "term_ending",
            Alert.subject_type == "summary_due",
            Alert.person_id.in_(summarised),
        ),
        now=now,
        note="期满总结已完成",
    )
    return {"alerts": raised, "resolved": resolved}


def monitoring_expiry(session: Session, *, now: datetime) -> dict[str, int]:
    """Monitoring periods ending within the notice days, or ended without a decision (no
    extension, no removal): a district user decides."""
    today = business_date(now)
    notice = alert_rules.current().monitoring_notice_days
    extended = select(MonitoringPeriod.extends_id).where(MonitoringPeriod.extends_id.is_not(None))
    undecided = and_(
        MonitoringPeriod.removed_at.is_(None),
        MonitoringPeriod.id.not_in(extended),
        MonitoringPeriod.end_date <= today + timedelta(days=notice),
    )
    raised = alerts.raise_from(
        session,
        select(
            MonitoringPeriod.person_id,
            literal("monitoring").label("subject_type"),
            MonitoringPeriod.id.label("subject_id"),
            json_object("end_date", MonitoringPeriod.end_date).label("detail"),
        )
        .join(Person, Person.id == MonitoringPeriod.person_id)
        .where(undecided, Person.status.in_(SUPERVISED_STATUSES)),
        kind="monitoring_expiring",
        now=now,
    )
    resolved = alerts.resolve_where(
        session,
        and_(
            Alert.kind == "monitoring_expiring",
            Alert.subject_id.in_(
                select(MonitoringPeriod.id).where(
                    or_(
                        MonitoringPeriod.removed_at.is_not(None),
                        MonitoringPeriod.id.in_(extended),
                    )
                )
            ),
        ),
        now=now,
        note="已延长或解除",
    )
    return {"alerts": raised, "resolved": resolved}
