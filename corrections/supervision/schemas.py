"""Request and response schemas of the supervision log, obligations, travel and monitoring."""

from __future__ import annotations

import functools

import marshmallow as ma

from corrections.core.i18n import _
from corrections.core.schemas import (
    Date,
    DateTime,
    Id,
    Identifier,
    PageQuerySchema,
    TrimmedString,
    page_of,
)
from corrections.persons.schemas import PersonBriefSchema, QueueItemSchema, sealed_marker
from corrections.supervision.rules import (
    CHANNELS,
    DETENTION_KINDS,
    EVENT_TYPES,
    LEVELS,
    MONITORING_GROUNDS,
    OBLIGATION_KINDS,
    PERMIT_STATUSES,
)

_HOURS = ma.fields.Float(
    required=True,
    validate=ma.validate.Range(
        min=0, min_inclusive=False, max=24, error=_("must be more than 0 and at most 24")
    ),
)
_TEXT = TrimmedString(validate=ma.validate.Length(min=1, max=500))


class _Payload(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ReportPayload(_Payload):
    late = ma.fields.Boolean(load_default=False, metadata={"description": "Reported late"})


class CheckPayload(_Payload):
    success = ma.fields.Boolean(required=True)
    within_area = ma.fields.Boolean(
        metadata={"description": "Location check: inside the permitted area"}
    )


class FieldVisitPayload(_Payload):
    person_present = ma.fields.Boolean(load_default=True)


class TalkPayload(_Payload):
    topic = _TEXT


class EducationPayload(_Payload):
    hours = _HOURS
    topic = _TEXT


class ServicePayload(_Payload):
    hours = _HOURS
    place = _TEXT


class AddressChangePayload(_Payload):
    new_address = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=200))


class JobChangePayload(_Payload):
    employment = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z_]{2,20}$"))
    employer = _TEXT


class FamilyEventPayload(_Payload):
    description = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=500))


class ContactFailedPayload(_Payload):
    method = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["phone", "visit", "app", "video"])
    )
    reason = _TEXT


class PoliceNotifiedPayload(_Payload):
    """A search action (Art. 30): the police were asked to help find the person."""

    police_unit = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=100))
    reference = TrimmedString(validate=ma.validate.Length(min=1, max=64))


class CommendationPayload(_Payload):
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=500))


class SanctionPayload(_Payload):
    legal_ground = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=500),
        metadata={"description": "e.g. 《社区矫正法实施办法》第三十五条"},
    )
    evidence_event_ids = ma.fields.List(
        Id(),
        required=True,
        validate=ma.validate.Length(min=1, max=50),
    )
    document_number = TrimmedString(validate=ma.validate.Length(min=1, max=64))


class PolicePenaltyProposalPayload(SanctionPayload):
    """提请治安管理处罚 (实施办法 36): the district asks the police; a copy to the procuratorate."""

    police_unit = TrimmedString(validate=ma.validate.Length(min=2, max=100))


class PolicePenaltyPayload(SanctionPayload):
    """The police's decision on the agency's proposal, recorded with its document number."""

    proposal_event_id = Id(required=True)
    document_number = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "The police's decision (治安管理处罚决定书) number"},
    )


class ProhibitionBreachPayload(_Payload):
    description = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=500))
    severity = ma.fields.String(required=True, validate=ma.validate.OneOf(["minor", "serious"]))


class MonitorAlarmPayload(_Payload):
    alarm = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["tamper", "boundary", "battery"])
    )
    device_id = TrimmedString(validate=ma.validate.Length(min=1, max=64))


class EmptyPayload(_Payload):
    pass


_DOCUMENT = TrimmedString(validate=ma.validate.Length(min=1, max=64))


class HealthReportPayload(_Payload):
    """暂予监外执行: the person's monthly report on their health (实施办法 24)."""

    condition = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=500),
        metadata={"description": "The health condition as reported (health data: sensitive)"},
    )


class MedicalReexamPayload(_Payload):
    """保外就医: the re-examination results from the designated hospital (实施办法 24)."""

    hospital = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=100))
    document_number = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "The hospital's examination report or diagnosis number"},
    )
    examined_on = Date(metadata={"description": "Day of the examination"})
    findings = _TEXT


class ReleaseConditionEndedPayload(_Payload):
    """The reason for temporary execution outside prison has ceased (刑事诉讼法 268(3))."""

    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=500))
    document_number = _DOCUMENT


class TermSummaryPayload(_Payload):
    """The summary before the term ends and the agency's written assessment (实施办法 53)."""

    document_number = _DOCUMENT


