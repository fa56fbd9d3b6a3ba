"""Use cases of the intake and discharge procedures: announcements (入矫/解矫宣告), the correction
team (矫正小组), the correction plan (矫正方案), the investigation assessment (调查评估) and the
exit ban (不准出境), and the per-person checklist over them.

The person's own judicial office records them; the district and the city read within their
scope. Scope is enforced in every query (another office's person is a 404), every write is
audited, and every record that can be corrected carries a version checked against If-Match.
Other domains call :func:`on_grade_change` (grading) and :func:`on_term_end` (the end of a
term); they change state under the system's name and audit it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from corrections.core.auth import SYSTEM, Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RuleViolation,
)
from corrections.core.i18n import Message, _, bilingual
from corrections.core.ruleset_store import ensure_recorded
from corrections.persons.models import OPEN_STATUSES, Person
from corrections.persons.scope import (
    actor_level,
    audit_person,
    get_record_of,
    get_scoped,
    read_scoped,
)
from corrections.procedures import rules as procedure_rules
from corrections.procedures.models import (
    Announcement,
    CorrectionPlan,
    ExitBan,
    InvestigationAssessment,
    TeamMember,
)
from corrections.procedures.rules import ProcedureRules
from corrections.supervision import rules as supervision_rules
from corrections.supervision.common import status_text
from corrections.supervision.models import TermEnd


def _rules() -> ProcedureRules:
    return procedure_rules.current()


def _owned(session: Session, actor: Actor, person_id: int) -> Person:
    """The person, if ``actor`` is of their judicial office (who records procedures), under
    the person's row lock (every caller then reads their records and writes)."""
    person = get_scoped(session, actor, person_id, lock=True)
    if actor_level(actor, person) != "office":
        raise Forbidden(_("Only the person's judicial office records their procedures."))
    return person


def _require_open(person: Person, field: str) -> None:
    if person.status not in OPEN_STATUSES:
        raise Conflict(
            _("The person's correction has ended ({status}).", status=status_text(person.status)),
            errors={field: [_person_status(person)]},
        )


def _person_status(person: Person) -> Message:
    return _("the person's status is {status}", status=status_text(person.status))


def _not_future(value: date, today: date, field: str) -> None:
    if value > today:
        raise RuleViolation(_("must not be in the future"), field=field)


def _future_tolerance() -> timedelta:
    return supervision_rules.current().future_tolerance


# --- versions (ETag / If-Match) ------------------------------------------------------------


def tag(record: Any) -> str:
    """The version a client sends back in If-Match (unquoted). A plan's names its number as
    well: each new version of a plan starts counting its own changes again."""
    if isinstance(record, CorrectionPlan):
        return f"{record.number}.{record.version}"
    return str(record.version)


def _check_tag(record: Any, expected: str | None, what: Message) -> None:
    if expected is None:
        raise PreconditionRequired(
            _("Send If-Match with the ETag of the {what} you read.", what=what)
        )
    if tag(record) != expected:
        # Names nothing of the record: a 412 tells only that it changed.
        raise PreconditionFailed(
            _("The {what} has changed since you read it; read it again.", what=what)
        )


def _changed(record: Any, changes: dict[str, Any]) -> list[str]:
    changed = sorted(k for k, v in changes.items() if getattr(record, k) != v)
    for key in changed:
        setattr(record, key, changes[key])
    return changed


# --- announcements (入矫宣告 / 解矫宣告) -----------------------------------------------------


def list_announcements(
    session: Session, *, actor: Actor, person_id: int
) -> tuple[Person, list[Announcement]]:
    """The person's announcements (intake first)."""
    person = read_scoped(session, actor, person_id, action="procedures.announcements")
    rows = session.scalars(
        select(Announcement).where(Announcement.person_id == person.id).order_by(Announcement.id)
    )
    return person, sorted(rows, key=lambda a: procedure_rules.ANNOUNCEMENT_KINDS.index(a.kind))


