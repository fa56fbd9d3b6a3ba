"""HTTP layer of lost-contact / absconding episodes and flagged control."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from corrections.core import idempotency, links
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import business_date, now_utc
from corrections.core.db import db
from corrections.core.schemas import page_envelope
from corrections.incidents import flags, queue, service
from corrections.incidents.schemas import (
    AbscondedSchema,
    FlagCloseSchema,
    FlagInSchema,
    FlagPageSchema,
    FlagQuerySchema,
    FlagReviewSchema,
    FlagSchema,
    IncidentCloseSchema,
    IncidentOpenSchema,
    IncidentSchema,
    OpenIncidentSchema,
    ProposalDecisionSchema,
    ProposalInSchema,
    ProposalQuerySchema,
    ProposalQueuePageSchema,
    ProposalQueueQuerySchema,
    ProposalSchema,
)
from corrections.persons.models import Person

blp = Blueprint(
    "incidents",
    __name__,
    url_prefix="/api/v1",
    description="Lost contact and absconding (失去联系/脱管), flagged control (挂牌管控)",
)


def _view(incident) -> dict:
    person = db.session.get(Person, incident.person_id)
    proposals = service.proposals_of(db.session, [incident.id])[incident.id]
    today = business_date(now_utc())
    return service.incident_view(db.session, current_actor(), incident, proposals, today, person)


@blp.route("/persons/<id:person_id>/incidents")
class Incidents(MethodView):
    @requires("incidents:read")
    @blp.response(200, IncidentSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's episodes of lost contact, newest first, with sanction proposals."""
        actor = current_actor()
        rows = service.list_incidents(db.session, actor=actor, person_id=person_id)
        proposals = service.proposals_of(db.session, [i.id for i in rows])
        person = db.session.get(Person, person_id)
        today = business_date(now_utc())
        return [
            service.incident_view(db.session, actor, i, proposals[i.id], today, person)
            for i in rows
        ]

    @requires("incidents:write")
    @blp.arguments(IncidentOpenSchema)
    @blp.response(201, IncidentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Open an episode by hand (``overdue``, or ``lost_contact`` at once) with a note."""
        incident = service.open_incident(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            state=data["state"],
            note=data["note"],
        )
        return _view(incident), 201


@blp.route("/incidents")
class OpenIncidents(MethodView):
    @requires("incidents:read")
    @blp.response(200, OpenIncidentSchema(many=True))
    def get(self):
        """Open episodes (overdue, lost contact, absconded) in your scope, the longest without
        contact first, with the hours since the last successful contact."""
        return service.open_incidents(db.session, actor=current_actor(), now=now_utc())


@blp.route("/persons/<id:person_id>/incidents/<id:incident_id>/absconded")
class Absconded(MethodView):
    @requires("incidents:write")
    @blp.arguments(AbscondedSchema)
    @blp.response(200, IncidentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, incident_id):
        """Confirm absconding (脱管认定) of an episode in lost contact, with the search record."""
        incident = service.confirm_absconded(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            incident_id=incident_id,
            search_record=data["search_record"],
        )
        return _view(incident)


@blp.route("/persons/<id:person_id>/incidents/<id:incident_id>/close")
class CloseIncident(MethodView):
    @requires("incidents:write")
    @blp.arguments(IncidentCloseSchema)
    @blp.response(200, IncidentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, incident_id):
        """Close an episode: returned, found, custody or revoked; the absence is counted."""
        incident = service.close_incident(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            incident_id=incident_id,
            reason=data["reason"],
            note=data["note"],
        )
        return _view(incident)


@blp.route("/persons/<id:person_id>/incidents/<id:incident_id>/proposals/<id:proposal_id>")
class DecideProposal(MethodView):
    @requires("incidents:write")
    @blp.arguments(ProposalDecisionSchema)
    @blp.response(200, ProposalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, incident_id, proposal_id):
        """Decide a sanction proposal (district level): accepted or declined, with a note."""
        proposal = service.decide_proposal(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            incident_id=incident_id,
            proposal_id=proposal_id,
            **data,
        )
        incident = _view(
            service.get_incident(db.session, current_actor(), person_id, incident_id)[1]
        )
        return next(p for p in incident["proposals"] if p["id"] == proposal.id)


@blp.route("/persons/<id:person_id>/proposals")
class PersonProposals(MethodView):
    @requires("incidents:read")
    @blp.arguments(ProposalQuerySchema, location="query")
    @blp.response(200, ProposalSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, person_id):
        """Every sanction proposal of the person (an episode's and the ladder's), newest first,
        with its article, evidence and decision; ``status`` filters (proposed, accepted,
        declined)."""
        actor = current_actor()
        person, rows = service.list_proposals(
            db.session, actor=actor, person_id=person_id, status=args.get("status")
        )
        return service.proposal_views(db.session, actor, person, rows)

    @requires("incidents:write")
    @blp.arguments(ProposalInSchema)
    @blp.response(201, ProposalSchema)
    @blp.doc(parameters=[idempotency.HEADER])
    @blp.alt_response(
        200, schema=ProposalSchema, description="A replayed request: the first result", success=True
    )
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Propose a sanction (训诫, 警告, 提请治安管理处罚, 提请撤销缓刑/假释, 提请收监执行)
        after the office's inquiry (经司法所调查核实): a ``ground`` of
        ``GET /api/v1/reasons?kind=proposal_ground`` that applies to the person's category,
        the facts found and the person's recorded events it rests on. The district decides it
        in its queue (``GET /api/v1/proposals?status=proposed``) and is alerted; one waiting
        proposal of a kind per person (409)."""
        actor = current_actor()
        proposal, replayed = service.propose_sanction(
            db.session,
            actor=actor,
            person_id=person_id,
            idempotency_key=idempotency.key(),
            **data,
        )
        person = db.session.get(Person, person_id)
        view = service.proposal_views(db.session, actor, person, [proposal])[0]
        return (view, 200, idempotency.REPLAYED) if replayed else (view, 201)


@blp.route("/persons/<id:person_id>/proposals/<id:proposal_id>")
class DecideLadderProposal(MethodView):
    @requires("incidents:write")
    @blp.arguments(ProposalDecisionSchema)
    @blp.response(200, ProposalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, proposal_id):
        """Decide a sanction proposal of the ladder (repeated sanctions, a 禁止令 breach, late
        intake; no episode), at the level rules/sanctions.yaml names, with the person's
        statement (陈述/申辩) or why it could not be taken."""
        proposal = service.decide_proposal(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            incident_id=None,
            proposal_id=proposal_id,
            **data,
        )
        person = db.session.get(Person, person_id)
        return service.proposal_views(db.session, current_actor(), person, [proposal])[0]


def _proposal_links(view: dict) -> dict:
    """A listed proposal's evidence links, and while it waits its two decisions (the same
    endpoint, ``decision`` accepted or declined; a note, and for some kinds the statement)."""
    if "evidence_refs" in view:
        view["evidence_refs"] = links.evidence(view["person_id"], view["evidence_refs"])
    if view.get("status") != "proposed":
        view["actions"] = []
        return view
    if view.get("incident_id") is None:
        endpoint, ids = "incidents.DecideLadderProposal", {}
    else:
        endpoint, ids = "incidents.DecideProposal", {"incident_id": view["incident_id"]}
    view["actions"] = [
        links.action(
            name,
            endpoint,
            schema=ProposalDecisionSchema,
            body={"decision": decision},
            person_id=view["person_id"],
            proposal_id=view["id"],
            **ids,
        )
        for name, decision in (("accept", "accepted"), ("decline", "declined"))
    ]
    return view


@blp.route("/proposals")
class Proposals(MethodView):
    @requires("incidents:read")
    @blp.arguments(ProposalQueueQuerySchema, location="query")
    @blp.response(200, ProposalQueuePageSchema)
    def get(self, args):
        """Sanction and revocation proposals in your scope, the oldest first:
        ``status=proposed`` is a district's decision queue (``kind=revocation`` ...). Each with
        its person (name as your role may see it, office), ground and article, the records it
        rests on and the URLs that decide it."""
        page, size = args.pop("page"), args.pop("page_size")
        views, total = queue.proposal_queue(
            db.session, actor=current_actor(), page=page, page_size=size, **args
        )
        return page_envelope(links.with_links(views, _proposal_links), page, size, total)


@blp.route("/persons/<id:person_id>/flags")
class PersonFlags(MethodView):
    @requires("flags:read")
    @blp.response(200, FlagSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's flagged-control records, newest first."""
        actor = current_actor()
        rows = flags.list_person_flags(db.session, actor=actor, person_id=person_id)
        return [flags.flag_view(db.session, actor, f) for f in rows]

    @requires("flags:write")
    @blp.arguments(FlagInSchema)
    @blp.response(201, FlagSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Put a person under flagged control (district or township level), with a reason, a
        responsible officer and a review date (default: in a month). A proposed flag becomes
        the flag."""
        actor = current_actor()
        flag = flags.open_flag(db.session, actor=actor, person_id=person_id, **data)
        return flags.flag_view(db.session, actor, flag), 201


@blp.route("/persons/<id:person_id>/flags/<id:flag_id>/reviews")
class FlagReview(MethodView):
    @requires("flags:write")
    @blp.arguments(FlagReviewSchema)
    @blp.response(200, FlagSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, flag_id):
        """Record the monthly review of a flag and set the next review day."""
        actor = current_actor()
        flag = flags.review_flag(
            db.session, actor=actor, person_id=person_id, flag_id=flag_id, **data
        )
        return flags.flag_view(db.session, actor, flag)


def _flag_close(name: str, outcome: str, doc: str):
    @blp.route(f"/persons/<id:person_id>/flags/<id:flag_id>/{name}", endpoint=f"flag_{name}")
    class FlagClose(MethodView):
        @requires("flags:write")
        @blp.arguments(FlagCloseSchema)
        @blp.response(200, FlagSchema)
        @blp.alt_response(404, response="NOT_FOUND")
        @blp.alt_response(409, response="CONFLICT")
        def post(self, data, person_id, flag_id):
            actor = current_actor()
            flag = flags.close_flag(
                db.session,
                actor=actor,
                person_id=person_id,
                flag_id=flag_id,
                outcome=outcome,
                reason=data["reason"],
            )
            return flags.flag_view(db.session, actor, flag)

    FlagClose.post.__doc__ = doc
    return FlagClose


_flag_close(
    "conversion",
    "converted",
    "Conversion (转化): close an active flag with a reason; the approver is of the flag's "
    "level or above and not the one who opened it.",
)
_flag_close("decline", "declined", "Decline a proposed flag, with a reason.")


@blp.route("/flags")
class Flags(MethodView):
    @requires("flags:read")
    @blp.arguments(FlagQuerySchema, location="query")
    @blp.response(200, FlagPageSchema)
    def get(self, args):
        """Flags in your scope, by review day (``status=proposed`` lists the proposals)."""
        page, size = args.pop("page"), args.pop("page_size")
        views, total = flags.list_flags(
            db.session, actor=current_actor(), page=page, page_size=size, **args
        )
        return page_envelope(links.with_links(views, _flag_links), page, size, total)


def _flag_links(view: dict) -> dict:
    """A listed flag's actions: a proposal is opened (the responsible officer chosen from the
    office's staff) or declined; an active flag is reviewed or converted."""
    ids = {"person_id": view["person_id"], "flag_id": view["id"]}
    status = view.get("status")
    if status == "proposed":
        office = (view.get("person") or {}).get("office_code")
        choices = {"level": url_for("choices.Reasons", kind="flag_level")}
        if office:
            choices["responsible_officer_id"] = url_for("units.Staff", code=office, role="officer")
        view["actions"] = [
            links.action(
                "open",
                "incidents.PersonFlags",
                schema=FlagInSchema,
                choices=choices,
                person_id=view["person_id"],
            ),
            links.action("decline", "incidents.flag_decline", schema=FlagCloseSchema, **ids),
        ]
    elif status == "active":
        view["actions"] = [
            links.action("review", "incidents.FlagReview", schema=FlagReviewSchema, **ids),
            links.action("convert", "incidents.flag_conversion", schema=FlagCloseSchema, **ids),
        ]
    else:
        view["actions"] = []
    return view