PAYLOADS: dict[str, type[ma.Schema]] = {
    "report": ReportPayload,
    "phone_check": CheckPayload,
    "location_check": CheckPayload,
    "field_visit": FieldVisitPayload,
    "talk": TalkPayload,
    "education": EducationPayload,
    "community_service": ServicePayload,
    "address_change": AddressChangePayload,
    "job_change": JobChangePayload,
    "family_event": FamilyEventPayload,
    "contact_attempt_failed": ContactFailedPayload,
    "police_notified": PoliceNotifiedPayload,
    "commendation": CommendationPayload,
    "admonition": SanctionPayload,
    "warning": SanctionPayload,
    "police_penalty": PolicePenaltyPayload,
    "police_penalty_proposal": PolicePenaltyProposalPayload,
    "prohibition_breach": ProhibitionBreachPayload,
    "monitor_alarm": MonitorAlarmPayload,
    "travel_departure": EmptyPayload,
    "travel_return": EmptyPayload,
    "note": EmptyPayload,
    "health_report": HealthReportPayload,
    "medical_reexam": MedicalReexamPayload,
    "release_condition_ended": ReleaseConditionEndedPayload,
    "term_summary": TermSummaryPayload,
}
# Recorded through the travel-permit endpoints, not posted directly.
PERMIT_EVENTS = ("travel_departure", "travel_return")


@functools.cache
def _payload_schemas() -> dict[str, ma.Schema]:
    """Each event type's payload schema, instantiated once (schemas keep no state between
    loads; instantiating one copies its fields, which cost that much on every event)."""
    return {type_: schema() for type_, schema in PAYLOADS.items()}


class EventInSchema(ma.Schema):
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([t for t in EVENT_TYPES if t not in PERMIT_EVENTS]),
    )
    occurred_at = DateTime(required=True)
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS), load_default=None)
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)
    payload = ma.fields.Dict(
        load_default=dict,
        metadata={
            "description": "Fields per type: report {late}, phone_check/location_check {success, "
            "within_area}, education/community_service {hours, topic/place}, "
            "admonition/warning/police_penalty {legal_ground, evidence_event_ids, "
            "document_number}, monitor_alarm {alarm}, ..."
        },
    )
    corrects_id = Id(
        load_default=None,
        metadata={"description": "The event this one corrects"},
    )

    @ma.validates_schema
    def _payload(self, data, **kwargs):
        schema = _payload_schemas().get(data.get("type"))
        if schema is None:
            return
        try:
            data["payload"] = schema.load(data.get("payload") or {})
        except ma.ValidationError as exc:
            raise ma.ValidationError({f"payload.{k}": v for k, v in exc.messages.items()}) from exc


class SanctionSchema(ma.Schema):
    decided_by = ma.fields.String()
    decider_level = ma.fields.String()
    legal_ground = ma.fields.String()
    evidence_event_ids = ma.fields.List(ma.fields.Integer())
    document_number = ma.fields.String(allow_none=True)
    decided_at = ma.fields.DateTime()
    article = ma.fields.String(allow_none=True)
    rules_version = ma.fields.String(allow_none=True)
    notify_procuratorate = ma.fields.Boolean()


class EventSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    type = ma.fields.String()
    type_label_zh = ma.fields.String()
    occurred_at = ma.fields.DateTime()
    recorded_at = ma.fields.DateTime()
    recorded_by = ma.fields.String()
    channel = ma.fields.String(allow_none=True)
    channel_label_zh = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    payload = ma.fields.Dict()
    corrects_id = ma.fields.Integer(allow_none=True)
    corrected_by_id = ma.fields.Integer(allow_none=True)
    sanction = ma.fields.Nested(SanctionSchema, allow_none=True)
    sealed = sealed_marker()


EventPageSchema = page_of(EventSchema, "EventPageSchema")


class EventQuerySchema(PageQuerySchema):
    type = ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES))
    since = DateTime()
    until = DateTime()


class ObligationSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    office_code = ma.fields.String()
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    opens_on = ma.fields.Date()
    due_on = ma.fields.Date()
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    grade = ma.fields.String(allow_none=True)
    hours_required = ma.fields.Float(allow_none=True)
    hours_done = ma.fields.Float(allow_none=True)
    fulfilled_by_event_id = ma.fields.Integer(allow_none=True)
    fulfilled_at = ma.fields.DateTime(allow_none=True)
    closed_reason = ma.fields.String(allow_none=True)
    event_types = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "The event types that fulfil it (forms: GET /event-types)"},
    )
    urgency = ma.fields.String(
        metadata={
            "description": "An open one's: overdue, today (due today), soon (within 7 days), "
            "later; none once closed"
        }
    )
    urgency_label_zh = ma.fields.String()
    person = ma.fields.Nested(
        PersonBriefSchema, metadata={"description": "In the work list (GET /obligations)"}
    )
    sealed = sealed_marker()


