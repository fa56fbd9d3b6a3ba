"""HTTP layer of the supervision log, obligations, travel permits, monitoring and term events."""

from __future__ import annotations

import orjson
from flask import request
from flask.views import MethodView

from corrections.core import idempotency, links
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import today
from corrections.core.db import db
from corrections.core.schemas import page_envelope
from corrections.persons.scope import SUPERVISION_COLUMNS
from corrections.supervision import event_forms, events, monitoring, travel, worklist
from corrections.supervision.schemas import (
    DischargeSchema,
    EventFormSchema,
    EventInSchema,
    EventPageSchema,
    EventQuerySchema,
    EventSchema,
    ExtendSchema,
    MonitoringInSchema,
    MonitoringSchema,
    MovementSchema,
    NoteSchema,
    ObligationPageSchema,
    ObligationQuerySchema,
    ObligationSchema,
    PermitInSchema,
    PermitQueuePageSchema,
    PermitQueueQuerySchema,
    PermitSchema,
    PersonObligationQuerySchema,
    RequiredNoteSchema,
    TermEndSchema,
    TerminationSchema,
    TransferInSchema,
    TransferSchema,
)
from corrections.term import service as term

blp = Blueprint(
    "supervision",
    __name__,
    url_prefix="/api/v1",
    description="Supervision log, obligations, travel, electronic monitoring",
)


# One instance for every request (a schema class would be instantiated per request); it
# keeps no state between loads.
EVENT_IN = EventInSchema()


def _share_locked() -> bool:
    """Whether the event in this request's body is recorded under the person's share lock
    alone (supervision/events.py share_locked); asked before the body is validated."""
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError:
        return False  # refused as malformed before anything is recorded
    return events.share_locked(body)