def _check_announcement(
    session: Session, person: Person, kind: str, held_at: datetime, now: datetime
) -> None:
    if kind == "discharge":
        if person.status != "discharged":
            raise Conflict(
                _(
                    "A discharge announcement follows the discharge (解除矫正): the person's "
                    "status is {status}.",
                    status=status_text(person.status),
                ),
                errors={
                    "kind": [
                        _(
                            "the person is not discharged (status {status})",
                            status=status_text(person.status),
                        )
                    ]
                },
            )
        # The day the correction ended: the term's end, or earlier for a pardon (赦免).
        ended = session.scalar(select(TermEnd.ended_on).where(TermEnd.person_id == person.id))
        if business_date(held_at) < (ended or person.term_end):
            raise RuleViolation(
                _("the correction ended on {day}", day=ended or person.term_end), field="held_at"
            )
    else:
        _require_open(person, "kind")
        if business_date(held_at) < person.judgment_effective_date:
            raise RuleViolation(
                _("the judgment took effect on {day}", day=person.judgment_effective_date),
                field="held_at",
            )
    if held_at > now + _future_tolerance():
        raise RuleViolation(_("must not be in the future"), field="held_at")


def record_announcement(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> Announcement:
    """Record the intake announcement (社区矫正法 22) or, once the person is discharged, the
    discharge announcement (实施办法 54, unverified: the Law's Art. 44 gives only the
    certificate); at most one of each per person."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    kind = data["kind"]
    _check_announcement(session, person, kind, data["held_at"], now)
    if session.scalar(
        select(Announcement.id).where(
            Announcement.person_id == person.id, Announcement.kind == kind
        )
    ):
        label = bilingual(kind, _rules().announcements[kind]["label_zh"])
        raise Conflict(
            _(
                "The person's {kind} announcement is already recorded; correct it instead.",
                kind=label,
            ),
            errors={"kind": [_("a {kind} announcement is already recorded", kind=label)]},
        )
    row = Announcement(
        person_id=person.id,
        kind=kind,
        held_at=data["held_at"].astimezone(UTC),
        place=data["place"],
        presided_by=data["presided_by"],
        attendees=data["attendees"],
        notes=data.get("notes"),
        recorded_by_id=actor.user_id,
        recorded_by=actor.username,
        recorded_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.announcement.record",
        now=now,
        detail={"announcement_id": row.id, "kind": kind},
    )
    return row


def update_announcement(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    announcement_id: int,
    expected: str | None,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> Announcement:
    """Correct an announcement; ``expected`` is the version the client read (412 if stale)."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    _person, row = get_record_of(
        session, actor, person.id, Announcement, announcement_id, _("announcement")
    )
    _check_tag(row, expected, _("announcement"))
    if "held_at" in changes:
        changes = changes | {"held_at": changes["held_at"].astimezone(UTC)}
    _check_announcement(session, person, row.kind, changes.get("held_at", row.held_at), now)
    changed = _changed(row, changes)
    if changed:
        row.updated_at = now
        session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.announcement.update",
        now=now,
        detail={"announcement_id": row.id, "fields": changed},
    )
    return row


# --- the correction team (矫正小组) ---------------------------------------------------------


def team_members(session: Session, person: Person) -> list[TeamMember]:
    """The person's team: the members not removed, in the order they were added."""
    return list(
        session.scalars(
            select(TeamMember)
            .where(TeamMember.person_id == person.id, TeamMember.removed_at.is_(None))
            .order_by(TeamMember.id)
        )
    )


def team_requirements(
    person: Person, members: list[TeamMember]
) -> tuple[procedure_rules.RequirementResult, ...]:
    """Which requirements apply to the person's team and whether each is met."""
    return procedure_rules.team_requirements(
        _rules(),
        gender=person.gender,
        juvenile=person.juvenile,
        members=tuple(procedure_rules.Member(m.role, m.gender) for m in members),
    )


def get_team(session: Session, *, actor: Actor, person_id: int) -> tuple[Person, list[TeamMember]]:
    """The person's correction team: its members (removed ones left out)."""
    person = read_scoped(session, actor, person_id, action="procedures.team")
    return person, team_members(session, person)


