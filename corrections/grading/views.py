"""HTTP layer for grades, grade decisions and monthly assessments."""

from __future__ import annotations

from flask.views import MethodView

from corrections.core import links
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.db import db
from corrections.core.schemas import page_envelope
from corrections.grading import service
from corrections.grading.schemas import (
    AssessmentSchema,
    DecisionInSchema,
    DecisionNoteSchema,
    DecisionPageSchema,
    DecisionQuerySchema,
    DecisionSchema,
    GradeSchema,
    RejectSchema,
)

blp = Blueprint(
    "grading",
    __name__,
    url_prefix="/api/v1",
    description="Three-level five-grade management (三级五等)",
)


@blp.route("/persons/<id:person_id>/grade")
class PersonGrade(MethodView):
    @requires("grading:read")
    @blp.response(200, GradeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Current grade and level, what it requires, since when, next review date."""
        return service.grade_view(db.session, actor=current_actor(), person_id=person_id)


@blp.route("/persons/<id:person_id>/grade/history")
class PersonGradeHistory(MethodView):
    @requires("grading:read")
    @blp.response(200, DecisionSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Every grade decision of the person, oldest first, with rules, inputs and reasons."""
        actor = current_actor()
        decisions = service.history(db.session, actor=actor, person_id=person_id)
        return [service.decision_view(db.session, actor, d) for d in decisions]


@blp.route("/persons/<id:person_id>/grade/decisions")
class PersonGradeDecisions(MethodView):
    @requires("grading:decide")
    @blp.arguments(DecisionInSchema)
    @blp.response(201, DecisionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Decide a grade by hand with a reason: stricter (or a review) takes effect at once;
        one step looser becomes a proposal for the district, if the rules allow it."""
        actor = current_actor()
        decision = service.decide_manual(db.session, actor=actor, person_id=person_id, **data)
        return service.decision_view(db.session, actor, decision), 201


@blp.route("/persons/<id:person_id>/grade/decisions/<id:decision_id>/approve")
class ApproveDecision(MethodView):
    @requires("grading:approve")
    @blp.arguments(DecisionNoteSchema)
    @blp.response(200, DecisionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, decision_id):
        """Approve a looser proposal (a commander of the person's district, not the proposer)."""
        actor = current_actor()
        decision = service.approve(
            db.session,
            actor=actor,
            person_id=person_id,
            decision_id=decision_id,
            note=data.get("note"),
        )
        return service.decision_view(db.session, actor, decision)


@blp.route("/persons/<id:person_id>/grade/decisions/<id:decision_id>/reject")
class RejectDecision(MethodView):
    @requires("grading:approve")
    @blp.arguments(RejectSchema)
    @blp.response(200, DecisionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, decision_id):
        """Reject a looser proposal, saying why."""
        actor = current_actor()
        decision = service.reject(
            db.session,
            actor=actor,
            person_id=person_id,
            decision_id=decision_id,
            note=data["note"],
        )
        return service.decision_view(db.session, actor, decision)


@blp.route("/grade-decisions")
class GradeDecisions(MethodView):
    @requires("grading:read")
    @blp.arguments(DecisionQuerySchema, location="query")
    @blp.response(200, DecisionPageSchema)
    def get(self, args):
        """Grade decisions in your scope; ``status=proposed`` is the approval queue."""
        views, total = service.queue(db.session, actor=current_actor(), **args)
        return page_envelope(
            links.with_links(views, _decision_links), args["page"], args["page_size"], total
        )


def _decision_links(view: dict) -> dict:
    """A listed decision's evidence links and, while proposed, its approval and rejection."""
    if "evidence_refs" in view:
        view["evidence_refs"] = links.evidence(view["person_id"], view["evidence_refs"])
    ids = {"person_id": view["person_id"], "decision_id": view["id"]}
    view["actions"] = (
        [
            links.action("approve", "grading.ApproveDecision", schema=DecisionNoteSchema, **ids),
            links.action("reject", "grading.RejectDecision", schema=RejectSchema, **ids),
        ]
        if view.get("status") == "proposed"
        else []
    )
    return view


@blp.route("/persons/<id:person_id>/assessments")
class PersonAssessments(MethodView):
    @requires("grading:read")
    @blp.response(200, AssessmentSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Monthly assessments, newest first, with their deductions."""
        return service.assessments(db.session, actor=current_actor(), person_id=person_id)
