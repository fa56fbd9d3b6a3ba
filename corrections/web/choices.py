"""The lists a decision form chooses from, from the rules files (the staff of a unit are at
``GET /api/v1/units/{code}/staff``): a page never asks anyone to type a code or an id."""

from __future__ import annotations

from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import requires
from corrections.web import reasons
from corrections.web.schemas import ReasonChoiceQuerySchema, ReasonChoiceSchema

blp = Blueprint(
    "choices",
    __name__,
    url_prefix="/api/v1",
    description="Choices for decision forms: reasons and grounds with their articles",
)


@blp.route("/reasons")
class Reasons(MethodView):
    @requires("rules:read")
    @blp.arguments(ReasonChoiceQuerySchema, location="query")
    @blp.response(200, ReasonChoiceSchema(many=True))
    def get(self, args):
        """The reasons and grounds the rules files define, each with its code (the value the
        API takes), Chinese label, the article it rests on and, where it applies, who decides
        it and what it proposes: grades and stricter-grade rules, sanctions and their grounds,
        revocation grounds per category, monitoring grounds (Art. 29), terminations and
        discharges, flag levels, travel conditions, how an episode closes, detentions, unseal
        bases (``kind`` selects). A flag's or a trip's reason is the officer's own text."""
        return reasons.reasons(args["kind"])
