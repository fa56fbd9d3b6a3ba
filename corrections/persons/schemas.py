from __future__ import annotations

import marshmallow as ma

from corrections.core.i18n import _
from corrections.core.links import ActionSchema, EvidenceSchema
from corrections.core.schemas import Date, Identifier, PageQuerySchema, TrimmedString, page_of
from corrections.persons.rules import CATEGORY_IDS, GENDER_IDS, STATUS_IDS

# ASCII digits only ([0-9], not \d): the fields are NFKC-normalised first (Identifier), so
# full-width digits arrive here as ASCII, and any other script's digits are refused.
PHONE = ma.validate.Regexp(
    r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$",
    error=_("must be a mainland mobile or landline number"),
)
ID_SHAPE = ma.validate.Regexp(
    r"^[0-9]{17}[0-9Xx]$", error=_("must be 17 digits followed by a digit or X")
)
SNAKE = ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error=_("must be a known identifier"))


def sealed_marker() -> ma.fields.Boolean:
    """The ``sealed`` member of every person-linked response (privacy.Visibility.SEALED)."""
    return ma.fields.Boolean(
        dump_only=True,
        metadata={
            "description": "True on the stub of a sealed juvenile record (犯罪记录封存): only "
            "ids and dates are shown; reading it takes an approved unseal request"
        },
    )


class PersonWritableSchema(ma.Schema):
    """The fields a client writes. GET returns them under the same names."""

    name = TrimmedString(
        required=True, validate=ma.validate.Length(min=1, max=50), metadata={"description": "姓名"}
    )
    gender = ma.fields.String(required=True, validate=ma.validate.OneOf(GENDER_IDS))
    id_number = Identifier(
        required=True, validate=ID_SHAPE, metadata={"description": "居民身份证号码 (GB 11643)"}
    )
    date_of_birth = Date(required=True)
    offence_date = Date(allow_none=True, load_default=None)
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CATEGORY_IDS))
    crime_type = ma.fields.String(required=True, validate=SNAKE)
    judgment_date = Date(required=True)
    judgment_effective_date = Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "Date the judgment took effect; defaults to judgment_date"},
    )
    term_start = Date(required=True)
    term_end = Date(required=True, metadata={"description": "Last day of the term"})
    has_guarantor = ma.fields.Boolean(load_default=False)
    intake_risk = ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=ma.validate.OneOf(["low", "medium", "high"]),
        metadata={"description": "Risk from the pre-sentence / intake assessment (调查评估)"},
    )
    office_code = Identifier(
        validate=ma.validate.Length(min=1, max=32),
        metadata={"description": "Judicial office code; an officer's own office by default"},
    )
    phone = Identifier(allow_none=True, load_default=None, validate=PHONE)
    address = TrimmedString(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=200)
    )
    employment = ma.fields.String(allow_none=True, load_default=None, validate=SNAKE)
    housing = ma.fields.String(allow_none=True, load_default=None, validate=SNAKE)
    family_contact_name = TrimmedString(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=50)
    )
    family_contact_phone = Identifier(allow_none=True, load_default=None, validate=PHONE)


class CaseloadRowSchema(PersonWritableSchema):
    """One row of a caseload import (名单导入): an intake's fields, and what a person already
    under supervision elsewhere carries over (the grade, whether and when they reported, the
    last contacts). Checked against the rules by ``supervision.caseload``."""

    grade = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.Length(min=1, max=20)
    )
    grade_since = Date(allow_none=True, load_default=None)
    reported_on = Date(allow_none=True, load_default=None)
    last_report_on = Date(allow_none=True, load_default=None)
    last_check_on = Date(allow_none=True, load_default=None)
    last_visit_on = Date(allow_none=True, load_default=None)


# What a caseload row carries over beside the intake's fields.
CARRIED_OVER = tuple(
    name
    for name in CaseloadRowSchema._declared_fields
    if name not in PersonWritableSchema._declared_fields
)


class PersonPatchSchema(PersonWritableSchema):
    """Any writable field but the office (a change of office is a transfer, not an edit)."""

    class Meta:
        exclude = ("office_code",)