ObligationPageSchema = page_of(ObligationSchema, "ObligationPageSchema")
OBLIGATION_STATUSES = ("open", "fulfilled", "missed", "excused")


class ObligationQuerySchema(PageQuerySchema):
    status = ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_STATUSES))
    kind = ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_KINDS))
    due_before = Date(metadata={"description": "Due on or before this day"})
    due = ma.fields.String(
        validate=ma.validate.OneOf(["overdue", "today", "week"]),
        metadata={
            "description": "Due before today (overdue), by today (today: overdue ones too) or "
            "within 7 days (week), today in Beijing time"
        },
    )
    office = Identifier(validate=ma.validate.Length(min=1, max=32))
    todo = ma.fields.Boolean(
        metadata={
            "description": "What is still to do: open obligations, and missed ones not yet "
            "answered (their alert still live), whatever status says"
        }
    )


class PersonObligationQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_STATUSES))
    kind = ma.fields.String(validate=ma.validate.OneOf(OBLIGATION_KINDS))


class PermitInSchema(ma.Schema):
    destination = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=200))
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=1000))
    start_date = Date(required=True)
    end_date = Date(required=True)


class TravelConditionSchema(ma.Schema):
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()


class TravelReasonSchema(ma.Schema):
    rule_id = ma.fields.String()
    article = ma.fields.String()
    explanation = ma.fields.String()


class PermitSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    destination = ma.fields.String()
    reason = ma.fields.String()
    start_date = ma.fields.Date()
    end_date = ma.fields.Date()
    days = ma.fields.Integer()
    approval_level = ma.fields.String()
    approval_level_label_zh = ma.fields.String()
    notify_procuratorate = ma.fields.Boolean(
        metadata={"description": "City approval: the procuratorate is notified (实施办法 27)"}
    )
    conditions = ma.fields.List(ma.fields.Nested(TravelConditionSchema))
    decision_reasons = ma.fields.List(ma.fields.Nested(TravelReasonSchema))
    rules_version = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    status_label_zh = ma.fields.String()
    requested_by = ma.fields.String()
    requested_at = ma.fields.DateTime()
    decided_by = ma.fields.String(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    decision_note = ma.fields.String(allow_none=True)
    departed_at = ma.fields.DateTime(allow_none=True)
    returned_at = ma.fields.DateTime(allow_none=True)
    sealed = sealed_marker()


class PermitQueueQuerySchema(PageQuerySchema):
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PERMIT_STATUSES)),
        load_default=None,
        metadata={"description": "Repeat for several; requested: waiting for a decision"},
    )
    approval_level = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(LEVELS)),
        load_default=None,
        metadata={"description": "Who approves it: office, district, city (repeat for several)"},
    )


class PermitQueueItemSchema(PermitSchema, QueueItemSchema):
    """A travel permit as ``GET /travel-permits`` lists it: with its person and what decides
    it."""


PermitQueuePageSchema = page_of(PermitQueueItemSchema, "PermitQueuePageSchema")


class NoteSchema(ma.Schema):
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class RequiredNoteSchema(ma.Schema):
    note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))


class MovementSchema(ma.Schema):
    occurred_at = DateTime(required=True)
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class MonitoringInSchema(ma.Schema):
    ground = ma.fields.String(required=True, validate=ma.validate.OneOf(MONITORING_GROUNDS))
    start_date = Date(required=True)
    end_date = Date(required=True)
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class ExtendSchema(ma.Schema):
    end_date = Date(required=True)
    reassessment_note = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))


class MonitoringSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    ground = ma.fields.String()
    ground_number = ma.fields.Integer()
    ground_label_zh = ma.fields.String()
    start_date = ma.fields.Date()
    end_date = ma.fields.Date()
    approved_by = ma.fields.String()
    approved_at = ma.fields.DateTime()
    note = ma.fields.String(allow_none=True)
    extends_id = ma.fields.Integer(allow_none=True)
    removed_at = ma.fields.DateTime(allow_none=True)
    removed_by = ma.fields.String(allow_none=True)
    removal_reason = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    sealed = sealed_marker()


class DischargeSchema(ma.Schema):
    certificate_number = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=64))
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)
    ground = ma.fields.String(
        load_default="expiry",
        validate=ma.validate.OneOf(["expiry", "pardon"]),
        metadata={"description": "expiry: the term is over; pardon: 赦免 (社区矫正法 44)"},
    )
    document_number = TrimmedString(
        validate=ma.validate.Length(min=2, max=64),
        load_default=None,
        metadata={"description": "The pardon's document (required for ground pardon)"},
    )


