from __future__ import annotations

import marshmallow as ma

from corrections.core.schemas import Date, Id, PageQuerySchema, TrimmedString, page_of
from corrections.incidents.rules import PROPOSAL_KINDS
from corrections.persons.schemas import PersonBriefSchema, QueueItemSchema, sealed_marker

_note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=4000))


class IncidentOpenSchema(ma.Schema):
    state = ma.fields.String(
        load_default="overdue", validate=ma.validate.OneOf(["overdue", "lost_contact"])
    )
    note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=4000))


class AbscondedSchema(ma.Schema):
    search_record = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=10, max=8000),
        metadata={"description": "What was done to find the person (查找记录)"},
    )


class IncidentCloseSchema(ma.Schema):
    reason = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["returned", "found", "custody", "revoked"])
    )
    note = TrimmedString(validate=ma.validate.Length(min=1, max=4000), load_default=None)


class ProposalDecisionSchema(ma.Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["accepted", "declined"]))
    note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=4000))
    # Accepting a warning or a revocation / return to custody needs one of these (陈述/申辩).
    statement = TrimmedString(
        validate=ma.validate.Length(min=2, max=8000),
        load_default=None,
        metadata={"description": "The person's statement (陈述/申辩) taken before the decision"},
    )
    statement_not_taken_reason = TrimmedString(
        validate=ma.validate.Length(min=2, max=4000),
        load_default=None,
        metadata={"description": "Why the statement could not be taken (e.g. absconded)"},
    )
    document_number = TrimmedString(
        validate=ma.validate.Length(min=2, max=64),
        load_default=None,
        metadata={
            "description": "The number of the document that puts an accepted proposal to its "
            "decider (撤销缓刑、假释建议书 / 收监执行建议书): it goes to the court with it"
        },
    )


class ProposalInSchema(ma.Schema):
    """A sanction a judicial office proposes (经司法所调查核实), with its ground and evidence."""

    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(PROPOSAL_KINDS),
        metadata={"description": "admonition, warning, police_penalty, revocation ..."},
    )
    ground = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=3, max=80),
        metadata={"description": "A ground's code: GET /api/v1/reasons?kind=proposal_ground"},
    )
    facts = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=4, max=4000),
        metadata={"description": "What the office found (调查核实的事实)"},
    )
    event_ids = ma.fields.List(
        Id(validate=ma.validate.Range(min=1, max=2**62)),
        required=True,
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "The person's recorded events the proposal rests on"},
    )


class ProposalQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    status = ma.fields.String(
        validate=ma.validate.OneOf(["proposed", "accepted", "declined"]),
        metadata={"description": "Only proposals in this state"},
    )


class ProposalSchema(ma.Schema):
    id = ma.fields.Integer()
    incident_id = ma.fields.Integer(allow_none=True)
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    status = ma.fields.String()
    article = ma.fields.String(allow_none=True)
    rules_version = ma.fields.String(allow_none=True)
    statement = ma.fields.String(allow_none=True)
    statement_not_taken_reason = ma.fields.String(allow_none=True)
    decision_rules_version = ma.fields.String(allow_none=True)
    decision_document_number = ma.fields.String(allow_none=True)
    court_ruling = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The court's ruling on an accepted revocation / custody proposal, "
            "as its notice came in: granted | refused (None: none yet)"
        },
    )
    court_ruled_on = ma.fields.Date(allow_none=True)
    court_document_number = ma.fields.String(allow_none=True)
    absence_days = ma.fields.Integer()
    evidence = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)
    decided_by = ma.fields.String(allow_none=True)
    decision_note = ma.fields.String(allow_none=True)
    proposed_by = ma.fields.String(
        metadata={"description": "The officer who proposed it, or system (the rules)"}
    )
    sealed = sealed_marker()


class ProposalQueueQuerySchema(PageQuerySchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(["proposed", "accepted", "declined"]),
        metadata={"description": "proposed: waiting for a decision (the queue)"},
    )
    kind = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PROPOSAL_KINDS)),
        load_default=None,
        metadata={"description": "Repeat for several (revocation, return_to_custody ...)"},
    )


