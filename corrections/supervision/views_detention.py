"""HTTP layer of detentions: a person held by another authority, and the release."""

from __future__ import annotations

from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.db import db
from corrections.supervision import detention
from corrections.supervision.schemas import DetentionInSchema, DetentionSchema, ReleaseInSchema

blp = Blueprint(
    "detention",
    __name__,
    url_prefix="/api/v1",
    description="A person held by another authority (拘留, 强制隔离戒毒, 刑事强制措施): "
    "obligations pause until the release",
)


@blp.route("/persons/<id:person_id>/detentions")
class Detentions(MethodView):
    @requires("events:read")
    @blp.response(200, DetentionSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's detentions, latest first."""
        actor = current_actor()
        person, rows = detention.list_detentions(db.session, actor=actor, person_id=person_id)
        return detention.detention_views(db.session, actor, person, rows)

    @requires("events:write")
    @blp.arguments(DetentionInSchema)
    @blp.response(201, DetentionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id):
        """Record that the person is held from start_date (the person's office or above):
        nothing falls due until the release."""
        actor = current_actor()
        record = detention.record_detention(db.session, actor=actor, person_id=person_id, data=data)
        return detention.detention_view(db.session, actor, record), 201


@blp.route("/persons/<id:person_id>/detentions/<id:detention_id>/release")
class DetentionRelease(MethodView):
    @requires("events:write")
    @blp.arguments(ReleaseInSchema)
    @blp.response(200, DetentionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data, person_id, detention_id):
        """Record the release on end_date: obligations are planned again from that day."""
        actor = current_actor()
        record = detention.release(
            db.session,
            actor=actor,
            person_id=person_id,
            detention_id=detention_id,
            end_date=data["end_date"],
            note=data["note"],
        )
        return detention.detention_view(db.session, actor, record)