class TerminationSchema(ma.Schema):
    kind = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["revocation", "return_to_custody", "death"])
    )
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))
    ended_on = Date(required=True)
    document_number = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=64),
        metadata={
            "description": "What grounds it: the court ruling (revocation), the custody decision "
            "(return_to_custody) or the death record (death)"
        },
    )


class TransferInSchema(ma.Schema):
    to_office_code = Identifier(validate=ma.validate.Length(min=1, max=32), load_default=None)
    destination = TrimmedString(
        validate=ma.validate.Length(min=2, max=200),
        load_default=None,
        metadata={"description": "Outside this city's system"},
    )
    reason = TrimmedString(required=True, validate=ma.validate.Length(min=2, max=2000))
    document_number = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=64),
        metadata={"description": "The written decision to change the place (变更执行地决定书)"},
    )

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if (data.get("to_office_code") is None) == (data.get("destination") is None):
            raise ma.ValidationError(
                _("give either to_office_code or destination"), "to_office_code"
            )


class TermEndSchema(ma.Schema):
    kind = ma.fields.String()
    certificate_number = ma.fields.String(allow_none=True)
    document_number = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    ended_on = ma.fields.Date()
    recorded_by = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    status = ma.fields.String()
    sealed = sealed_marker()


class TransferSchema(ma.Schema):
    id = ma.fields.Integer()
    from_office_code = ma.fields.String()
    to_office_code = ma.fields.String(allow_none=True)
    destination = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    report_by = ma.fields.Date(allow_none=True)
    document_number = ma.fields.String(allow_none=True)
    recorded_by = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    status = ma.fields.String()
    sealed = sealed_marker()


# --- held by another authority ------------------------------------------------------------


class DetentionInSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(DETENTION_KINDS))
    start_date = Date(required=True, metadata={"description": "The first day the person is held"})
    authority = TrimmedString(
        required=True,
        validate=ma.validate.Length(min=2, max=100),
        metadata={"description": "The authority that decided it, e.g. a public security bureau"},
    )
    document_number = TrimmedString(
        validate=ma.validate.Length(min=1, max=64),
        load_default=None,
        metadata={"description": "Its decision (决定书) number"},
    )
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class ReleaseInSchema(ma.Schema):
    end_date = Date(
        required=True, metadata={"description": "The release day: obligations run again from it"}
    )
    note = TrimmedString(validate=ma.validate.Length(min=1, max=2000), load_default=None)


class DetentionSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    kind = ma.fields.String()
    kind_label_zh = ma.fields.String()
    article = ma.fields.String()
    start_date = ma.fields.Date()
    end_date = ma.fields.Date(allow_none=True)
    held = ma.fields.Boolean(metadata={"description": "Still held: nothing falls due"})
    authority = ma.fields.String()
    document_number = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    recorded_by = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    released_by = ma.fields.String(allow_none=True)
    released_at = ma.fields.DateTime(allow_none=True)
    release_note = ma.fields.String(allow_none=True)
    sealed = sealed_marker()


# --- the event forms (GET /event-types) ------------------------------------------------------


class ChoiceSchema(ma.Schema):
    value = ma.fields.String()
    label_zh = ma.fields.String()


class EventFormFieldSchema(ma.Schema):
    name = ma.fields.String()
    path = ma.fields.String(
        metadata={"description": "Where a problem's errors name it (payload.x for the payload's)"}
    )
    type = ma.fields.String(
        metadata={
            "description": "string, number, boolean, date, datetime (with its UTC offset), "
            "enum (choices), event_id, event_ids (ids of the person's events)"
        }
    )
    required = ma.fields.Boolean()
    label_zh = ma.fields.String()
    default = ma.fields.Raw(allow_none=True)
    choices = ma.fields.List(ma.fields.Nested(ChoiceSchema))
    min_length = ma.fields.Integer()
    max_length = ma.fields.Integer()
    minimum = ma.fields.Float()
    minimum_inclusive = ma.fields.Boolean()
    maximum = ma.fields.Float()
    maximum_inclusive = ma.fields.Boolean()


class EventFormSchema(ma.Schema):
    code = ma.fields.String()
    label_zh = ma.fields.String()
    only_for = ma.fields.List(
        ma.fields.String(),
        allow_none=True,
        metadata={"description": "Only persons of these categories (None: everyone)"},
    )
    article = ma.fields.String(allow_none=True)
    fulfils = ma.fields.String(
        allow_none=True, metadata={"description": "The obligation kind it counts toward"}
    )
    decided_at_level = ma.fields.String(
        allow_none=True,
        metadata={"description": "A decision's: who records it (office, district, city)"},
    )
    fields = ma.fields.List(ma.fields.Nested(EventFormFieldSchema))