class PersonSchema(PersonWritableSchema):
    """A person as returned. Fields the caller may not see are absent or masked."""

    id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    # Personal data is absent for analysts, and all but the term from a sealed record's stub,
    # so nothing is required on output.
    name = ma.fields.String()
    gender = ma.fields.String()
    id_number = ma.fields.String()
    date_of_birth = ma.fields.Date()
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORY_IDS))
    crime_type = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    family_contact_name = ma.fields.String(allow_none=True)
    family_contact_phone = ma.fields.String(allow_none=True)
    # De-identified views (analysts) show these as months, under ``generalised``.
    offence_date = ma.fields.Date(allow_none=True)
    judgment_date = ma.fields.Date()
    judgment_effective_date = ma.fields.Date(allow_none=True)
    term_start = ma.fields.Date()
    term_end = ma.fields.Date()
    age = ma.fields.Integer(dump_only=True)
    juvenile = ma.fields.Boolean(dump_only=True)
    masked_fields = ma.fields.List(ma.fields.String(), dump_only=True)
    age_band = ma.fields.String(
        dump_only=True, metadata={"description": "De-identified views: the age as a band"}
    )
    generalised = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        dump_only=True,
        metadata={"description": "De-identified views: dates as months (YYYY-MM)"},
    )
    gender_label_zh = ma.fields.String(dump_only=True)
    category_label_zh = ma.fields.String(dump_only=True)
    crime_type_label_zh = ma.fields.String(dump_only=True)
    employment_label_zh = ma.fields.String(dump_only=True, allow_none=True)
    housing_label_zh = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(STATUS_IDS))
    grade = ma.fields.String(dump_only=True, allow_none=True)
    grade_label_zh = ma.fields.String(dump_only=True, allow_none=True)
    level = ma.fields.String(dump_only=True, allow_none=True)
    level_label_zh = ma.fields.String(dump_only=True, allow_none=True)
    grade_since = ma.fields.DateTime(dump_only=True, allow_none=True)
    status_label_zh = ma.fields.String(dump_only=True)
    sealed = sealed_marker()
    sealed_label_zh = ma.fields.String(dump_only=True, allow_none=True)
    intake_deadline = ma.fields.Date(dump_only=True, allow_none=True)
    office_name_zh = ma.fields.String(dump_only=True)
    district_code = ma.fields.String(dump_only=True)
    district_name_zh = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


PersonPageSchema = page_of(PersonSchema, "PersonPageSchema")


class PersonQuerySchema(PageQuerySchema):
    office = Identifier(
        validate=ma.validate.Length(min=1, max=32), metadata={"description": "Judicial office code"}
    )
    district = Identifier(
        validate=ma.validate.Length(min=1, max=32), metadata={"description": "District code"}
    )
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORY_IDS))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUS_IDS))
    juvenile = ma.fields.Boolean()
    # The officer's caseload filters (司法所工作台).
    grade = ma.fields.String(
        validate=ma.validate.Regexp(r"^[a-z_]{1,20}$"),
        metadata={"description": "Current grade (rules/grading.yaml grades: strict, ...)"},
    )
    flagged = ma.fields.Boolean(metadata={"description": "Under an active flag (挂牌管控)"})
    due = ma.fields.String(
        validate=ma.validate.OneOf(["overdue", "today", "week"]),
        metadata={
            "description": "With an open obligation due before today (overdue), by today "
            "(today: overdue ones too) or within 7 days (week), in Beijing time"
        },
    )
    risk_band = ma.fields.String(
        validate=ma.validate.OneOf(["low", "medium", "high"]),
        metadata={"description": "The band of the person's latest risk score (advisory)"},
    )


class PersonSearchSchema(PersonQuerySchema):
    """A search by identity: sent as a body, never in a URL (URLs end up in access logs)."""

    q = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={
            "description": "Name contains; or ID number is (18 characters) or ends with (at "
            "least the last 4); or phone is"
        },
    )


class StatusChangeInSchema(ma.Schema):
    to_status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUS_IDS))
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=1000))


