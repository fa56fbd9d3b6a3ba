from __future__ import annotations

import marshmallow as ma

from corrections.core.i18n import _
from corrections.core.schemas import Date, Integer, TrimmedString
from corrections.persons.schemas import sealed_marker

BANDS = ["low", "medium", "high"]


class RiskReasonSchema(ma.Schema):
    feature = ma.fields.String(required=True)
    label_zh = ma.fields.String(required=True)
    label_en = ma.fields.String(required=True)
    value = ma.fields.Raw(allow_none=True, metadata={"description": "The person's value"})
    typical = ma.fields.Raw(allow_none=True, metadata={"description": "The typical value"})
    value_label_zh = ma.fields.Raw(
        allow_none=True, metadata={"description": "The value as the page says it (假释)"}
    )
    typical_label_zh = ma.fields.Raw(allow_none=True)
    effect = ma.fields.Float(
        required=True,
        metadata={"description": "How much lower the probability is with the typical value"},
    )


class ScoreSchema(ma.Schema):
    scored_at = ma.fields.AwareDateTime(required=True)
    model_version = ma.fields.String(required=True)
    probability = ma.fields.Float(required=True)
    band = ma.fields.String(required=True, validate=ma.validate.OneOf(BANDS))
    band_label_zh = ma.fields.String(required=True)
    reasons = ma.fields.List(ma.fields.Nested(RiskReasonSchema))


class PersonRiskSchema(ma.Schema):
    person_id = ma.fields.Integer(required=True)
    # Absent from a sealed record's stub (person_id and the marker only).
    latest = ma.fields.Nested(ScoreSchema, allow_none=True)
    history = ma.fields.List(ma.fields.Nested(ScoreSchema))
    note_zh = ma.fields.String()
    sealed = sealed_marker()


class ExplanationFactorSchema(RiskReasonSchema):
    typical_basis_zh = ma.fields.String(
        metadata={"description": "Where the typical value comes from (训练数据的中位数)"}
    )


class RiskExplanationSchema(ma.Schema):
    """The explanation of a person's latest score (PIPL art. 24), in Chinese."""

    person_id = ma.fields.Integer(required=True)
    scored = ma.fields.Boolean(
        metadata={"description": "Whether the person has a score (false: nothing to explain)"}
    )
    model_version = ma.fields.String(metadata={"description": "The model that scored"})
    model_created_at = ma.fields.String(
        allow_none=True, metadata={"description": "When the model was trained (its card)"}
    )
    model_holdout_auc = ma.fields.Float(allow_none=True)
    scored_at = ma.fields.AwareDateTime()
    scored_on = Date(metadata={"description": "The day of the score (Asia/Shanghai)"})
    probability = ma.fields.Float()
    band = ma.fields.String(validate=ma.validate.OneOf(BANDS))
    band_label_zh = ma.fields.String()
    factors = ma.fields.List(
        ma.fields.Nested(ExplanationFactorSchema),
        metadata={
            "description": "The factors that raise the score most: the person's value, the "
            "typical value (training median or most common category) and how much lower the "
            "probability would be with the typical value"
        },
    )
    statement_zh = ma.fields.String(
        metadata={"description": "That the score is advice only and decides nothing"}
    )
    legal_basis_zh = ma.fields.String()
    text_zh = ma.fields.String(
        metadata={"description": "The whole explanation as printable text, one line each"}
    )
    sealed = sealed_marker()


class RecordedSchema(ma.Schema):
    sha256 = ma.fields.String(allow_none=True)
    card_sha256 = ma.fields.String(allow_none=True)
    holdout_auc = ma.fields.Float(allow_none=True)
    signed_by = ma.fields.String(allow_none=True)


class ModelSchema(ma.Schema):
    version = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    on_disk = ma.fields.Boolean(required=True)
    problem = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String(allow_none=True, metadata={"description": "The model file's"})
    card_sha256 = ma.fields.String(
        allow_none=True, metadata={"description": "The card's checksum (what a reviewer signs)"}
    )
    activated_at = ma.fields.AwareDateTime(allow_none=True)
    activated_by = ma.fields.String(allow_none=True)
    signed_by = ma.fields.String(
        allow_none=True,
        metadata={"description": "Who signed the card with this instance's key (none: unsigned)"},
    )
    signed_at = ma.fields.String(allow_none=True)
    card = ma.fields.Dict(allow_none=True, metadata={"description": "The model card's summary"})
    recorded = ma.fields.Nested(
        RecordedSchema,
        allow_none=True,
        metadata={
            "description": "What the database recorded when the model was signed or activated, "
            "when the files on disk differ from it (then `problem` says so); the other members "
            "are always the files' own"
        },
    )


class ModelsSchema(ma.Schema):
    active = ma.fields.String(allow_none=True, required=True)
    models = ma.fields.List(ma.fields.Nested(ModelSchema), required=True)


class ExportInSchema(ma.Schema):
    from_ = Date(required=True, data_key="from")
    to = Date(required=True)
    every_days = Integer(load_default=30, validate=ma.validate.Range(min=1, max=366))
    note = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=500),
        metadata={"description": "What the export is for (kept in the audit trail)"},
    )
    min_k = Integer(
        load_default=None,
        validate=ma.validate.Range(min=2),
        metadata={
            "description": "Every row's quasi-identifiers shared by at least this many persons "
            "(default RISK_EXPORT_MIN_K, 5); smaller classes lose the term columns, then are "
            "dropped; more than half dropped: 422"
        },
    )

    @ma.validates_schema
    def _span(self, data, **_kwargs):
        if data["to"] < data["from_"]:
            raise ma.ValidationError(_("must not be before from"), field_name="to")
        if (data["to"] - data["from_"]).days // data["every_days"] >= 120:
            raise ma.ValidationError(
                _("at most 120 snapshot days per export"), field_name="every_days"
            )


class MonitoringCheckSchema(ma.Schema):
    """One month's check of a model (risk/monitoring.py): figures only."""

    month = ma.fields.String(required=True)
    model_version = ma.fields.String(required=True)
    run_at = ma.fields.AwareDateTime(required=True)
    rules_version = ma.fields.String(required=True)
    window_start = ma.fields.AwareDateTime(allow_none=True)
    window_end = ma.fields.AwareDateTime(allow_none=True)
    scores = ma.fields.Integer(required=True, metadata={"description": "Matured scores"})
    positives = ma.fields.Integer(required=True)
    auc = ma.fields.Float(allow_none=True)
    brier = ma.fields.Float(allow_none=True)
    calibration_slope = ma.fields.Float(allow_none=True)
    calibration_intercept = ma.fields.Float(allow_none=True)
    calibration_bins = ma.fields.List(ma.fields.Dict(), required=True)
    holdout_auc = ma.fields.Float(allow_none=True)
    holdout_brier = ma.fields.Float(allow_none=True)
    psi_at = ma.fields.AwareDateTime(allow_none=True)
    reference_at = ma.fields.AwareDateTime(allow_none=True)
    psi_score = ma.fields.Float(allow_none=True)
    psi = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(), required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "ok, alert (thresholds crossed), insufficient"}
    )
    crossed = ma.fields.List(ma.fields.Dict(), required=True)
    alert_id = Integer(allow_none=True)


class ModelHealthSchema(ma.Schema):
    active_model = ma.fields.String(allow_none=True, required=True)
    thresholds = ma.fields.Dict(required=True)
    feature_labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    checks = ma.fields.List(ma.fields.Nested(MonitoringCheckSchema), required=True)
