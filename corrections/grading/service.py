"""Grade decisions and monthly assessments. The engine decides what the rules say; this module
stores it, enforces who may do what, and keeps ``persons.grade`` equal to the latest effective
decision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from corrections.core.auth import Actor, Role
from corrections.core.clock import add_months, business_date, now_utc
from corrections.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from corrections.core.i18n import ZH, Message, _, bilingual
from corrections.core.ruleset_store import ensure_recorded
from corrections.grading import engine
from corrections.grading import rules as grading_rules
from corrections.grading.models import GradeDecision, MonthlyAssessment
from corrections.persons import listing, privacy
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.persons.scope import (
    audit_person,
    get_record_of,
    get_scoped,
    read_scoped,
)
from corrections.procedures import service as procedures
from corrections.supervision import obligations
from corrections.supervision.models import SupervisionEvent
from corrections.supervision.rules import SANCTIONS


def _rules() -> grading_rules.GradingRules:
    return grading_rules.current()


# A decision's status in Chinese, for the messages that name it.
DECISION_STATUS_ZH = {
    "proposed": "待审批",
    "approved": "已批准",
    "rejected": "不予批准",
    "effective": "已生效",
}


def _decision_status(status: str) -> Message:
    return bilingual(status, DECISION_STATUS_ZH.get(status, status))


def rules_version(session: Session, now: datetime) -> str:
    return "+".join(ensure_recorded(session, name, now) for name in ("grading", "assessment"))


def reasons_json(reasons: tuple[engine.Reason, ...] | list[engine.Reason]) -> list[dict[str, str]]:
    return [{"rule_id": r.rule_id, "text_zh": r.text_zh} for r in reasons]


def _make_effective(
    session: Session, person: Person, decision: GradeDecision, now: datetime
) -> None:
    """The decision takes effect: the person's grade, and what is due from them, change now."""
    decision.status = "effective"
    decision.effective_at = now
    old_grade = person.grade
    changed = old_grade != decision.to_grade
    person.grade = decision.to_grade
    person.grade_since = now
    if changed and person.id is not None:
        obligations.replan_for_grade(session, person, business_date(now), now)
        # The correction plan is adjusted to the new grade (社区矫正法 24): its review is due.
        procedures.on_grade_change(session, person, old_grade, decision.to_grade, now)


def _record(
    session: Session,
    *,
    person: Person,
    actor: Actor,
    kind: str,
    to_grade: str,
    reasons: list[dict[str, str]],
    inputs: dict[str, Any],
    now: datetime,
    effective: bool,
    basis: str | None = None,
    note: str | None = None,
) -> GradeDecision:
    decision = GradeDecision(
        person_id=person.id,
        kind=kind,
        status="proposed",
        from_grade=person.grade,
        to_grade=to_grade,
        rules_version=rules_version(session, now),
        inputs=inputs,
        reasons=reasons,
        note=note,
        basis=basis,
        proposed_by_id=actor.user_id,
        proposed_by=actor.username,
        proposed_at=now,
    )
    if effective:
        decision.decided_by_id, decision.decided_by, decision.decided_at = (
            actor.user_id,
            actor.username,
            now,
        )
        _make_effective(session, person, decision, now)
    session.add(decision)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        f"grade.{kind}",
        now=now,
        detail={
            "decision_id": decision.id,
            "from": decision.from_grade,
            "to": to_grade,
            "status": decision.status,
        },
    )
    return decision


# --- automatic decisions -----------------------------------------------------------------


def apply_intake(session: Session, *, actor: Actor, person: Person, now: datetime) -> GradeDecision:
    """Set a new intake's grade through the engine (first months in 严管).

    Called before or after the person's first flush; before, the grade goes into the INSERT
    and the new record keeps version 1.
    """
    result = engine.initial_grade(_facts(person), _rules())
    if person.id is None:
        person.grade, person.grade_since = result.grade, now
        session.flush()
    return _record(
        session,
        person=person,
        actor=actor,
        kind="intake",
        to_grade=result.grade,
        reasons=reasons_json(result.reasons),
        inputs=result.inputs,
        now=now,
        effective=True,
        basis="intake",
    )


