"""HTTP layer for persons: parse, authorize, call one service function, serialize."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import now_utc, today
from corrections.core.db import db
from corrections.core.i18n import _
from corrections.core.preconditions import IF_MATCH_PARAMETER, etag, expected_version
from corrections.core.schemas import page_envelope
from corrections.persons import sealing, service
from corrections.persons.schemas import (
    PersonPageSchema,
    PersonPatchSchema,
    PersonQuerySchema,
    PersonSchema,
    PersonSearchSchema,
    PersonWritableSchema,
    SealSchema,
    StatusChangeInSchema,
    StatusChangeSchema,
    UnsealDecisionInSchema,
    UnsealRequestInSchema,
    UnsealRequestSchema,
)
from corrections.supervision import intake

blp = Blueprint(
    "persons",
    __name__,
    url_prefix="/api/v1/persons",
    description="Persons under community correction (社区矫正对象)",
)

IF_MATCH = IF_MATCH_PARAMETER
ETAG_HEADER = {"ETag": {"description": "Version of the person", "schema": {"type": "string"}}}


def _expected_version() -> int:
    return expected_version(
        missing=_("Send If-Match with the version you read (its ETag)."),
        unknown=_("If-Match names no version of this person; read it again."),
    )


def _listed(args: dict) -> dict:
    """One page of persons in the caller's scope, as the caller may see them."""
    actor = current_actor()
    page = service.list_persons(db.session, actor=actor, **args)
    day = today()
    return page_envelope(
        [service.person_view(p, actor, day) for p in page.items],
        page.page,
        page.page_size,
        page.total,
    )


@blp.route("")
class Persons(MethodView):
    @requires("persons:read")
    # Unknown parameters are refused: a search by name or ID number (q) is a POST to /search.
    @blp.arguments(PersonQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, PersonPageSchema)
    def get(self, args):
        """List persons in your scope (filters: office, district, category, status, juvenile).

        To find someone by name, ID number or phone, POST to ``/api/v1/persons/search``."""
        return _listed(args)

    @requires("persons:write")
    @blp.arguments(PersonWritableSchema)
    @blp.response(201, PersonSchema, headers=ETAG_HEADER)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data):
        """Intake (入矫登记): register a person under correction."""
        actor = current_actor()
        person = intake.intake(db.session, actor=actor, data=data, now=now_utc())
        return service.person_view(person, actor, today()), 201, etag(person.version)


@blp.route("/search")
class PersonSearch(MethodView):
    @requires("persons:read")
    @blp.arguments(PersonSearchSchema)
    @blp.response(200, PersonPageSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    def post(self, args):
        """Search persons in your scope by name, ID number (or its last 4+ characters) or
        phone, with the filters and paging of the list. A POST, so that who was looked for
        never travels in a URL (nor lands in an access log)."""
        return _listed(args)


@blp.route("/<id:person_id>")
class PersonItem(MethodView):
    @requires("persons:read")
    @blp.response(200, PersonSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """Read one person (audited; juvenile reads are marked as such)."""
        actor = current_actor()
        person = service.read(db.session, actor=actor, person_id=person_id)
        return service.person_view(person, actor, today()), 200, etag(person.version)

    @requires("persons:write")
    @blp.arguments(PersonPatchSchema(partial=True))
    @blp.response(200, PersonSchema, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def patch(self, changes, person_id):
        """Correct a person's facts; needs If-Match with the version read (412 if stale)."""
        actor = current_actor()
        person = service.update(
            db.session,
            actor=actor,
            person_id=person_id,
            expected_version=_expected_version(),
            changes=changes,
        )
        return service.person_view(person, actor, today()), 200, etag(person.version)


@blp.route("/<id:person_id>/status-changes")
class PersonStatusChanges(MethodView):
    @requires("persons:read")
    @blp.response(200, StatusChangeSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's status history, with reasons."""
        actor = current_actor()
        changes = service.status_history(db.session, actor=actor, person_id=person_id)
        return [service.status_change_view(c, actor) for c in changes]

    @requires("persons:write")
    @blp.arguments(StatusChangeInSchema)
    @blp.response(201, StatusChangeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, data, person_id):
        """Record intake reporting (to active), with the reason. A death is a termination
        (POST /persons/<id>/termination, kind death, by the district on the death record)."""
        actor = current_actor()
        change = intake.change_status_by_request(
            db.session, actor=actor, person_id=person_id, **data
        )
        return service.status_change_view(change, actor), 201


# --- sealed juvenile records (persons/sealing.py) -----------------------------------------


@blp.route("/<id:person_id>/seal")
class SealRecord(MethodView):
    @requires("sealing:seal")
    @blp.response(201, SealSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, person_id):
        """Seal a juvenile's record discharged before sealing existed (补充封存; city staff).
        Records discharged since are sealed by the discharge itself."""
        row = sealing.seal(db.session, actor=current_actor(), person_id=person_id)
        return sealing.seal_view(row), 201


@blp.route("/<id:person_id>/unseal-requests")
class UnsealRequests(MethodView):
    @requires("sealing:read")
    @blp.response(200, UnsealRequestSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The requests to read this sealed record, newest first (city staff, its district)."""
        rows = sealing.requests_of(db.session, actor=current_actor(), person_id=person_id)
        now = now_utc()
        return [sealing.request_view(r, now) for r in rows]

    @requires("sealing:request")
    @blp.arguments(UnsealRequestInSchema)
    @blp.response(201, UnsealRequestSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Ask to read a sealed record (查询申请) with the reason and the legal basis; another
        city-level user decides (city staff or the person's district ask)."""
        now = now_utc()
        row = sealing.request_unseal(
            db.session, actor=current_actor(), person_id=person_id, now=now, **data
        )
        return sealing.request_view(row, now), 201


@blp.route("/<id:person_id>/unseal-requests/<id:request_id>/decision")
class UnsealDecision(MethodView):
    @requires("sealing:decide")
    @blp.arguments(UnsealDecisionInSchema)
    @blp.response(200, UnsealRequestSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, request_id):
        """Approve or refuse a request (city staff, never the requester): an approval lets the
        requester alone read the record for the days of rules/persons.yaml sealing.grant."""
        now = now_utc()
        row = sealing.decide(
            db.session,
            actor=current_actor(),
            person_id=person_id,
            request_id=request_id,
            now=now,
            **data,
        )
        return sealing.request_view(row, now)


@blp.route("/unseal-requests")
class PendingUnsealRequests(MethodView):
    @requires("sealing:decide")
    @blp.response(200, UnsealRequestSchema(many=True))
    def get(self):
        """Requests waiting for a decision, oldest first: the city's queue."""
        rows = sealing.pending_requests(db.session, actor=current_actor())
        now = now_utc()
        return [sealing.request_view(r, now) for r in rows]