def add_member(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> TeamMember:
    """Add a member to the person's correction team (社区矫正法 25)."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    _require_open(person, "role")
    member = TeamMember(
        person_id=person.id,
        role=data["role"],
        name=data["name"],
        phone=data.get("phone"),
        gender=data["gender"],
        organisation=data.get("organisation"),
        added_by=actor.username,
        added_at=now,
        updated_at=now,
    )
    session.add(member)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.team.add",
        now=now,
        detail={"member_id": member.id, "role": member.role},
    )
    return member


def _member(session: Session, actor: Actor, person_id: int, member_id: int):
    person = _owned(session, actor, person_id)
    _person, member = get_record_of(
        session, actor, person.id, TeamMember, member_id, _("team member")
    )
    if member.removed_at is not None:
        raise NotFound(_("No such team member."))
    _require_open(person, "member_id")
    return person, member


def update_member(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    member_id: int,
    expected: str | None,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> TeamMember:
    """Correct a team member's details (412 if changed since read)."""
    now = now or now_utc()
    person, member = _member(session, actor, person_id, member_id)
    _check_tag(member, expected, _("team member"))
    changed = _changed(member, changes)
    if changed:
        member.updated_at = now
        session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.team.update",
        now=now,
        detail={"member_id": member.id, "fields": changed},
    )
    return member


def remove_member(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    member_id: int,
    expected: str | None,
    now: datetime | None = None,
) -> TeamMember:
    """Take a member off the team; the record stays, with when and by whom."""
    now = now or now_utc()
    person, member = _member(session, actor, person_id, member_id)
    _check_tag(member, expected, _("team member"))
    member.removed_at, member.removed_by, member.updated_at = now, actor.username, now
    session.flush()
    audit_person(
        session, actor, person, "procedures.team.remove", now=now, detail={"member_id": member.id}
    )
    return member


# --- the correction plan (矫正方案) ---------------------------------------------------------


def _current_plan(session: Session, person_id: int) -> CorrectionPlan | None:
    return session.scalar(
        select(CorrectionPlan).where(
            CorrectionPlan.person_id == person_id, CorrectionPlan.status == "current"
        )
    )


def plan_review(plan: CorrectionPlan, today: date) -> procedure_rules.Review:
    """Whether ``plan`` is due for review today, and why (a superseded plan never is)."""
    if plan.status != "current":
        return procedure_rules.Review(False)
    return procedure_rules.plan_review(
        next_review_on=plan.next_review_on,
        review_due_kind=plan.review_due_kind,
        review_due_since=plan.review_due_since,
        today=today,
    )


def list_plans(
    session: Session, *, actor: Actor, person_id: int
) -> tuple[Person, list[CorrectionPlan]]:
    """Every version of the person's plan, newest first."""
    person = read_scoped(session, actor, person_id, action="procedures.plans")
    rows = session.scalars(
        select(CorrectionPlan)
        .where(CorrectionPlan.person_id == person.id)
        .order_by(CorrectionPlan.number.desc())
    )
    return person, list(rows)


def current_plan(
    session: Session, *, actor: Actor, person_id: int
) -> tuple[Person, CorrectionPlan]:
    """The person's current plan (404 when none was made yet)."""
    person = read_scoped(session, actor, person_id, action="procedures.plan")
    plan = _current_plan(session, person.id)
    if plan is None:
        raise NotFound(_("The person has no correction plan yet."))
    return person, plan