# The reason an imported grade gives: it was decided elsewhere, before this system.
IMPORTED_REASON = {
    "rule_id": "imported",
    "text_zh": "沿用原系统的现等级（名单导入）",
}


def intake_rule_applies(reported_on: date | None, today: date) -> bool:
    """Whether the intake rules still grade a person who reported on ``reported_on`` (None:
    awaiting report), for a caseload row that carries no grade.

    Graded management (实施办法 21; 三级五等, rules/grading.yaml ``intake``): the intake rules
    grade a person for the first ``initial_period_months`` (2) after intake. A person awaiting
    report, or who reported within that period, is graded by them exactly as an intake through
    the API is (:func:`intake_grade_of`); a person who reported earlier is past it, and no rule
    gives their grade today: the file must say what it is (现管理等级), since starting them in
    严管 on the import day would be a grade nobody decided."""
    if reported_on is None:
        return True
    return add_months(reported_on, _rules().intake_period_months) > today


def intake_grade_of(facts: Mapping[str, Any], *, juvenile: bool) -> engine.GradeResult:
    """The grade the intake rules give a person with these facts (an intake's, a caseload
    row's): what :func:`apply_intake` and :func:`first_grade_of_import` decide."""
    person = engine.PersonFacts(
        category=facts["category"],
        has_guarantor=bool(facts.get("has_guarantor")),
        juvenile=juvenile,
        intake_risk=facts.get("intake_risk"),
    )
    return engine.initial_grade(person, _rules())


