"""Public statistics (矫务公开): open to anyone, without a token. Both the API and the page
read the cache the job ``public_statistics`` fills (corrections/public/service.py), never a
personal table; responses may be cached by anyone (``Cache-Control: public``) and carry an
ETag, so a reader polling them costs one comparison."""

from __future__ import annotations

import hashlib
from datetime import date

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, render_template, request
from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import public
from corrections.core.clock import BUSINESS_TZ
from corrections.core.db import db
from corrections.core.errors import NotFound
from corrections.core.i18n import _
from corrections.public import service
from corrections.public.schemas import PublicQuerySchema, PublicStatisticsSchema

# The figures change once a day (the job); five minutes of caching keeps a busy portal light.
MAX_AGE_SECONDS = 300

blp = Blueprint(
    "public_statistics",
    __name__,
    url_prefix="/api/v1/public",
    description="Public statistics (矫务公开): monthly figures per district, no token needed",
)
page_blp = FlaskBlueprint("public_page", __name__)

# The page has no script at all and loads only its own stylesheet.
PUBLIC_PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _month(text: str | None) -> date | None:
    return None if text is None else date(int(text[:4]), int(text[5:7]), 1)


def _cacheable(resp: Response, tag_source: bytes) -> Response:
    resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    resp.set_etag(hashlib.sha256(tag_source).hexdigest()[:32])
    return resp.make_conditional(request)


@blp.route("/statistics")
class PublicStatistics(MethodView):
    @public
    @blp.arguments(PublicQuerySchema, location="query")
    @blp.response(200, PublicStatisticsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def get(self, args):
        """Monthly figures per district and for the city, with each figure's label and
        definition: the newest months, or ``month=YYYY-MM``. Counts from 1 to 9 read "<10";
        a few more are withheld ("*") so that none of those can be worked out from the city
        total. Cached: ``Cache-Control: public``, ``ETag`` (send ``If-None-Match``)."""
        data = service.published(db.session, month=_month(args.get("month")))
        if data is None:
            raise NotFound(_("No public figures for {month}.", month=args["month"]))
        body = PublicStatisticsSchema().dump(data)
        resp = current_app.response_class(current_app.json.dumps(body), mimetype="application/json")
        return _cacheable(resp, resp.get_data())


@page_blp.get("/public/statistics")
@public
def public_statistics_page() -> Response:
    """The public page (矫务公开): months × districts, every figure's definition, in Chinese;
    server-rendered, no script. ``?month=YYYY-MM`` shows one month."""
    text = request.args.get("month")
    month = None
    if text:
        try:
            month = _month(PublicQuerySchema().load({"month": text})["month"])
        except ma.ValidationError:  # a bad month: the newest months, said on the page
            month = None
    data = service.published(db.session, month=month) if month else None
    missing = bool(text) and data is None
    if data is None:
        data = service.published(db.session)
    periods = [p.isoformat()[:7] for p in service.cached_periods(db.session)]
    grid = []
    for entry in data["months"]:
        cells = {(f["metric"], f["district_code"]): f for f in entry["figures"]}
        grid.append({"month": entry["month"], "cells": cells})
    html = render_template(
        "public_statistics.html",
        data=data,
        grid=grid,
        periods=periods,
        missing=missing,
        tz=BUSINESS_TZ,
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PUBLIC_PAGE_CSP
    return _cacheable(resp, html.encode())
