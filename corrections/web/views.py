from __future__ import annotations

from pathlib import Path

import plotly
from flask import Blueprint, Response, abort, jsonify, render_template, send_from_directory
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path

from corrections.core.auth import public
from corrections.core.db import db
from corrections.core.errors import problem_response
from corrections.extensions import api

blp = Blueprint("web", __name__, template_folder="templates")
STATIC_DIR = Path(__file__).parent / "static"

_SWAGGER_ASSETS = {
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
}
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
)


@blp.get("/healthz")
@public
def healthz() -> Response:
    """Load-balancer check: 200 when the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return problem_response(
            503, detail="The database is not reachable.", headers={"Retry-After": "5"}
        )
    return jsonify(status="ok", database="ok")


@blp.get("/api/openapi.json")
@public
def openapi_json() -> Response:
    return jsonify(api.spec.to_dict())


@blp.get("/api/docs")
@public
def docs() -> Response:
    resp = Response(render_template("docs.html"))
    resp.headers["Content-Security-Policy"] = DOCS_CSP
    return resp


@blp.get("/api/docs/assets/<path:filename>")
@public
def docs_assets(filename: str) -> Response:
    if filename not in _SWAGGER_ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


# The command centre: scripts only from this server (no inline script, no eval); the chart
# library sets inline styles, which is why styles may be inline. Data goes in as text.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_CHART_JS = Path(plotly.__file__).parent / "package_data"


@blp.get("/command-centre")
@public
def command_centre() -> Response:
    """The command-centre page (指挥中心): signs in with the same accounts; all data comes from
    the API with the user's token, so scope is the API's."""
    resp = Response(render_template("command_centre.html"))
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.get("/command-centre/assets/plotly.min.js")
@public
def chart_library() -> Response:
    """plotly.js as the plotly Python package ships it (installed with the project)."""
    return send_from_directory(str(_CHART_JS), "plotly.min.js", max_age=86400)


@blp.get("/static/web/<path:filename>")
@public
def static(filename: str) -> Response:
    """The project's own page assets."""
    return send_from_directory(str(STATIC_DIR), filename, max_age=3600)