def first_grade_of_import(
    person: Person,
    *,
    grade: str | None,
    since: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """An imported person's first grade, set on the record before its INSERT: the grade the
    file carries over (kind ``imported``, effective since ``since``), or without one the
    intake grade the engine gives (kind ``intake``, as :func:`apply_intake`; effective since
    ``since``, the day they reported, so their intake period counts from it, else from the
    import: :func:`intake_rule_applies`). Returns the decision's values
    (:func:`first_grade_rows`)."""
    if grade is None:
        result = engine.initial_grade(_facts(person), _rules())
        effective = since or now
        person.grade, person.grade_since = result.grade, effective
        return {
            "kind": "intake",
            "to_grade": result.grade,
            "reasons": reasons_json(result.reasons),
            "inputs": {**result.inputs, "since": effective.isoformat()},
            "basis": "intake",
            "effective_at": effective,
        }
    _rules().grade(grade)  # a KeyError for a grade the rules do not know: checked before
    person.grade, person.grade_since = grade, since or now
    return {
        "kind": "imported",
        "to_grade": grade,
        "reasons": [dict(IMPORTED_REASON)],
        "inputs": {"grade": grade, "grade_since": (since or now).isoformat()},
        "basis": "imported",
        "effective_at": since or now,
    }


def first_grade_rows(
    session: Session,
    *,
    actor: Actor,
    decisions: list[tuple[int, dict[str, Any]]],
    source: dict[str, Any],
    now: datetime,
) -> list[dict[str, Any]]:
    """The ``grade_decisions`` rows of imported persons' first grades, (person id, values of
    :func:`first_grade_of_import`), for the import to insert in bulk; ``source`` (the file's
    sha256 and the import's id) goes into every decision's inputs. Audited by the import's
    one row, which names every person."""
    version = rules_version(session, now)
    return [
        {
            "person_id": person_id,
            "version": 1,
            "status": "effective",
            "from_grade": None,
            "rules_version": version,
            "note": None,
            "proposed_by_id": actor.user_id,
            "proposed_by": actor.username,
            "proposed_at": now,
            "decided_by_id": actor.user_id,
            "decided_by": actor.username,
            "decided_at": now,
            "decision_note": None,
            **values,
            "inputs": {**values["inputs"], **source},
        }
        for person_id, values in decisions
    ]


def _facts(person: Person) -> engine.PersonFacts:
    return engine.PersonFacts(
        category=person.category,
        has_guarantor=person.has_guarantor,
        juvenile=person.juvenile,
        intake_risk=person.intake_risk,
    )


def apply_event_kind(
    session: Session,
    *,
    actor: Actor,
    person: Person,
    kind: str,
    basis: str,
    now: datetime,
    occurred_at: datetime | None = None,
) -> GradeDecision | None:
    """Apply the stricter move an event forces (at once; the district is told through the
    decision queue). Idempotent by ``basis``. An open looser proposal is void after it."""
    if person.grade is None or person.status not in OPEN_STATUSES:
        return None
    result = engine.stricter_for(person.grade, kind, _rules())
    if result is None:
        return None
    if session.scalar(
        select(GradeDecision.id).where(
            GradeDecision.person_id == person.id, GradeDecision.basis == basis
        )
    ):
        return None
    _void_open_proposal(
        session, person=person, actor=actor, now=now, note=f"因{kind}从严调整，放宽建议作废"
    )
    inputs = dict(result.inputs)
    if occurred_at is not None:
        inputs["occurred_at"] = occurred_at.isoformat()
    return _record(
        session,
        person=person,
        actor=actor,
        kind="automatic_stricter",
        to_grade=result.grade,
        reasons=reasons_json(result.reasons),
        inputs=inputs,
        now=now,
        effective=True,
        basis=basis,
    )


def on_event(
    session: Session, *, actor: Actor, person: Person, event: SupervisionEvent, now: datetime
) -> GradeDecision | None:
    """Grading's reaction to a recorded supervision event."""
    return apply_event_kind(
        session,
        actor=actor,
        person=person,
        kind=event.type,
        basis=f"event:{event.id}",
        now=now,
        occurred_at=event.occurred_at,
    )


def _void_open_proposal(
    session: Session, *, person: Person, actor: Actor, now: datetime, note: str
) -> None:
    proposal = session.scalar(
        select(GradeDecision).where(
            GradeDecision.person_id == person.id, GradeDecision.status == "proposed"
        )
    )
    if proposal is not None:
        proposal.status = "rejected"
        proposal.decided_by_id, proposal.decided_by = actor.user_id, actor.username
        proposal.decided_at, proposal.decision_note = now, note


def propose_looser(
    session: Session,
    *,
    actor: Actor,
    person: Person,
    evaluation: engine.LooserEvaluation,
    basis: str | None,
    now: datetime,
    kind: str = "proposed_looser",
    note: str | None = None,
) -> GradeDecision:
    return _record(
        session,
        person=person,
        actor=actor,
        kind=kind,
        to_grade=evaluation.to_grade,
        reasons=reasons_json(evaluation.reasons),
        inputs=evaluation.inputs,
        now=now,
        effective=False,
        basis=basis,
        note=note,
    )


# --- history from the database -----------------------------------------------------------


def histories(
    session: Session, persons: list[Person], today: date, months_back: int = 3
) -> dict[int, engine.GradeHistory]:
    """Build the engine's view of each person's history with a few set-based queries."""
    if not persons:
        return {}
    ids = [p.id for p in persons]
    rules = _rules()
    decisions: dict[int, list[GradeDecision]] = {i: [] for i in ids}
    for d in session.scalars(
        select(GradeDecision)
        .where(GradeDecision.person_id.in_(ids), GradeDecision.status == "effective")
        .order_by(GradeDecision.person_id, GradeDecision.effective_at, GradeDecision.id)
    ):
        decisions[d.person_id].append(d)
    first_month = today.replace(day=1)
    from corrections.core.clock import add_months

    since_month = add_months(
        first_month, -(rules.looser["good_assessments_required"] + months_back)
    )
    assessments: dict[int, list[engine.AssessmentSummary]] = {i: [] for i in ids}
    for a in session.scalars(
        select(MonthlyAssessment)
        .where(MonthlyAssessment.person_id.in_(ids), MonthlyAssessment.month >= since_month)
        .order_by(MonthlyAssessment.month)
    ):
        assessments[a.person_id].append(
            engine.AssessmentSummary(
                month=a.month, score=a.score, rating=a.rating, complete=a.evidence > 0
            )
        )
    sanctions: dict[int, list[engine.EventRecord]] = {i: [] for i in ids}
    commendations: dict[int, list[engine.EventRecord]] = {i: [] for i in ids}
    for pid, kind, at in session.execute(
        select(SupervisionEvent.person_id, SupervisionEvent.type, SupervisionEvent.occurred_at)
        .where(
            SupervisionEvent.person_id.in_(ids),
            SupervisionEvent.type.in_((*SANCTIONS, "commendation")),
        )
        .order_by(SupervisionEvent.occurred_at)
    ):
        record = engine.EventRecord(kind, business_date(at))
        (commendations if kind == "commendation" else sanctions)[pid].append(record)
    out: dict[int, engine.GradeHistory] = {}
    for person in persons:
        ds = decisions[person.id]
        intake_on = business_date(ds[0].effective_at) if ds else person.term_start
        out_since: date | None = None
        for d in ds:
            level = rules.grade(d.to_grade).level
            if level == "strict":
                out_since = None
            elif out_since is None:
                out_since = business_date(d.effective_at)
        since = business_date(person.grade_since) if person.grade_since else intake_on
        out[person.id] = engine.GradeHistory(
            current_grade=person.grade,
            grade_since=since,
            intake_date=intake_on,
            out_of_strict_level_since=out_since,
            assessments=tuple(assessments[person.id]),
            sanctions=tuple(sanctions[person.id]),
            commendations=tuple(commendations[person.id]),
            risk_band=None,
        )
    return out


# --- decisions by people -----------------------------------------------------------------


def decide_manual(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    to_grade: str,
    reason: str,
    now: datetime | None = None,
) -> GradeDecision:
    """A person-made grade decision. Stricter (or a review keeping the grade) takes effect at
    once; looser is a proposal of one step, only when the rules allow it, for the district."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    rules = _rules()
    if person.status not in OPEN_STATUSES or person.grade is None:
        raise Conflict(_("The person is not under supervision; their grade cannot change."))
    if to_grade not in rules.grade_ids():
        raise RuleViolation(
            _("must be one of: {choices}", choices=", ".join(rules.grade_ids())),
            field="to_grade",
        )
    current, target = rules.grade(person.grade), rules.grade(to_grade)
    if target.rank <= current.rank:
        reasons = [
            {
                "rule_id": "manual_stricter" if target.rank < current.rank else "manual_review",
                "text_zh": reason,
            }
        ]
        if target.rank < current.rank:
            _void_open_proposal(
                session, person=person, actor=actor, now=now, note="人工从严调整，放宽建议作废"
            )
        return _record(
            session,
            person=person,
            actor=actor,
            kind="manual",
            to_grade=to_grade,
            reasons=reasons,
            inputs={"from_grade": current.id},
            now=now,
            effective=True,
            note=reason,
        )
    if target.rank != current.rank + 1:
        step = rules.grades[current.rank + 1]
        raise RuleViolation(
            _(
                "a looser move goes one grade at a time: the next is {grade}",
                grade=bilingual(step.id, step.label_zh),
            ),
            field="to_grade",
        )
    if session.scalar(
        select(GradeDecision.id).where(
            GradeDecision.person_id == person.id, GradeDecision.status == "proposed"
        )
    ):
        raise Conflict(_("The person already has a grade proposal awaiting approval."))
    evaluation = engine.evaluate_looser(
        histories(session, [person], business_date(now))[person.id], rules, business_date(now)
    )
    if not evaluation.eligible:
        raise RuleViolation(
            _(
                "The rules do not allow a looser grade yet: {unmet}",
                unmet="; ".join(f"{r.rule_id} ({r.text_zh})" for r in evaluation.unmet),
            ),
            errors={"to_grade": [f"{r.rule_id}: {r.text_zh}" for r in evaluation.unmet]},
        )
    return propose_looser(
        session,
        actor=actor,
        person=person,
        evaluation=evaluation,
        basis=None,
        now=now,
        kind="manual",
        note=reason,
    )


def _decision_for_approval(
    session: Session, actor: Actor, person_id: int, decision_id: int
) -> tuple[Person, GradeDecision]:
    person, decision = get_record_of(
        session, actor, person_id, GradeDecision, decision_id, _("grade decision"), lock=True
    )
    approval = _rules().looser["approval"]
    allowed = (
        actor.role == Role.CITY
        if approval == "city"
        else actor.role == Role.COMMANDER and actor.unit_id == person.district_id
    )
    if not allowed:
        raise Forbidden(
            _("Only city staff decide on this proposal.")
            if approval == "city"
            else _("Only a commander of the person's district decides on this proposal.")
        )
    if decision.status != "proposed":
        raise Conflict(
            _(
                "The decision is {status}, not awaiting approval.",
                status=_decision_status(decision.status),
            )
        )
    if decision.proposed_by_id is not None and decision.proposed_by_id == actor.user_id:
        raise Forbidden(_("Nobody approves their own proposal."))
    return person, decision


def approve(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    decision_id: int,
    note: str | None = None,
    now: datetime | None = None,
) -> GradeDecision:
    """Approve a looser proposal; it takes effect at once."""
    now = now or now_utc()
    person, decision = _decision_for_approval(session, actor, person_id, decision_id)
    if person.grade != decision.from_grade:
        raise Conflict(_("The person's grade changed since the proposal; it no longer applies."))
    decision.status = "approved"
    # Claim the proposal first: of two simultaneous decisions, the second stops here (409),
    # before anything else about the person changes.
    _close_proposal(session, actor, person, decision, note, now, "grade.approve")
    _make_effective(session, person, decision, now)
    session.flush()
    return decision


def reject(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    decision_id: int,
    note: str,
    now: datetime | None = None,
) -> GradeDecision:
    """Reject a looser proposal, with the reason."""
    now = now or now_utc()
    person, decision = _decision_for_approval(session, actor, person_id, decision_id)
    decision.status = "rejected"
    return _close_proposal(session, actor, person, decision, note, now, "grade.reject")


def _close_proposal(
    session: Session,
    actor: Actor,
    person: Person,
    decision: GradeDecision,
    note: str | None,
    now: datetime,
    action: str,
) -> GradeDecision:
    """Record who decided on a proposal and when; a concurrent decision is a conflict."""
    decision.decided_by_id, decision.decided_by = actor.user_id, actor.username
    decision.decided_at, decision.decision_note = now, note
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(_("Someone else decided on this proposal at the same time.")) from exc
    detail = {"decision_id": decision.id, "to": decision.to_grade}
    audit_person(session, actor, person, action, now=now, detail=detail)
    return decision


# --- reads -------------------------------------------------------------------------------


def grade_view(
    session: Session, *, actor: Actor, person_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Current grade, level, requirements, since when and the next review date."""
    now = now or now_utc()
    person = read_scoped(session, actor, person_id, action="grade.read", now=now)
    rules = _rules()
    if person.grade is None:
        raise NotFound(_("The person has no grade yet."))
    grade = rules.grade(person.grade)
    last = session.scalar(
        select(func.max(GradeDecision.effective_at)).where(
            GradeDecision.person_id == person.id, GradeDecision.status == "effective"
        )
    )
    pending = session.scalar(
        select(GradeDecision).where(
            GradeDecision.person_id == person.id, GradeDecision.status == "proposed"
        )
    )
    req = grade.requirements
    review = engine.next_review_date(business_date(last or person.grade_since), rules)
    view = {
        "person_id": person.id,
        "grade": grade.id,
        "grade_label_zh": grade.label_zh,
        "level": grade.level,
        "level_label_zh": rules.levels[grade.level]["label_zh"],
        "since": person.grade_since,
        "next_review_date": review,
        "review_overdue": review < business_date(now),
        "rules_version": rules.combined_version,
        "requirements": {
            "report_interval_days": req.report_interval_days,
            "check_interval_days": req.check_interval_days,
            "visit_interval_days": req.visit_interval_days,
            "education_hours_per_month": req.education_hours_per_month,
            "service_hours_per_month": req.service_hours_per_month,
            "travel_approver": req.travel_approver,
            "travel_max_days": req.travel_max_days,
            "travel_conditions": list(req.travel_conditions),
        },
        "pending_proposal_id": pending.id if pending else None,
    }
    return privacy.present(session, actor, person, "grade", view)


def history(session: Session, *, actor: Actor, person_id: int) -> list[GradeDecision]:
    person = read_scoped(session, actor, person_id, action="grade.history")
    return list(
        session.scalars(
            select(GradeDecision)
            .where(GradeDecision.person_id == person.id)
            .order_by(GradeDecision.proposed_at, GradeDecision.id)
        )
    )


def queue(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    kind: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Grade decisions of persons in the caller's scope (the approval queue with
    ``status=proposed``), oldest first, each with its person as ``actor`` may see them. The
    response audits the persons it shows."""
    stmt = listing.scoped(actor, select(GradeDecision), GradeDecision.person_id)
    if status is not None:
        stmt = stmt.where(GradeDecision.status == status)
    if kind is not None:
        stmt = stmt.where(GradeDecision.kind == kind)
    rows, total = listing.page(
        session, stmt, GradeDecision.proposed_at, GradeDecision.id, page=page, page_size=page_size
    )
    rules = _rules()
    return listing.present(
        session,
        actor,
        "grade_decision",
        [(person, _queued(decision, person, rules)) for decision, person in rows],
    ), total


# What a decision's basis names ("event:42", "incident:7"; "assessment:2026-10" is a month).
_BASIS_RECORDS = ("event", "incident")


def _queued(
    decision: GradeDecision, person: listing.ListedPerson, rules: grading_rules.GradingRules
) -> dict[str, Any]:
    kind, _sep, ref = (decision.basis or "").partition(":")
    evidence = [{"type": kind, "id": int(ref)}] if kind in _BASIS_RECORDS and ref.isdigit() else []
    return {
        **_decision_fields(decision, rules),
        "office_code": person.office_code,
        **listing.queue_fields(
            "grade_decision",
            proposed_zh=_(
                "From {from_grade} to {to_grade}",
                from_grade=_grade_label(rules, decision.from_grade) or "—",
                to_grade=_grade_label(rules, decision.to_grade),
            ).render(ZH),
            level=rules.looser["approval"] if decision.status == "proposed" else None,
            proposed_by=decision.proposed_by,
            proposed_at=decision.proposed_at,
            rules=[
                {
                    "rule_id": r["rule_id"],
                    # A manual decision's reason is what its officer typed: not a rule's label.
                    "label_zh": None
                    if r["rule_id"] in privacy.TYPED_REASON_RULES
                    else r.get("text_zh"),
                    "article": None,
                }
                for r in decision.reasons or ()
            ],
        ),
        "evidence_refs": evidence,
    }


def assessments(
    session: Session, *, actor: Actor, person_id: int
) -> list[MonthlyAssessment | dict[str, Any]]:
    """Monthly assessments, newest first (rule texts only: nothing to mask, but a sealed
    record's are stubs)."""
    person = read_scoped(session, actor, person_id, action="assessment.read")
    seen = privacy.shown(session, actor, person)
    rows = list(
        session.scalars(
            select(MonthlyAssessment)
            .where(MonthlyAssessment.person_id == person.id)
            .order_by(MonthlyAssessment.month.desc())
        )
    )
    if seen is privacy.Visibility.SEALED:
        return [privacy.redact("assessment", {"id": a.id, "month": a.month}, seen) for a in rows]
    return rows


def decision_view(
    session: Session, actor: Actor, decision: GradeDecision, person: Person | None = None
) -> dict[str, Any]:
    """A grade decision as ``actor`` may see it (notes and a manual reason are typed text);
    ``person`` given: with the person's office code."""
    view = _decision_fields(decision, _rules())
    if person is not None:
        view["office_code"] = person.office.code
    subject = person or session.get(Person, decision.person_id)
    return privacy.present(session, actor, subject, "grade_decision", view)


def _grade_label(rules: grading_rules.GradingRules, grade_id: str | None) -> str | None:
    return rules.grade(grade_id).label_zh if grade_id else None


def _decision_fields(decision: GradeDecision, rules: grading_rules.GradingRules) -> dict[str, Any]:
    view = {
        c: getattr(decision, c)
        for c in (
            "id",
            "person_id",
            "kind",
            "status",
            "from_grade",
            "to_grade",
            "rules_version",
            "inputs",
            "reasons",
            "note",
            "basis",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "effective_at",
        )
    }
    view["from_grade_label_zh"] = _grade_label(rules, decision.from_grade)
    view["to_grade_label_zh"] = _grade_label(rules, decision.to_grade)
    view["rule_ids"] = [r["rule_id"] for r in decision.reasons]
    return view
