"""HTTP layer of the intake and discharge procedures: parse, authorize, call one service
function, shape the records (labels from rules/procedures.yaml) and show them as the caller may
see them (:mod:`corrections.persons.privacy`)."""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import today
from corrections.core.db import db
from corrections.core.errors import PreconditionFailed
from corrections.core.i18n import _
from corrections.core.preconditions import if_match
from corrections.persons import privacy
from corrections.persons import rules as person_rules
from corrections.persons.models import Person
from corrections.procedures import rules as procedure_rules
from corrections.procedures import service
from corrections.procedures.models import (
    Announcement,
    CorrectionPlan,
    ExitBan,
    InvestigationAssessment,
    TeamMember,
)
from corrections.procedures.schemas import (
    AnnouncementInSchema,
    AnnouncementPatchSchema,
    AnnouncementSchema,
    CorrectionPlanInSchema,
    CorrectionPlanSchema,
    CorrectionTeamSchema,
    ExitBanInSchema,
    ExitBanLiftSchema,
    ExitBanSchema,
    InvestigationAssessmentInSchema,
    InvestigationAssessmentPatchSchema,
    InvestigationAssessmentSchema,
    ProceduresChecklistSchema,
    TeamMemberInSchema,
    TeamMemberPatchSchema,
    TeamMemberSchema,
)

blp = Blueprint(
    "procedures",
    __name__,
    url_prefix="/api/v1",
    description="Intake and discharge procedures (入矫与解矫程序): announcements, correction "
    "team, correction plan, investigation assessment, exit ban, checklist",
)

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "schema": {"type": "string"},
    "description": 'The ETag of the record as last read, e.g. "3" (a plan\'s: "2.1").',
}
IF_MATCH_WHEN_CURRENT = {
    **IF_MATCH,
    "required": False,
    "description": "The ETag of the current plan; required when the person has one.",
}
ETAG = {"ETag": {"description": "Version of the record", "schema": {"type": "string"}}}
# A record's version, or a plan's number and version ("2.1").
_VERSION = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
_UPDATE_ERRORS = (
    (404, "NOT_FOUND"),
    (409, "CONFLICT"),
    (412, "PRECONDITION_FAILED"),
    (428, "PRECONDITION_REQUIRED"),
)


def _updates(func):
    func = blp.doc(parameters=[IF_MATCH])(func)
    for status, response in _UPDATE_ERRORS:
        func = blp.alt_response(status, response=response)(func)
    return func


def _if_match() -> str | None:
    """The version the client read, from If-Match (None when not sent)."""
    tag = if_match('"3"')
    if tag is not None and not _VERSION.fullmatch(tag):
        raise PreconditionFailed(_("If-Match names no version of this record; read it again."))
    return tag


def _etag(record: Any) -> dict[str, str]:
    return {"ETag": f'"{service.tag(record)}"'}


def _person(person_id: int) -> Person:
    return db.session.get(Person, person_id)


def _rules() -> procedure_rules.ProcedureRules:
    return procedure_rules.current()