class ProposalQueueItemSchema(ProposalSchema, QueueItemSchema):
    ground = ma.fields.String(
        allow_none=True, metadata={"description": "absence, warnings, prohibition ..."}
    )
    ground_label_zh = ma.fields.String(allow_none=True)


ProposalQueuePageSchema = page_of(ProposalQueueItemSchema, "ProposalQueuePageSchema")


class IncidentSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    state = ma.fields.String()
    state_label_zh = ma.fields.String()
    trigger_type = ma.fields.String()
    trigger_id = ma.fields.Integer()
    overdue_since = ma.fields.DateTime()
    out_of_supervision_since = ma.fields.DateTime(allow_none=True)
    opened_at = ma.fields.DateTime()
    opened_by = ma.fields.String()
    last_contact_at = ma.fields.DateTime(allow_none=True)
    lost_contact_at = ma.fields.DateTime(allow_none=True)
    absconded_at = ma.fields.DateTime(allow_none=True)
    confirmed_by = ma.fields.String(allow_none=True)
    search_record = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    closed_by = ma.fields.String(allow_none=True)
    close_reason = ma.fields.String(allow_none=True)
    close_reason_label_zh = ma.fields.String(allow_none=True)
    close_note = ma.fields.String(allow_none=True)
    absence_days = ma.fields.Integer(allow_none=True)
    proposals = ma.fields.List(ma.fields.Nested(ProposalSchema))
    version = ma.fields.Integer()
    sealed = sealed_marker()


class OpenIncidentSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    office_id = ma.fields.Integer()
    district_id = ma.fields.Integer()
    state = ma.fields.String()
    state_label_zh = ma.fields.String()
    last_contact_at = ma.fields.DateTime(allow_none=True)
    hours_since_contact = ma.fields.Integer()
    absence_days = ma.fields.Integer()
    opened_at = ma.fields.DateTime()
    person = ma.fields.Nested(PersonBriefSchema)
    sealed = sealed_marker()


class FlagInSchema(ma.Schema):
    level = ma.fields.String(required=True, validate=ma.validate.OneOf(["district", "office"]))
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=4000))
    responsible_officer_id = Id(required=True, validate=ma.validate.Range(min=1, max=2**62))
    review_due_on = Date(load_default=None)


class FlagReviewSchema(ma.Schema):
    note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=4000))
    next_review_on = Date(load_default=None)


class FlagCloseSchema(ma.Schema):
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=4000))


class FlagReviewEntrySchema(ma.Schema):
    at = ma.fields.String()
    by = ma.fields.String()
    note = ma.fields.String()


class FlagSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    office_id = ma.fields.Integer(allow_none=True)
    district_id = ma.fields.Integer(allow_none=True)
    level = ma.fields.String()
    level_label_zh = ma.fields.String()
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    reason = ma.fields.String()
    basis = ma.fields.String(allow_none=True)
    responsible_officer_id = ma.fields.Integer(allow_none=True)
    review_due_on = ma.fields.Date(allow_none=True)
    opened_at = ma.fields.DateTime()
    opened_by = ma.fields.String()
    last_reviewed_at = ma.fields.DateTime(allow_none=True)
    reviews = ma.fields.List(ma.fields.Nested(FlagReviewEntrySchema))
    closed_at = ma.fields.DateTime(allow_none=True)
    closed_by = ma.fields.String(allow_none=True)
    close_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    sealed = sealed_marker()


class FlagListItemSchema(FlagSchema, QueueItemSchema):
    """A flag as ``GET /flags`` lists it: with its person and what decides it."""


FlagPageSchema = page_of(FlagListItemSchema, "FlagPageSchema")


class FlagQuerySchema(PageQuerySchema):
    status = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(["proposed", "active", "converted", "declined"]),
    )
    level = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["district", "office"]))
