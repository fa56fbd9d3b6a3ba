"""HTTP layer of the risk model: a person's scores, the model list, training exports.

The modelling libraries load on first use, not when the app starts."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from corrections.core.api import Blueprint
from corrections.core.auth import current_actor, requires
from corrections.core.clock import now_utc
from corrections.core.db import db
from corrections.risk.schemas import (
    ExportInSchema,
    ModelHealthSchema,
    ModelsSchema,
    PersonRiskSchema,
    RiskExplanationSchema,
)

blp = Blueprint(
    "risk",
    __name__,
    url_prefix="/api/v1",
    description="Absconding risk model (脱管风险模型): scores with reasons, models, exports",
)


@blp.route("/persons/<id:person_id>/risk")
class PersonRisk(MethodView):
    @requires("risk:read")
    @blp.response(200, PersonRiskSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """The person's latest risk score with its reasons (Chinese and English), and the
        history of scores. Advice only: a score never changes a grade or a status."""
        from corrections.risk import service

        return service.person_risk(db.session, actor=current_actor(), person_id=person_id)


@blp.route("/persons/<id:person_id>/risk/explanation")
class PersonRiskExplanation(MethodView):
    @requires("risk:read")
    @blp.response(200, RiskExplanationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person_id):
        """An explanation of the person's latest risk score in Chinese (PIPL art. 24): the
        model and its version, the date, the factors that raise the score most with the
        person's values and the typical values, and the statement that the score decides
        nothing. Scoped as the person's risk; audited (``risk.explanation``)."""
        from corrections.risk import service

        return service.person_risk_explanation(
            db.session, actor=current_actor(), person_id=person_id
        )


@blp.route("/risk/models")
class Models(MethodView):
    @requires("risk:models")
    @blp.response(200, ModelsSchema)
    def get(self):
        """Model versions on disk and registered, which one is active, and their cards."""
        from corrections.risk import service

        models = service.list_models(db.session)
        active = next((m["version"] for m in models if m.get("active")), None)
        return {"active": active, "models": models}


@blp.route("/risk/health")
class ModelHealth(MethodView):
    @requires("risk:health")
    @blp.response(200, ModelHealthSchema)
    def get(self):
        """The risk model's health over time (模型监测), newest month first: per monthly check,
        the realised AUC, Brier and calibration on the scores whose 90-day window has closed,
        the population stability index of each feature and of the score, the thresholds of
        rules/risk.yaml and which were crossed. Figures only, no person. Audited
        (``risk.health``)."""
        from corrections.risk import monitoring

        return monitoring.health(db.session, actor=current_actor(), now=now_utc())


def _header(description: str) -> dict:
    return {"description": description, "schema": {"type": "string"}}


EXPORT_HEADERS = {
    "Export-Id": _header("This export's id (its pseudonyms are keyed by it; in the audit row)"),
    "Export-K": _header("Smallest number of persons sharing a row's quasi-identifiers"),
    "Export-Min-K": _header("The k asked for"),
    "Export-Quasi-Identifiers": _header("The quasi-identifier columns, comma-separated"),
    "Export-Rows": _header("Rows in the body"),
    "Export-Rows-Suppressed": _header("Rows dropped: in a class of fewer than min_k persons"),
    "Export-Rows-Generalised": _header("Rows exported with the term columns blank"),
}


@blp.route("/risk/exports")
class Exports(MethodView):
    @requires("risk:export")
    @blp.arguments(ExportInSchema)
    @blp.response(
        200,
        description="Pseudonymised, k-anonymous snapshots (CSV)",
        content_type="text/csv",
        headers=EXPORT_HEADERS,
    )
    def post(self, data):
        """Pseudonymised training snapshots as CSV: a hash keyed by a new export id instead of
        the person id; no name, ID number, phone, address, birth date or exact date; age in
        bands, the snapshot month, the term in bands; every row's quasi-identifiers shared by
        at least ``min_k`` persons (rows in smaller classes lose the term columns, then are
        dropped; 422 on ``min_k`` when more than half would be). The export id and the
        anonymity achieved are in the ``Export-*`` headers. Audited."""
        from corrections.risk import export

        table, result = export.audited(
            db.session,
            actor=current_actor(),
            start=data["from_"],
            end=data["to"],
            every_days=data["every_days"],
            now=now_utc(),
            note=data["note"],
            min_k=data["min_k"],
        )
        body = table.to_csv(index=False)
        name = f"risk-export-{data['from_']:%Y%m%d}-{data['to']:%Y%m%d}.csv"
        return Response(
            body,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
                "Export-Id": result.export_id,
                "Export-K": "" if result.k is None else str(result.k),
                "Export-Min-K": str(result.min_k),
                "Export-Quasi-Identifiers": ",".join(result.quasi_identifiers),
                "Export-Rows": str(result.rows),
                "Export-Rows-Suppressed": str(result.rows_suppressed),
                "Export-Rows-Generalised": str(result.rows_generalised),
            },
        )