@blp.route("/persons/<id:person_id>/events")
class PersonEvents(MethodView):
    @requires("events:read")
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventPageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, person_id):
        """The person's supervision log, newest first."""
        actor = current_actor()
        page, size = args.pop("page"), args.pop("page_size")
        person, rows, total = events.list_events(
            db.session, actor=actor, person_id=person_id, page=page, page_size=size, **args
        )
        return page_envelope(events.event_views(db.session, actor, person, rows), page, size, total)

    # The hottest write: the person's supervision facts come with the token check, and with
    # them the share lock the event is recorded under (most events).
    @requires("events:write", person_columns=SUPERVISION_COLUMNS, person_lock=_share_locked)
    @blp.arguments(EVENT_IN)
    @blp.response(201, EventSchema)
    @blp.doc(parameters=[idempotency.HEADER])
    @blp.alt_response(
        200, schema=EventSchema, description="A replayed request: the first result", success=True
    )
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Record an event. Append-only: to correct one, post a new event with corrects_id."""
        actor = current_actor()
        person, event, replayed = events.record_from_request(
            db.session,
            actor=actor,
            person_id=person_id,
            data=data,
            idempotency_key=idempotency.key(),
        )
        view = events.event_views(db.session, actor, person, [event], new=not replayed)[0]
        if replayed:
            return view, 200, idempotency.REPLAYED
        return view, 201


@blp.route("/event-types")
class EventTypes(MethodView):
    @requires("events:read")
    @blp.response(200, EventFormSchema(many=True))
    def get(self):
        """The event types ``POST /persons/{id}/events`` takes, each with the fields of its
        form generated from the schema that validates it: type, required, Chinese label,
        choices with their labels, bounds, default; ``path`` is how a problem's ``errors``
        name the field. Travel departures and returns are recorded on their permit."""
        return event_forms.event_types()


@blp.route("/persons/<id:person_id>/obligations")
class PersonObligations(MethodView):
    @requires("obligations:read")
    @blp.arguments(PersonObligationQuerySchema, location="query")
    @blp.response(200, ObligationSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, person_id):
        """What is and was due from the person (and the officer's visits), newest first."""
        actor = current_actor()
        rows = worklist.person_obligations(db.session, actor=actor, person_id=person_id, **args)
        return [worklist.obligation_view(db.session, actor, o) for o in rows]


@blp.route("/persons/<id:person_id>/obligations/<id:obligation_id>/excuse")
class ExcuseObligation(MethodView):
    @requires("events:write")
    @blp.arguments(RequiredNoteSchema)
    @blp.response(200, ObligationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, obligation_id):
        """Excuse an open or missed obligation, saying why (office level or above)."""
        actor = current_actor()
        ob = worklist.excuse_obligation(
            db.session,
            actor=actor,
            person_id=person_id,
            obligation_id=obligation_id,
            reason=data["note"],
        )
        return worklist.obligation_view(db.session, actor, ob)


@blp.route("/obligations")
class Obligations(MethodView):
    @requires("obligations:read")
    @blp.arguments(ObligationQuerySchema, location="query")
    @blp.response(200, ObligationPageSchema)
    def get(self, args):
        """Work list of obligations in your scope (e.g. ``status=open&due_before=...``)."""
        page, size = args.pop("page"), args.pop("page_size")
        actor = current_actor()
        views, total = worklist.work_list(
            db.session, actor=actor, page=page, page_size=size, **args
        )
        return page_envelope(views, page, size, total)


@blp.route("/persons/<id:person_id>/travel-permits")
class TravelPermits(MethodView):
    @requires("events:read")
    @blp.response(200, PermitSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's travel permits, latest first."""
        actor = current_actor()
        permits = travel.list_permits(db.session, actor=actor, person_id=person_id)
        return [travel.permit_view(db.session, actor, p) for p in permits]

    @requires("events:write")
    @blp.arguments(PermitInSchema)
    @blp.response(201, PermitSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Request travel outside the city or county (外出); the rules set who approves."""
        actor = current_actor()
        permit = travel.request_permit(db.session, actor=actor, person_id=person_id, data=data)
        return travel.permit_view(db.session, actor, permit), 201


@blp.route("/travel-permits")
class PermitQueue(MethodView):
    @requires("events:read")
    @blp.arguments(PermitQueueQuerySchema, location="query")
    @blp.response(200, PermitQueuePageSchema)
    def get(self, args):
        """Travel permits in your scope, the earliest trip first:
        ``status=requested&approval_level=district`` is what waits for a district, ``city``
        for the city. Each with its person (name as your role may see it, office), the rules
        and articles that set its level and the URLs that decide it."""
        page, size = args.pop("page"), args.pop("page_size")
        views, total = travel.permit_queue(
            db.session, actor=current_actor(), page=page, page_size=size, **args
        )
        return page_envelope(links.with_links(views, _permit_links), page, size, total)


def _permit_links(view: dict) -> dict:
    """A requested permit is approved (a note optional) or rejected (a note required)."""
    ids = {"person_id": view["person_id"], "permit_id": view["id"]}
    view["actions"] = (
        [
            links.action("approve", "supervision.permit_approve", schema=NoteSchema, **ids),
            links.action("reject", "supervision.permit_reject", schema=RequiredNoteSchema, **ids),
        ]
        if view.get("status") == "requested"
        else []
    )
    return view


def _permit_action(name: str, doc: str, schema, call):
    @blp.route(
        f"/persons/<id:person_id>/travel-permits/<id:permit_id>/{name}", endpoint=f"permit_{name}"
    )
    class PermitAction(MethodView):
        @requires("events:write")
        @blp.arguments(schema)
        @blp.response(200, PermitSchema)
        @blp.alt_response(404, response="NOT_FOUND")
        @blp.alt_response(409, response="CONFLICT")
        def post(self, data, person_id, permit_id):
            permit = call(data, person_id, permit_id)
            return travel.permit_view(db.session, current_actor(), permit)

    PermitAction.post.__doc__ = doc
    return PermitAction


_permit_action(
    "approve",
    "Approve a permit (at the level it needs or above).",
    NoteSchema,
    lambda d, pid, tid: travel.decide_permit(
        db.session,
        actor=current_actor(),
        person_id=pid,
        permit_id=tid,
        approve=True,
        note=d["note"],
    ),
)
_permit_action(
    "reject",
    "Reject a permit, saying why.",
    RequiredNoteSchema,
    lambda d, pid, tid: travel.decide_permit(
        db.session,
        actor=current_actor(),
        person_id=pid,
        permit_id=tid,
        approve=False,
        note=d["note"],
    ),
)
_permit_action(
    "depart",
    "Record the departure on an approved permit.",
    MovementSchema,
    lambda d, pid, tid: travel.record_movement(
        db.session,
        actor=current_actor(),
        person_id=pid,
        permit_id=tid,
        departure=True,
        occurred_at=d["occurred_at"],
        note=d["note"],
    ),
)
_permit_action(
    "return",
    "Record the return from travel.",
    MovementSchema,
    lambda d, pid, tid: travel.record_movement(
        db.session,
        actor=current_actor(),
        person_id=pid,
        permit_id=tid,
        departure=False,
        occurred_at=d["occurred_at"],
        note=d["note"],
    ),
)


@blp.route("/persons/<id:person_id>/monitoring")
class Monitoring(MethodView):
    @requires("events:read")
    @blp.response(200, MonitoringSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Electronic monitoring periods of the person."""
        actor = current_actor()
        periods = monitoring.list_monitoring(db.session, actor=actor, person_id=person_id)
        day = today()
        return [monitoring.monitoring_view(db.session, actor, p, day) for p in periods]

    @requires("monitoring:write")
    @blp.arguments(MonitoringInSchema)
    @blp.response(201, MonitoringSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Open a monitoring period on one of the five grounds of Art. 29 (district level)."""
        actor = current_actor()
        period = monitoring.open_monitoring(db.session, actor=actor, person_id=person_id, data=data)
        return monitoring.monitoring_view(db.session, actor, period, today()), 201


@blp.route("/persons/<id:person_id>/monitoring/<id:period_id>/extend")
class MonitoringExtend(MethodView):
    @requires("monitoring:write")
    @blp.arguments(ExtendSchema)
    @blp.response(201, MonitoringSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, period_id):
        """Extend by a new period of at most three months, with a reassessment."""
        actor = current_actor()
        period = monitoring.extend_monitoring(
            db.session, actor=actor, person_id=person_id, period_id=period_id, **data
        )
        return monitoring.monitoring_view(db.session, actor, period, today()), 201


@blp.route("/persons/<id:person_id>/monitoring/<id:period_id>/remove")
class MonitoringRemove(MethodView):
    @requires("monitoring:write")
    @blp.arguments(RequiredNoteSchema)
    @blp.response(200, MonitoringSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, period_id):
        """Remove the device: the period closes now."""
        actor = current_actor()
        period = monitoring.remove_monitoring(
            db.session,
            actor=actor,
            person_id=person_id,
            period_id=period_id,
            reason=data["note"],
        )
        return monitoring.monitoring_view(db.session, actor, period, today())


@blp.route("/persons/<id:person_id>/discharge")
class Discharge(MethodView):
    @requires("term:write")
    @blp.arguments(DischargeSchema)
    @blp.response(201, TermEndSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Discharge at the end of the term (解除矫正) with the certificate number."""
        actor = current_actor()
        end = term.discharge(db.session, actor=actor, person_id=person_id, **data)
        return term.term_end_view(db.session, actor, end, "discharged"), 201


@blp.route("/persons/<id:person_id>/termination")
class Termination(MethodView):
    @requires("term:write")
    @blp.arguments(TerminationSchema)
    @blp.response(201, TermEndSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Termination (终止): revocation, return to custody or death."""
        actor = current_actor()
        end = term.terminate(db.session, actor=actor, person_id=person_id, **data)
        status = term.TERMINATION_STATUS[end.kind]
        return term.term_end_view(db.session, actor, end, status), 201


@blp.route("/persons/<id:person_id>/transfers")
class Transfers(MethodView):
    @requires("term:write")
    @blp.arguments(TransferInSchema)
    @blp.response(201, TransferSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Change of the place of supervision (变更执行地): to another office of this city, or
        out of it."""
        actor = current_actor()
        record = term.transfer(db.session, actor=actor, person_id=person_id, **data)
        return term.transfer_view(db.session, actor, record), 201
