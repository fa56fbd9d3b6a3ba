"""Monthly assessment (月度考核) job: score the month just ended for every supervised person,
apply forced stricter moves the month's events call for, and raise looser proposals.

Idempotent: assessments are unique per (person, month) and decisions unique per (person, basis),
so re-running a month changes nothing. Work is selected with set-based queries and committed in
batches; one person's bad data is recorded as an error and does not stop the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.core.auth import SYSTEM
from corrections.core.clock import add_months, business_date, start_of_business_day
from corrections.core.i18n import _
from corrections.core.sqlfuncs import insert_for
from corrections.grading import engine, service
from corrections.grading import rules as grading_rules
from corrections.grading.models import GradeDecision, MonthlyAssessment
from corrections.persons.models import SUPERVISED_STATUSES, Person
from corrections.supervision import obligations
from corrections.supervision.models import Obligation, SupervisionEvent
from corrections.supervision.rules import SANCTIONS

log = logging.getLogger(__name__)

# Event types that count in the monthly assessment.
ASSESSED_EVENTS = ("admonition", "warning", "police_penalty", "commendation")

InputsProvider = Callable[[Session, list[int], date], dict[int, engine.MonthInputs]]


def db_month_inputs(
    session: Session, person_ids: list[int], month: date
) -> dict[int, engine.MonthInputs]:
    """The month's obligations (by due day) and assessed events per person."""
    start = start_of_business_day(month)
    end = start_of_business_day(add_months(month, 1))
    last_day = add_months(month, 1) - timedelta(days=1)
    events: dict[int, list[engine.EventRecord]] = {pid: [] for pid in person_ids}
    for pid, kind, at, payload in session.execute(
        select(
            SupervisionEvent.person_id,
            SupervisionEvent.type,
            SupervisionEvent.occurred_at,
            SupervisionEvent.payload,
        )
        .where(
            SupervisionEvent.person_id.in_(person_ids),
            SupervisionEvent.type.in_((*ASSESSED_EVENTS, "report")),
            SupervisionEvent.occurred_at >= start,
            SupervisionEvent.occurred_at < end,
        )
        .order_by(SupervisionEvent.occurred_at)
    ):
        if kind == "report":
            if (payload or {}).get("late"):
                events[pid].append(engine.EventRecord("late_report", business_date(at)))
            continue
        events[pid].append(engine.EventRecord(kind, business_date(at)))
    outcomes: dict[int, list[engine.ObligationOutcome]] = {pid: [] for pid in person_ids}
    for pid, kind, status, required, done in session.execute(
        select(
            Obligation.person_id,
            Obligation.kind,
            Obligation.status,
            Obligation.hours_required,
            Obligation.hours_done,
        )
        .where(
            Obligation.person_id.in_(person_ids),
            Obligation.due_on >= month,
            Obligation.due_on <= last_day,
        )
        .order_by(Obligation.due_on, Obligation.id)
    ):
        outcomes[pid].append(engine.ObligationOutcome(kind, status, required or 0.0, done or 0.0))
    return {
        pid: engine.MonthInputs(
            month=month, obligations=tuple(outcomes[pid]), events=tuple(events[pid])
        )
        for pid in person_ids
    }


@dataclass
class AssessmentRun:
    month: date
    assessed: int = 0
    already_assessed: int = 0
    stricter: int = 0
    proposals: int = 0
    errors: dict[int, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "assessed": self.assessed,
            "already_assessed": self.already_assessed,
            "stricter": self.stricter,
            "proposals": self.proposals,
            "errors": len(self.errors),
        }


def parse_month(text: str) -> date:
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise ValueError(_("month must look like 2026-10, got {text}", text=repr(text))) from exc