class StatusChangeSchema(ma.Schema):
    id = ma.fields.Integer()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    to_status_label_zh = ma.fields.String()
    reason = ma.fields.String()
    actor_username = ma.fields.String()
    changed_at = ma.fields.DateTime()
    sealed = sealed_marker()


# --- sealing (persons/sealing.py) --------------------------------------------------------


class SealSchema(ma.Schema):
    person_id = ma.fields.Integer()
    ground = ma.fields.String()
    ground_label_zh = ma.fields.String()
    sealed_at = ma.fields.DateTime()
    sealed_by = ma.fields.String()
    rules_version = ma.fields.String()


class UnsealRequestInSchema(ma.Schema):
    legal_basis = ma.fields.String(
        required=True,
        validate=SNAKE,
        metadata={
            "description": "judicial_case (司法机关为办案需要) or statutory_inquiry "
            "(有关单位根据国家规定进行查询): rules/persons.yaml sealing.legal_bases"
        },
    )
    reason = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=1000),
        metadata={"description": "查询的理由: the case or the regulation, the requesting body"},
    )


class UnsealDecisionInSchema(ma.Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approve", "refuse"]))
    note = TrimmedString(
        load_default=None,
        validate=ma.validate.Length(min=2, max=1000),
        metadata={"description": "Required to refuse"},
    )


class UnsealRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    legal_basis = ma.fields.String()
    legal_basis_label_zh = ma.fields.String(allow_none=True)
    article = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    status = ma.fields.String(
        validate=ma.validate.OneOf(["pending", "approved", "refused", "expired"]),
        metadata={"description": "expired: approved, and the grant's time is over"},
    )
    status_label_zh = ma.fields.String()
    requested_by = ma.fields.String()
    requested_at = ma.fields.DateTime()
    decided_by = ma.fields.String(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    decision_note = ma.fields.String(allow_none=True)
    expires_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "An approval lets the requester read until"}
    )
    rules_version = ma.fields.String()


# --- decision queues (persons/listing.py) ------------------------------------------------


class PersonBriefSchema(ma.Schema):
    """A record's person beside it in a list: the name as the caller may see it (a juvenile's
    masked outside their own office and district; none for analysts)."""

    id = ma.fields.Integer()
    name = ma.fields.String(
        allow_none=True, metadata={"description": "姓名, masked as the role requires"}
    )
    office_code = ma.fields.String()
    office_name_zh = ma.fields.String()


class RuleRefSchema(ma.Schema):
    rule_id = ma.fields.String(metadata={"description": "The rule's id in rules/*.yaml"})
    label_zh = ma.fields.String(allow_none=True)
    article = ma.fields.String(allow_none=True)


class QueueItemSchema(ma.Schema):
    """What every item of a decision queue carries beside its own fields, the same for every
    kind of decision (mixed into each queue's item schema)."""

    person_id = ma.fields.Integer()
    person = ma.fields.Nested(PersonBriefSchema)
    decision_type = ma.fields.String(
        metadata={"description": "grade_decision, sanction_proposal, flag, travel_permit"}
    )
    decision_type_label_zh = ma.fields.String()
    proposed_zh = ma.fields.String(metadata={"description": "What is proposed, in Chinese"})
    rules = ma.fields.List(
        ma.fields.Nested(RuleRefSchema),
        metadata={"description": "The rules and articles the proposal rests on"},
    )
    evidence_refs = ma.fields.List(
        ma.fields.Nested(EvidenceSchema),
        metadata={"description": "The records it rests on (events, episodes, obligations ...)"},
    )
    proposed_by = ma.fields.String(allow_none=True)
    proposed_at = ma.fields.DateTime(allow_none=True)
    decided_at_level = ma.fields.String(
        allow_none=True, metadata={"description": "office, district or city: who decides it"}
    )
    decided_at_level_label_zh = ma.fields.String(allow_none=True)
    actions = ma.fields.List(
        ma.fields.Nested(ActionSchema),
        metadata={"description": "What decides it: method, URL, the body's schema"},
    )