def new_plan(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    expected: str | None,
    now: datetime | None = None,
) -> CorrectionPlan:
    """Make the first plan, or a new version that supersedes the current one (社区矫正法 24:
    the plan is adjusted to the person's conduct); a review is recorded this way too. Needs
    If-Match with the current plan's ETag when there is one."""
    now = now or now_utc()
    today = business_date(now)
    rules = _rules()
    person = _owned(session, actor, person_id)
    _require_open(person, "needs")
    latest = rules.default_review_on(today)
    review_on = data.get("next_review_on") or latest
    if review_on <= today:
        raise RuleViolation(_("must be after today"), field="next_review_on")
    if review_on > latest:
        raise RuleViolation(
            _(
                "a plan is reviewed within {months} months (by {day})",
                months=rules.review_months,
                day=latest,
            ),
            field="next_review_on",
        )
    current = _current_plan(session, person.id)
    if current is not None:
        _check_tag(current, expected, _("current plan"))
    elif expected is not None:
        raise PreconditionFailed(_("The person has no current plan; send no If-Match."))
    number = (
        session.scalar(
            select(func.max(CorrectionPlan.number)).where(CorrectionPlan.person_id == person.id)
        )
        or 0
    ) + 1
    if current is not None:
        # Superseded first: one current plan per person (a unique index holds it too).
        current.status, current.superseded_at = "superseded", now
        session.flush()
    plan = CorrectionPlan(
        person_id=person.id,
        number=number,
        status="current",
        needs=data["needs"],
        measures=data["measures"],
        change_note=data.get("change_note"),
        next_review_on=review_on,
        created_by_id=actor.user_id,
        created_by=actor.username,
        created_at=now,
    )
    session.add(plan)
    session.flush()
    if current is not None:
        current.superseded_by_id = plan.id
        session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.plan.new",
        now=now,
        detail={
            "plan_id": plan.id,
            "number": number,
            "supersedes": current.id if current is not None else None,
        },
    )
    return plan


def on_grade_change(
    session: Session, person: Person, old_grade: str | None, new_grade: str, now: datetime
) -> CorrectionPlan | None:
    """A grade change makes the current plan due for review (社区矫正法 24: 矫正方案应当根据
    社区矫正对象的表现等情况相应调整). Called by grading when a grade decision takes effect;
    nothing happens without a current plan."""
    if old_grade == new_grade or person.id is None:
        return None
    plan = _current_plan(session, person.id)
    if plan is None:
        return None
    if plan.review_due_kind == "grade_changed":
        # Already due for the same reason: keep since when, note where the grade went.
        plan.review_due_inputs = {**(plan.review_due_inputs or {}), "to_grade": new_grade}
    else:
        plan.review_due_kind, plan.review_due_since = "grade_changed", now
        plan.review_due_inputs = {
            "from_grade": old_grade,
            "to_grade": new_grade,
            "rules_version": ensure_recorded(session, "procedures", now),
        }
    session.flush()
    audit_person(
        session,
        SYSTEM,
        person,
        "procedures.plan.review_due",
        now=now,
        detail={"plan_id": plan.id, "kind": "grade_changed", "to": new_grade},
    )
    return plan


# --- the investigation assessment (调查评估) -------------------------------------------------


def get_assessment(
    session: Session, *, actor: Actor, person_id: int
) -> tuple[Person, InvestigationAssessment]:
    """The person's investigation assessment (404 when none was asked for)."""
    person = read_scoped(session, actor, person_id, action="procedures.assessment")
    row = session.scalar(
        select(InvestigationAssessment).where(InvestigationAssessment.person_id == person.id)
    )
    if row is None:
        raise NotFound(_("No investigation assessment is recorded for the person."))
    return person, row


ASSESSMENT_FIELDS = (
    "requested_by",
    "requesting_document",
    "requested_on",
    "conclusion",
    "finished_on",
    "submitted_to",
    "note",
)


def _check_assessment(facts: dict[str, Any], today: date) -> None:
    if (facts.get("conclusion") is None) != (facts.get("finished_on") is None):
        field = "finished_on" if facts.get("conclusion") else "conclusion"
        raise RuleViolation(_("conclusion and finished_on are given together"), field=field)
    for field in ("requested_on", "finished_on"):
        if facts.get(field) is not None:
            _not_future(facts[field], today, field)
    finished, requested = facts.get("finished_on"), facts.get("requested_on")
    if finished and requested and finished < requested:
        raise RuleViolation(_("must not be before requested_on"), field="finished_on")


