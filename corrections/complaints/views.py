"""The complaints register (投诉登记) over HTTP: staff only; only the monthly counts are public
(corrections/public)."""

from __future__ import annotations

from flask.views import MethodView

from corrections.complaints import service
from corrections.complaints.schemas import (
    ComplaintAnswerSchema,
    ComplaintCreateSchema,
    ComplaintPageSchema,
    ComplaintQuerySchema,
    ComplaintSchema,
)
from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import now_utc
from corrections.core.db import db
from corrections.core.schemas import page_envelope

blp = Blueprint(
    "complaints",
    __name__,
    url_prefix="/api/v1/complaints",
    description="Complaints register (投诉登记): received and answered by the districts",
)


@blp.route("")
class Complaints(MethodView):
    @requires("complaints:read")
    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintPageSchema)
    def get(self, args):
        """Your district's complaints (the city: every district's, or ``district_code``'s),
        newest received first."""
        page, page_size = args.pop("page"), args.pop("page_size")
        items, total = service.list_complaints(
            db.session, actor=current_actor(), now=now_utc(), page=page, page_size=page_size, **args
        )
        units = service.districts(db.session, items)
        views = [service.complaint_view(c, units) for c in items]
        return page_envelope(views, page, page_size, total)

    @requires("complaints:write")
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintSchema)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, data):
        """Register a complaint received by your district (city staff name ``district_code``)."""
        complaint = service.create(db.session, actor=current_actor(), data=data, now=now_utc())
        return service.complaint_view(complaint, service.districts(db.session, [complaint]))


@blp.route("/<id:complaint_id>/answer")
class AnswerComplaint(MethodView):
    @requires("complaints:write")
    @blp.arguments(ComplaintAnswerSchema)
    @blp.response(200, ComplaintSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, data, complaint_id):
        """Record the answer (the complaint's district commander, or the city); once."""
        complaint = service.answer(
            db.session,
            actor=current_actor(),
            complaint_id=complaint_id,
            answer_note=data["answer_note"],
            answered_on=data.get("answered_on"),
            now=now_utc(),
        )
        return service.complaint_view(complaint, service.districts(db.session, [complaint]))