def run_monthly_assessment(
    session: Session,
    *,
    month: date,
    now: datetime,
    inputs_provider: InputsProvider = db_month_inputs,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> AssessmentRun:
    """Assess ``month`` (its first day) for every supervised person; commit per batch."""
    month = month.replace(day=1)
    month_end = start_of_business_day(add_months(month, 1))
    if month_end > now:
        raise ValueError(_("{month} has not ended yet", month=f"{month:%Y-%m}"))
    # Looser moves are judged as on the first day after the month: re-runs judge alike.
    judged_on = add_months(month, 1)
    run = AssessmentRun(month=month)
    # Judge the month on up-to-date obligations: whatever is overdue is marked missed first.
    obligations.sweep(session, today=business_date(now), now=now)
    session.commit()
    ids = list(
        session.scalars(
            select(Person.id)
            .where(
                Person.status.in_(SUPERVISED_STATUSES),
                Person.grade.is_not(None),
                Person.term_start < add_months(month, 1),
            )
            .order_by(Person.id)
        )
    )
    version = service.rules_version(session, now)
    rules = grading_rules.current()
    for offset in range(0, len(ids), batch_size):
        batch_ids = ids[offset : offset + batch_size]
        done = set(
            session.scalars(
                select(MonthlyAssessment.person_id).where(
                    MonthlyAssessment.person_id.in_(batch_ids), MonthlyAssessment.month == month
                )
            )
        )
        persons = list(
            session.scalars(select(Person).where(Person.id.in_(batch_ids)).order_by(Person.id))
        )
        todo = [p for p in persons if p.id not in done]
        run.already_assessed += len(done)
        inputs = inputs_provider(session, [p.id for p in todo], month)
        rows = []
        for person in todo:
            try:
                result = engine.assess_month(
                    inputs.get(person.id, engine.MonthInputs(month)), rules
                )
            except Exception as exc:  # one person's bad data must not stop the run
                run.errors[person.id] = type(exc).__name__
                log.warning("assessment of person %s failed: %s", person.id, type(exc).__name__)
                continue
            rows.append(
                {
                    "person_id": person.id,
                    "month": month,
                    "grade": person.grade,
                    "score": result.score,
                    "rating": result.rating,
                    "evidence": result.evidence,
                    "deductions": [
                        {
                            "rule_id": d.rule_id,
                            "text_zh": d.text_zh,
                            "count": d.count,
                            "points": d.points,
                        }
                        for d in result.deductions
                    ],
                    "reasons": service.reasons_json(result.reasons),
                    "inputs": result.inputs,
                    "rules_version": version,
                    "computed_at": now,
                }
            )
        if rows:
            stmt = insert_for(session)(MonthlyAssessment).values(rows)
            session.execute(stmt.on_conflict_do_nothing(index_elements=["person_id", "month"]))
            run.assessed += len(rows)
        session.flush()
        run.stricter += _apply_sanctions(session, persons, month, now)
        run.proposals += _raise_proposals(session, persons, month, judged_on, now)
        session.commit()
        if progress is not None:
            progress(len(batch_ids))
    return run


def _apply_sanctions(session: Session, persons: list[Person], month: date, now: datetime) -> int:
    """Safety net: the month's sanctions force their stricter grade if that did not happen when
    they were recorded. Idempotent: each event is a decision's basis at most once."""
    by_id = {p.id: p for p in persons}
    sanctions = session.execute(
        select(
            SupervisionEvent.id,
            SupervisionEvent.person_id,
            SupervisionEvent.type,
            SupervisionEvent.occurred_at,
        )
        .where(
            SupervisionEvent.person_id.in_(list(by_id)),
            SupervisionEvent.type.in_(SANCTIONS),
            SupervisionEvent.occurred_at >= start_of_business_day(month),
            SupervisionEvent.occurred_at < start_of_business_day(add_months(month, 1)),
        )
        .order_by(SupervisionEvent.occurred_at, SupervisionEvent.id)
    ).all()
    applied = 0
    for event_id, person_id, kind, occurred_at in sanctions:
        decision = service.apply_event_kind(
            session,
            actor=SYSTEM,
            person=by_id[person_id],
            kind=kind,
            basis=f"event:{event_id}",
            now=now,
            occurred_at=occurred_at,
        )
        applied += decision is not None
    return applied


def _raise_proposals(
    session: Session, persons: list[Person], month: date, judged_on: date, now: datetime
) -> int:
    rules = grading_rules.current()
    basis = f"assessment:{month:%Y-%m}"
    candidates = [
        p
        for p in persons
        if p.status in SUPERVISED_STATUSES
        and p.grade is not None
        and rules.grade(p.grade).rank + 1 < len(rules.grades)
    ]
    if not candidates:
        return 0
    ids = [p.id for p in candidates]
    blocked = set(
        session.scalars(
            select(GradeDecision.person_id).where(
                GradeDecision.person_id.in_(ids),
                (GradeDecision.status == "proposed") | (GradeDecision.basis == basis),
            )
        )
    )
    candidates = [p for p in candidates if p.id not in blocked]
    made = 0
    for person_id, history in service.histories(session, candidates, judged_on).items():
        evaluation = engine.evaluate_looser(history, rules, judged_on)
        if evaluation.eligible:
            person = next(p for p in candidates if p.id == person_id)
            service.propose_looser(
                session, actor=SYSTEM, person=person, evaluation=evaluation, basis=basis, now=now
            )
            made += 1
    return made


def previous_month(now: datetime) -> date:
    """The Asia/Shanghai month that ended most recently."""
    return add_months(business_date(now).replace(day=1), -1)