def record_assessment(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> InvestigationAssessment:
    """Record that the decision organ asked for an investigation assessment (社区矫正法 18),
    with its conclusion once finished; until then the checklist shows it missing."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    _require_open(person, "requested_by")
    _check_assessment(data, business_date(now))
    if session.scalar(
        select(InvestigationAssessment.id).where(InvestigationAssessment.person_id == person.id)
    ):
        raise Conflict(
            _("An investigation assessment is already recorded; correct it instead."),
            errors={"requested_by": [_("already recorded")]},
        )
    row = InvestigationAssessment(
        person_id=person.id,
        **{k: data.get(k) for k in ASSESSMENT_FIELDS},
        recorded_by=actor.username,
        recorded_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.assessment.record",
        now=now,
        detail={"assessment_id": row.id, "conclusion": row.conclusion},
    )
    return row


def update_assessment(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    expected: str | None,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> InvestigationAssessment:
    """Complete or correct the assessment (conclusion, finished_on, submitted_to ...)."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    row = session.scalar(
        select(InvestigationAssessment).where(InvestigationAssessment.person_id == person.id)
    )
    if row is None:
        raise NotFound(_("No investigation assessment is recorded for the person."))
    _check_tag(row, expected, _("investigation assessment"))
    _require_open(person, "conclusion")
    facts = {k: getattr(row, k) for k in ASSESSMENT_FIELDS} | changes
    _check_assessment(facts, business_date(now))
    changed = _changed(row, changes)
    if changed:
        row.updated_at = now
        session.flush()
    audit_person(
        session,
        actor,
        person,
        "procedures.assessment.update",
        now=now,
        detail={"assessment_id": row.id, "fields": changed, "conclusion": row.conclusion},
    )
    return row


# --- the exit ban (不准出境) ----------------------------------------------------------------


def _exit_ban(session: Session, person_id: int) -> ExitBan | None:
    return session.scalar(select(ExitBan).where(ExitBan.person_id == person_id))


def get_exit_ban(session: Session, *, actor: Actor, person_id: int) -> tuple[Person, ExitBan]:
    """The person's exit ban and its lifting (404 when none was filed)."""
    person = read_scoped(session, actor, person_id, action="procedures.exit_ban")
    ban = _exit_ban(session, person.id)
    if ban is None:
        raise NotFound(_("No exit ban is filed for the person."))
    return person, ban


def exit_ban_state(ban: ExitBan) -> str:
    """filed, lift_due (the term ended) or lifted."""
    if ban.lifted_on is not None:
        return "lifted"
    return "lift_due" if ban.lift_due_kind is not None else "filed"