def _columns(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {c: getattr(record, c) for c in names}


# --- shaping ---------------------------------------------------------------------------------


def _announcement(row: Announcement) -> dict[str, Any]:
    kind = _rules().announcements[row.kind]
    view = _columns(
        row,
        (
            "id",
            "person_id",
            "kind",
            "held_at",
            "place",
            "presided_by",
            "notes",
            "recorded_by",
            "recorded_at",
            "updated_at",
            "version",
        ),
    )
    view["attendees"] = [dict(a) for a in row.attendees or ()]
    return view | {"kind_label_zh": kind["label_zh"], "article": kind["article"]}


def _member(member: TeamMember) -> dict[str, Any]:
    view = _columns(
        member,
        (
            "id",
            "person_id",
            "role",
            "name",
            "phone",
            "gender",
            "organisation",
            "added_by",
            "added_at",
            "updated_at",
            "version",
        ),
    )
    view["role_label_zh"] = _rules().roles[member.role]
    view["gender_label_zh"] = person_rules.current().label("genders", member.gender)
    return view


def _team(person: Person, members: list[TeamMember]) -> dict[str, Any]:
    results = service.team_requirements(person, members)
    facts = tuple(procedure_rules.Member(m.role, m.gender) for m in members)
    return {
        "person_id": person.id,
        "members": [_member(m) for m in members],
        "requirements": [
            {
                "rule_id": r.requirement.id,
                "rule_label_zh": r.requirement.label_zh,
                "article": r.requirement.article,
                "basis": r.requirement.basis,
                "met": r.met,
            }
            for r in results
        ],
        "complete": procedure_rules.team_complete(facts, results),
    }


def _plan(plan: CorrectionPlan) -> dict[str, Any]:
    rules = _rules()
    review = service.plan_review(plan, today())
    kind = rules.review_kinds.get(review.kind) if review.kind else None
    view = _columns(
        plan,
        (
            "id",
            "person_id",
            "number",
            "status",
            "needs",
            "measures",
            "change_note",
            "next_review_on",
            "created_by",
            "created_at",
            "superseded_at",
            "superseded_by_id",
            "version",
        ),
    )
    view["status_label_zh"] = rules.plan_statuses[plan.status]
    view["review"] = {
        "due": review.due,
        "kind": review.kind,
        "kind_label_zh": kind["label_zh"] if kind else None,
        "article": kind["article"] if kind else None,
        "since": review.since,
        "due_on": plan.next_review_on,
        "inputs": plan.review_due_inputs if review.kind == plan.review_due_kind else None,
    }
    return view


def _assessment(row: InvestigationAssessment) -> dict[str, Any]:
    rules = _rules()
    state = "finished" if row.finished_on is not None else "requested"
    view = _columns(row, (*service.ASSESSMENT_FIELDS, "id", "person_id", "recorded_by"))
    view |= _columns(row, ("recorded_at", "updated_at", "version"))
    return view | {
        "state": state,
        "state_label_zh": rules.assessment_states[state],
        "conclusion_label_zh": rules.conclusions.get(row.conclusion) if row.conclusion else None,
    }


def _exit_ban(ban: ExitBan) -> dict[str, Any]:
    rules = _rules()
    state = service.exit_ban_state(ban)
    view = _columns(
        ban,
        (
            "id",
            "person_id",
            "filed_on",
            "filed_with",
            "document_number",
            "note",
            "filed_by",
            "recorded_at",
            "updated_at",
            "version",
        ),
    )
    view["lifting"] = {
        "kind": ban.lift_due_kind,
        "kind_label_zh": rules.lift_on_term_end.get(ban.lift_due_kind)
        if ban.lift_due_kind
        else None,
        "due_since": ban.lift_due_since,
        "lifted_on": ban.lifted_on,
        "document_number": ban.lift_document_number,
        "lifted_by": ban.lifted_by,
    }
    return view | {
        "state": state,
        "state_label_zh": rules.exit_ban_states[state],
        "article": rules.exit_ban_article,
    }


def _shown(resource: str, person: Person, view: dict[str, Any]) -> dict[str, Any]:
    return privacy.present(db.session, current_actor(), person, resource, view)


# --- the checklist ---------------------------------------------------------------------------


@blp.route("/persons/<id:person_id>/procedures")
class Checklist(MethodView):
    @requires("procedures:read")
    @blp.response(200, ProceduresChecklistSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Every intake and discharge step of the person and its state: done, missing,
        not_applicable or due, with the article and, where not done, why."""
        person, steps = service.checklist(db.session, actor=current_actor(), person_id=person_id)
        rules = _rules()
        view = {
            "person_id": person.id,
            "status": person.status,
            "status_label_zh": person_rules.current().label("statuses", person.status),
            "rules_version": rules.version,
            "complete": procedure_rules.complete(steps),
            "steps": [
                {
                    "kind": s.id,
                    "kind_label_zh": rules.steps[s.id]["label_zh"],
                    "state": s.state,
                    "state_label_zh": rules.states[s.state],
                    "article": rules.steps[s.id]["article"],
                    "basis": rules.steps[s.id]["basis"],
                    "reasons": [
                        {"rule_id": r, "rule_label_zh": rules.reason_label(r)} for r in s.reasons
                    ],
                }
                for s in steps
            ],
        }
        return _shown("procedures", person, view)


# --- announcements ---------------------------------------------------------------------------


@blp.route("/persons/<id:person_id>/announcements")
class Announcements(MethodView):
    @requires("procedures:read")
    @blp.response(200, AnnouncementSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's intake (入矫宣告) and discharge (解矫宣告) announcements."""
        person, rows = service.list_announcements(
            db.session, actor=current_actor(), person_id=person_id
        )
        return privacy.present_all(
            db.session,
            current_actor(),
            "announcement",
            [(person, _announcement(r)) for r in rows],
        )

    @requires("procedures:write")
    @blp.arguments(AnnouncementInSchema)
    @blp.response(201, AnnouncementSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Record an announcement: ``intake`` (社区矫正法 22) or, once the person is
        discharged, ``discharge`` (实施办法 54); at most one of each."""
        row = service.record_announcement(
            db.session, actor=current_actor(), person_id=person_id, data=data
        )
        return _shown("announcement", _person(person_id), _announcement(row)), 201, _etag(row)


@blp.route("/persons/<id:person_id>/announcements/<id:announcement_id>")
class AnnouncementItem(MethodView):
    @requires("procedures:write")
    @blp.arguments(AnnouncementPatchSchema(partial=True))
    @blp.response(200, AnnouncementSchema, headers=ETAG)
    @_updates
    def patch(self, changes, person_id, announcement_id):
        """Correct an announcement; needs If-Match with its version (412 if stale)."""
        row = service.update_announcement(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            announcement_id=announcement_id,
            expected=_if_match(),
            changes=changes,
        )
        return _shown("announcement", _person(person_id), _announcement(row)), 200, _etag(row)


# --- the correction team ---------------------------------------------------------------------


@blp.route("/persons/<id:person_id>/correction-team")
class Team(MethodView):
    @requires("procedures:read")
    @blp.response(200, CorrectionTeamSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The correction team (矫正小组, 社区矫正法 25): its members and the rules its
        composition must meet (a woman's team has a female member; a juvenile's, someone
        familiar with juveniles), each met or not."""
        person, members = service.get_team(db.session, actor=current_actor(), person_id=person_id)
        return _shown("correction_team", person, _team(person, members))


@blp.route("/persons/<id:person_id>/correction-team/members")
class TeamMembers(MethodView):
    @requires("procedures:write")
    @blp.arguments(TeamMemberInSchema)
    @blp.response(201, TeamMemberSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Add a member: role, name, phone, gender, organisation."""
        member = service.add_member(
            db.session, actor=current_actor(), person_id=person_id, data=data
        )
        return _shown("team_member", _person(person_id), _member(member)), 201, _etag(member)


@blp.route("/persons/<id:person_id>/correction-team/members/<id:member_id>")
class TeamMemberItem(MethodView):
    @requires("procedures:write")
    @blp.arguments(TeamMemberPatchSchema(partial=True))
    @blp.response(200, TeamMemberSchema, headers=ETAG)
    @_updates
    def patch(self, changes, person_id, member_id):
        """Correct a member's details; needs If-Match with its version."""
        member = service.update_member(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            member_id=member_id,
            expected=_if_match(),
            changes=changes,
        )
        return _shown("team_member", _person(person_id), _member(member)), 200, _etag(member)

    @requires("procedures:write")
    @blp.response(204)
    @_updates
    def delete(self, person_id, member_id):
        """Take a member off the team (the record is kept); needs If-Match with its version."""
        service.remove_member(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            member_id=member_id,
            expected=_if_match(),
        )
        return "", 204


# --- the correction plan ---------------------------------------------------------------------


@blp.route("/persons/<id:person_id>/correction-plans")
class Plans(MethodView):
    @requires("procedures:read")
    @blp.response(200, CorrectionPlanSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Every version of the person's correction plan (矫正方案), newest first."""
        person, plans = service.list_plans(db.session, actor=current_actor(), person_id=person_id)
        return privacy.present_all(
            db.session, current_actor(), "correction_plan", [(person, _plan(p)) for p in plans]
        )

    @requires("procedures:write")
    @blp.arguments(CorrectionPlanInSchema)
    @blp.response(201, CorrectionPlanSchema, headers=ETAG)
    @blp.doc(parameters=[IF_MATCH_WHEN_CURRENT])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def post(self, data, person_id):
        """Make the plan (社区矫正法 24), or a new version that supersedes the current one
        (a review, also when nothing changes); If-Match with the current plan's ETag."""
        plan = service.new_plan(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            data=data,
            expected=_if_match(),
        )
        return _shown("correction_plan", _person(person_id), _plan(plan)), 201, _etag(plan)


@blp.route("/persons/<id:person_id>/correction-plans/current")
class CurrentPlan(MethodView):
    @requires("procedures:read")
    @blp.response(200, CorrectionPlanSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The current plan, with whether a review is due (its ETag for the next version)."""
        person, plan = service.current_plan(db.session, actor=current_actor(), person_id=person_id)
        return _shown("correction_plan", person, _plan(plan)), 200, _etag(plan)


# --- the investigation assessment ------------------------------------------------------------


@blp.route("/persons/<id:person_id>/investigation-assessment")
class Assessment(MethodView):
    @requires("procedures:read")
    @blp.response(200, InvestigationAssessmentSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The investigation assessment (调查评估, 社区矫正法 18), if one was asked for."""
        person, row = service.get_assessment(db.session, actor=current_actor(), person_id=person_id)
        return _shown("investigation_assessment", person, _assessment(row)), 200, _etag(row)

    @requires("procedures:write")
    @blp.arguments(InvestigationAssessmentInSchema)
    @blp.response(201, InvestigationAssessmentSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Record that the decision organ asked for an assessment, and its conclusion once
        finished (``conclusion`` with ``finished_on``)."""
        row = service.record_assessment(
            db.session, actor=current_actor(), person_id=person_id, data=data
        )
        return (
            _shown("investigation_assessment", _person(person_id), _assessment(row)),
            201,
            _etag(row),
        )

    @requires("procedures:write")
    @blp.arguments(InvestigationAssessmentPatchSchema(partial=True))
    @blp.response(200, InvestigationAssessmentSchema, headers=ETAG)
    @_updates
    def patch(self, changes, person_id):
        """Complete or correct the assessment; needs If-Match with its version."""
        row = service.update_assessment(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            expected=_if_match(),
            changes=changes,
        )
        return (
            _shown("investigation_assessment", _person(person_id), _assessment(row)),
            200,
            _etag(row),
        )


# --- the exit ban ----------------------------------------------------------------------------


@blp.route("/persons/<id:person_id>/exit-ban")
class ExitBanItem(MethodView):
    @requires("procedures:read")
    @blp.response(200, ExitBanSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The exit ban (不准出境) filed for the person, and its lifting."""
        person, ban = service.get_exit_ban(db.session, actor=current_actor(), person_id=person_id)
        return _shown("exit_ban", person, _exit_ban(ban)), 200, _etag(ban)

    @requires("procedures:write")
    @blp.arguments(ExitBanInSchema)
    @blp.response(201, ExitBanSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Record the filing with the public-security exit-entry office (出境入境管理法 12)."""
        ban = service.file_exit_ban(
            db.session, actor=current_actor(), person_id=person_id, data=data
        )
        return _shown("exit_ban", _person(person_id), _exit_ban(ban)), 201, _etag(ban)


@blp.route("/persons/<id:person_id>/exit-ban/lifting")
class ExitBanLifting(MethodView):
    @requires("procedures:write")
    @blp.arguments(ExitBanLiftSchema)
    @blp.response(200, ExitBanSchema, headers=ETAG)
    @_updates
    def post(self, data, person_id):
        """Record that the filing was lifted (撤销报备) after the term ended; If-Match."""
        ban = service.lift_exit_ban(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            expected=_if_match(),
            **data,
        )
        return _shown("exit_ban", _person(person_id), _exit_ban(ban)), 200, _etag(ban)