def file_exit_ban(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    data: dict[str, Any],
    now: datetime | None = None,
) -> ExitBan:
    """Record the exit ban filed with the public-security exit-entry office at intake
    (出境入境管理法 12(2): a person whose sentence is not fully executed may not leave)."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    _require_open(person, "filed_on")
    _not_future(data["filed_on"], business_date(now), "filed_on")
    if data["filed_on"] < person.judgment_effective_date:
        raise RuleViolation(
            _("the judgment took effect on {day}", day=person.judgment_effective_date),
            field="filed_on",
        )
    if _exit_ban(session, person.id) is not None:
        raise Conflict(
            _("An exit ban is already filed for the person."),
            errors={"filed_on": [_("already filed")]},
        )
    ban = ExitBan(
        person_id=person.id,
        filed_on=data["filed_on"],
        filed_with=data["filed_with"],
        document_number=data["document_number"],
        note=data.get("note"),
        filed_by=actor.username,
        recorded_at=now,
        updated_at=now,
    )
    session.add(ban)
    session.flush()
    audit_person(
        session, actor, person, "procedures.exit_ban.file", now=now, detail={"exit_ban_id": ban.id}
    )
    return ban


def lift_exit_ban(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    expected: str | None,
    lifted_on: date,
    document_number: str,
    now: datetime | None = None,
) -> ExitBan:
    """Record that the filing was lifted (撤销报备) once the term ended."""
    now = now or now_utc()
    person = _owned(session, actor, person_id)
    ban = _exit_ban(session, person.id)
    if ban is None:
        raise NotFound(_("No exit ban is filed for the person."))
    _check_tag(ban, expected, _("exit ban"))
    if ban.lifted_on is not None:
        raise Conflict(
            _("The exit ban is already lifted."), errors={"lifted_on": [_("already lifted")]}
        )
    if ban.lift_due_kind is None and person.status in OPEN_STATUSES:
        raise Conflict(
            _("The exit ban is lifted when the term ends; the person is still under correction."),
            errors={"lifted_on": [_person_status(person)]},
        )
    _not_future(lifted_on, business_date(now), "lifted_on")
    if lifted_on < ban.filed_on:
        raise RuleViolation(_("must not be before filed_on"), field="lifted_on")
    ban.lifted_on, ban.lift_document_number = lifted_on, document_number
    ban.lifted_by, ban.updated_at = actor.username, now
    session.flush()
    audit_person(
        session, actor, person, "procedures.exit_ban.lift", now=now, detail={"exit_ban_id": ban.id}
    )
    return ban


def on_term_end(session: Session, person: Person, kind: str, now: datetime) -> ExitBan | None:
    """The term ended (``kind``: discharge, revocation, return_to_custody or death): when an exit
    ban was filed, its lifting becomes due. Idempotent; nothing happens without a filing.
    Called by the end-of-term use cases after the person's status changed."""
    if kind not in procedure_rules.TERM_END_KINDS:
        raise ValueError(f"unknown term-end kind {kind!r}")
    # The plan ends with the case: nothing is reviewed any more.
    session.execute(
        update(CorrectionPlan)
        .where(CorrectionPlan.person_id == person.id, CorrectionPlan.status == "current")
        .values(
            status="closed",
            review_due_kind=None,
            review_due_since=None,
            version=CorrectionPlan.version + 1,
        )
    )
    if kind not in _rules().lift_on_term_end:
        return None
    ban = _exit_ban(session, person.id)
    if ban is None or ban.lifted_on is not None or ban.lift_due_kind is not None:
        return ban
    ban.lift_due_kind, ban.lift_due_since, ban.updated_at = kind, now, now
    session.flush()
    audit_person(
        session,
        SYSTEM,
        person,
        "procedures.exit_ban.lift_due",
        now=now,
        detail={"exit_ban_id": ban.id, "kind": kind},
    )
    return ban


# --- the checklist -------------------------------------------------------------------------


def checklist(
    session: Session, *, actor: Actor, person_id: int, now: datetime | None = None
) -> tuple[Person, tuple[procedure_rules.Step, ...]]:
    """Every procedure step of the person and its state (done, missing, not_applicable, due)."""
    now = now or now_utc()
    person = read_scoped(session, actor, person_id, action="procedures.checklist", now=now)
    plan = _current_plan(session, person.id)
    assessment = session.scalar(
        select(InvestigationAssessment).where(InvestigationAssessment.person_id == person.id)
    )
    ban = _exit_ban(session, person.id)
    facts = procedure_rules.Facts(
        status=person.status,
        gender=person.gender,
        juvenile=person.juvenile,
        announcements=frozenset(
            session.scalars(select(Announcement.kind).where(Announcement.person_id == person.id))
        ),
        members=tuple(
            procedure_rules.Member(m.role, m.gender) for m in team_members(session, person)
        ),
        plan=None
        if plan is None
        else procedure_rules.PlanFacts(plan_review(plan, business_date(now))),
        assessment=None
        if assessment is None
        else procedure_rules.AssessmentFacts(finished=assessment.finished_on is not None),
        exit_ban=None
        if ban is None
        else procedure_rules.ExitBanFacts(
            lift_due=ban.lift_due_kind is not None, lifted=ban.lifted_on is not None
        ),
    )
    return person, procedure_rules.checklist(_rules(), facts)
