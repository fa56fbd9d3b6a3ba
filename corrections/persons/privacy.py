"""What each role sees of a person and of everything recorded about them: the one home of
masking, for every person-linked resource.

Six visibilities, decided by :func:`policy` from the actor, the person and whether the
person's record is sealed for the actor (:func:`visibility` finds out):

- ``sealed``: a juvenile's record sealed at discharge (刑事诉讼法 Art. 286,
  :mod:`corrections.persons.sealing`) is a stub for everyone who holds no active grant to read
  it, whatever their role: the ids, the person's status and term dates, the dates of each
  record, a ``sealed`` marker; nothing else (no name, no number, no typed text, no code that
  tells what happened). Lists still carry (and count) the stub. With a grant, the rules below;
- ``full``: the person's own office and district see everything of the persons in their
  scope; city staff see adults in full;
- ``juvenile_masked``: anyone else who may see a juvenile (city staff) sees no identity: the
  name's first character, the ID number and phones without a single digit, no date of birth
  and no date that narrows it (the offence date, with the juvenile flag, can), no address or
  family contact, and every text staff typed about the person as ``***``; at least 10,000
  ID numbers stay possible from what is shown (district, age, gender);
- ``deidentified``: analysts see no identity fields at all and no typed text: a field of typed
  text is dropped or replaced by the kind of the record (the status moved to, the rule id).
- ``wall`` and ``wall_masked``: a wall display (大屏, org/displays.py) of the person's district
  is read by anyone in the room. Of an alert it shows only what a board needs (kind,
  severity, status, times, office, coded details such as the missed obligation's kind and due
  day: :data:`WALL_FIELDS`), and the person's name as the surname and two marks (``张＊＊``:
  the given name's length is not shown either); a juvenile's name not at all (``＊＊＊``,
  ``wall_masked``, also anyone outside the display's district, which only a bug upstream
  could show). Never an ID number, address, phone, date of birth, note or other typed text,
  nor the ids of the person or of other records. Any other resource shows its id only.

:func:`present` applies the policy to a view and notes the person as shown by the response,
which the request audits in one row once it succeeds (``audit.disclose``); every view of a
person-linked resource goes through it (or :func:`shown` where nothing needs masking).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session, object_session

from corrections.audit import service as audit
from corrections.core.auth import SYSTEM, Actor, Role
from corrections.persons import sealing
from corrections.persons.scope import in_scope, sees_juvenile_identity


class Visibility(StrEnum):
    SEALED = "sealed"
    FULL = "full"
    JUVENILE_MASKED = "juvenile_masked"
    DEIDENTIFIED = "deidentified"
    WALL = "wall"
    WALL_MASKED = "wall_masked"


class Subject(Protocol):
    """What the policy needs of a person (a :class:`Person`, or a list query's columns); a
    ``sealed`` attribute (bool) saves looking the record's sealing up, None or absent does not."""

    id: int
    juvenile: bool
    office_id: int
    district_id: int


@dataclass(frozen=True)
class PersonRef:
    """A person as a list query selects them: enough to decide and to audit, nothing more."""

    id: int
    juvenile: bool
    office_id: int
    district_id: int
    # None: the list did not select it; looked up (once per transaction).
    sealed: bool | None = None


# Procurators (检察监督) see like city staff: adults in their scope in full, a juvenile masked
# (persons/scope.sees_juvenile_identity is never true for them).
_STAFF = (Role.OFFICER, Role.COMMANDER, Role.CITY, Role.PROCURATOR)


def policy(actor: Actor, person: Subject, *, sealed: bool) -> Visibility:
    """What ``actor`` may see of ``person``'s records; ``sealed``: the record is sealed and
    ``actor`` holds no active grant to read it (:func:`visibility` asks the database)."""
    if sealed:
        return Visibility.SEALED
    if actor.is_system:
        return Visibility.FULL
    if actor.role == Role.DISPLAY:
        adult_here = not person.juvenile and in_scope(actor, person)
        return Visibility.WALL if adult_here else Visibility.WALL_MASKED
    if actor.role not in _STAFF or not in_scope(actor, person):
        # Analysts by design; anyone else only by a bug upstream: then still nothing.
        return Visibility.DEIDENTIFIED
    if person.juvenile and not sees_juvenile_identity(actor, person):
        return Visibility.JUVENILE_MASKED
    return Visibility.FULL


def visibility(session: Session, actor: Actor, person: Subject) -> Visibility:
    """The policy for ``person``, with whether their record is sealed for ``actor`` looked up
    (a sealed record shown under a grant is audited as such)."""
    return policy(actor, person, sealed=person.id in sealing.sealed_for(session, actor, [person]))


def shown(session: Session, actor: Actor, person: Subject) -> Visibility:
    """The policy for ``person``, noting that this response shows their record (audited once
    per response, in one row for all persons shown)."""
    audit.disclose(session, [(person.id, person.juvenile)])
    return visibility(session, actor, person)


def present(
    session: Session | None, actor: Actor, person: Subject, resource: str, view: dict[str, Any]
) -> dict[str, Any]:
    """``view`` of a ``resource`` of ``person`` as ``actor`` may see it; the person is noted as
    shown by this response."""
    session = session or object_session(person)
    if session is None:  # nowhere to note it: a response that shows a person is audited
        raise ValueError(f"person {person.id} is not in a session; pass the session")
    return redact(resource, view, shown(session, actor, person))


def present_all(
    session: Session,
    actor: Actor,
    resource: str,
    items: Iterable[tuple[Subject, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """:func:`present` for a list of (person, view); all are noted in one go."""
    items = list(items)
    sealed = sealing.sealed_for(session, actor, [person for person, _view in items])
    out = [
        redact(resource, view, policy(actor, person, sealed=person.id in sealed))
        for person, view in items
    ]
    audit.disclose(session, [(person.id, person.juvenile) for person, _view in items])
    return out


# --- the person record -------------------------------------------------------------------

IDENTITY_FIELDS = (
    "name",
    "id_number",
    "date_of_birth",
    "phone",
    "address",
    "family_contact_name",
    "family_contact_phone",
)
# With the juvenile flag, an offence date bounds the birth date (under 18 on that day).
JUVENILE_DATE_FIELDS = ("offence_date",)
# What a judgment or a register tells about anyone: de-identified views (analysts) show these
# dates as months, the age as a band and the district but not the office, so that a record
# cannot be matched to a person by them (nor to a row of a risk export, which generalises
# them the same way).
GENERALISED_DATE_FIELDS = (
    "offence_date",
    "judgment_date",
    "judgment_effective_date",
    "term_start",
    "term_end",
    "intake_deadline",
)
OFFICE_FIELDS = ("office_code", "office_name_zh")
AGE_BANDS = ((0, 18, "<18"), (18, 25, "18-24"), (25, 35, "25-34"), (35, 45, "35-44"))
AGE_BANDS += ((45, 55, "45-54"), (55, 200, "55+"))


def age_band(age: int | None) -> str | None:
    if age is None:
        return None
    return next(label for low, high, label in AGE_BANDS if low <= age < high)


# What a sealed stub keeps: of the person, their status and term (statistics count by them);
# of any other record, its id, its person and its dates (never a birth or an offence date).
PERSON_STUB_FIELDS = ("id", "status", "status_label_zh", "term_start", "term_end")
STUB_FIELDS = ("id", "person_id")
NEVER_IN_STUB = frozenset((*IDENTITY_FIELDS, *JUVENILE_DATE_FIELDS))


def _stub(resource: str, view: dict[str, Any]) -> dict[str, Any]:
    if resource == "person":
        stub = {k: view[k] for k in (*PERSON_STUB_FIELDS, "sealed_label_zh") if k in view}
        stub["masked_fields"] = sorted(k for k in view if k not in stub and k != "sealed")
    else:
        stub = {
            k: v
            for k, v in view.items()
            if k in STUB_FIELDS or (isinstance(v, date) and k not in NEVER_IN_STUB)
        }
    stub["sealed"] = True
    return stub


MASK = "***"
NAME_MASK = "＊"


def _no_digits(value: str | None) -> str | None:
    return "*" * len(value) if value else value


def _person(view: dict[str, Any], visibility: Visibility) -> dict[str, Any]:
    if visibility is Visibility.FULL:
        view["masked_fields"] = []
        return view
    juvenile = bool(view.get("juvenile"))
    hidden = list(IDENTITY_FIELDS) + (list(JUVENILE_DATE_FIELDS) if juvenile else [])
    if visibility is Visibility.DEIDENTIFIED:
        for field in hidden:
            view.pop(field, None)
        months = {}
        for field in GENERALISED_DATE_FIELDS:
            value = view.pop(field, None)
            if value is not None and field not in hidden:
                months[field] = f"{value:%Y-%m}"
        view["generalised"] = months
        view["age_band"] = age_band(view.pop("age", None))
        for field in OFFICE_FIELDS:
            view.pop(field, None)
        hidden += [f for f in (*GENERALISED_DATE_FIELDS, "age", *OFFICE_FIELDS) if f not in hidden]
    else:
        name = view.get("name")
        view["name"] = name[:1] + NAME_MASK if name else name
        view["id_number"] = _no_digits(view.get("id_number"))
        view["phone"] = _no_digits(view.get("phone"))
        view["family_contact_phone"] = _no_digits(view.get("family_contact_phone"))
        view["address"] = MASK if view.get("address") else view.get("address")
        view["family_contact_name"] = MASK if view.get("family_contact_name") else None
        view.pop("date_of_birth", None)
        for field in JUVENILE_DATE_FIELDS:
            view.pop(field, None)
    view["masked_fields"] = hidden
    return view


# --- the person beside another record ------------------------------------------------------

# Lists of records across persons (alerts, decision queues: persons/listing.py) name each
# record's person beside it: ``person_name`` (alerts), or ``person`` {id, name, office_code,
# office_name_zh} (queues). The name is identity, masked as the person record's is; the office
# is where (de-identified views drop it, as they drop a person's).
PERSON_NAME_FIELD = "person_name"
PERSON_BRIEF_FIELD = "person"
# The names these carry, masked here beside any resource (not by ``RESOURCES``).
NAMES_BESIDE = (PERSON_NAME_FIELD, f"{PERSON_BRIEF_FIELD}.name")


def name_as_seen(name: str | None, visibility: Visibility) -> str | None:
    """A person's name as ``visibility`` shows it beside a record: whole (``full``), its first
    character and a mark (``juvenile_masked``, as the person record shows it), or none
    (``deidentified``). A sealed record's stub never carries it."""
    if not name or visibility is Visibility.FULL:
        return name
    if visibility is Visibility.DEIDENTIFIED:
        return None
    return name[:1] + NAME_MASK


# Fields naming the staff account that did something (``officer-dongcheng-1``): an account's
# name says its office, which a de-identified view never shows. An analyst sees ``***`` (and
# ``system``, which names nobody).
STAFF_FIELDS = frozenset(
    {
        "acknowledged_by",
        "approved_by",
        "closed_by",
        "confirmed_by",
        "created_by",
        "decided_by",
        "lifted_by",
        "opened_by",
        "proposed_by",
        "recorded_by",
        "released_by",
        "removed_by",
        "revoked_by",
        "sealed_by",
    }
)


def _without_staff(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with every :data:`STAFF_FIELDS` value masked, in it and in the dicts of its
    lists (copied where they change: the row's JSON stays untouched)."""
    out = dict(obj)
    for key, value in obj.items():
        if key in STAFF_FIELDS and isinstance(value, str) and value and value != SYSTEM.username:
            out[key] = MASK
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            out[key] = [_without_staff(v) if isinstance(v, dict) else v for v in value]
    return out


def _beside(view: dict[str, Any], visibility: Visibility) -> None:
    deidentified = visibility is Visibility.DEIDENTIFIED
    if deidentified:
        view.update(_without_staff(view))
    if PERSON_NAME_FIELD in view:
        view[PERSON_NAME_FIELD] = name_as_seen(view[PERSON_NAME_FIELD], visibility)
    brief = view.get(PERSON_BRIEF_FIELD)
    if isinstance(brief, dict):
        brief = view[PERSON_BRIEF_FIELD] = dict(brief)
        brief["name"] = name_as_seen(brief.get("name"), visibility)
        if deidentified:
            for field in ("name", *OFFICE_FIELDS):
                brief.pop(field, None)
    if deidentified:
        view.pop(PERSON_NAME_FIELD, None)
        for field in OFFICE_FIELDS:
            view.pop(field, None)


# --- typed text in every other resource --------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A field of a view holding text staff typed (or a place, a document number ...).

    ``path``: ``"note"``, ``"sanction.legal_ground"``, ``"reviews[].note"``; ``"payload.*"``
    is every text value of that dict but its coded ones. ``category``: for analysts, the field
    (of the same object) whose value replaces the text; without one the text is dropped.
    ``typed_if``: (key, values) when only objects whose ``key`` is one of ``values`` hold
    typed text there (grade reasons: a manual decision's reason is typed, a rule's is not).
    """

    path: str
    category: str | None = None
    typed_if: tuple[str, frozenset[str]] | None = None


# Payload values that are codes, not words (enums and identifiers of this system).
CODED_PAYLOAD_KEYS = frozenset(
    # A proposal's evidence names its ground, article and trigger by code (rules files).
    {"employment", "method", "severity", "alarm", "ground", "article", "trigger"}
)
# A manual grade decision's reason is what the deciding officer typed (grading.decide_manual).
TYPED_REASON_RULES = frozenset({"manual_stricter", "manual_review"})

RESOURCES: Mapping[str, tuple[Text, ...]] = {
    "person": (),  # identity: see _person
    "grade": (),
    "assessment": (),
    "risk": (),
    "open_incident": (),
    "event": (
        Text("note"),
        Text("payload.*"),
        Text("sanction.legal_ground"),
        Text("sanction.document_number"),
    ),
    "obligation": (Text("closed_reason"),),
    "travel_permit": (Text("destination"), Text("reason"), Text("decision_note")),
    "monitoring": (Text("note"), Text("removal_reason")),
    "detention": (
        Text("authority"),
        Text("document_number"),
        Text("note"),
        Text("release_note"),
    ),
    "term_end": (Text("reason"), Text("certificate_number"), Text("document_number")),
    "transfer": (Text("destination"), Text("reason"), Text("document_number")),
    "incident": (
        Text("search_record"),
        Text("close_note"),
        Text("proposals[].decision_note"),
        Text("proposals[].statement"),
        Text("proposals[].statement_not_taken_reason"),
        Text("proposals[].evidence.*"),
        # The 建议书 and the court's ruling: document numbers, masked like the others.
        Text("proposals[].decision_document_number"),
        Text("proposals[].court_document_number"),
    ),
    "proposal": (
        Text("decision_note"),
        Text("statement"),
        Text("statement_not_taken_reason"),
        # What the office found (an officer's proposal's ``facts``,
        # incidents/service.propose_sanction): the evidence's words, its codes kept.
        Text("evidence.*"),
        Text("decision_document_number"),
        Text("court_document_number"),
    ),
    "flag": (Text("reason"), Text("close_reason"), Text("reviews[].note")),
    "alert": (Text("ack_note"), Text("close_note")),
    "grade_decision": (
        Text("note", category="kind"),
        Text("decision_note", category="status"),
        Text(
            "reasons[].text_zh",
            category="rule_id",
            typed_if=("rule_id", TYPED_REASON_RULES),
        ),
    ),
    "status_change": (Text("reason", category="to_status"),),
    # Intake and discharge procedures: team members and attendees are third parties whose
    # names and phones would identify the person as well.
    "procedures": (),
    "announcement": (
        Text("place"),
        Text("presided_by"),
        Text("attendees[].name"),
        Text("attendees[].capacity"),
        Text("notes"),
    ),
    "team_member": (Text("name"), Text("phone"), Text("organisation")),
    "correction_team": (
        Text("members[].name"),
        Text("members[].phone"),
        Text("members[].organisation"),
    ),
    "correction_plan": (Text("needs"), Text("measures"), Text("change_note")),
    "investigation_assessment": (
        Text("requested_by"),
        Text("requesting_document"),
        Text("submitted_to"),
        Text("note"),
    ),
    # A procuratorate's 纠正意见 / 检察建议 about a person, and the bureau's reply
    # (oversight/): the document number is the procuratorate's own, cited, not the person's.
    "oversight_opinion": (Text("content"), Text("reply")),
    "exit_ban": (
        Text("filed_with"),
        Text("document_number"),
        Text("note"),
        Text("lifting.document_number"),
    ),
}


def text(value: Any, visibility: Visibility, category: Any = None) -> Any:
    """One typed value as seen: itself, ``***``, or (analysts) its ``category``."""
    if value is None or value == "" or visibility is Visibility.FULL:
        return value
    if visibility is Visibility.JUVENILE_MASKED:
        return MASK
    return category


def _apply(obj: Any, parts: list[str], spec: Text, visibility: Visibility) -> None:
    if not isinstance(obj, dict):
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        for item in obj.get(head[:-2]) or []:
            _apply(item, rest, spec, visibility)
        return
    if rest:
        if rest == ["*"]:
            obj[head] = _payload(obj.get(head), visibility)
        elif isinstance(obj.get(head), dict):
            obj[head] = dict(obj[head])
            _apply(obj[head], rest, spec, visibility)
        return
    if head not in obj:
        return
    if spec.typed_if is not None:
        key, values = spec.typed_if
        if obj.get(key) not in values:
            return
    category = obj.get(spec.category) if spec.category else None
    obj[head] = text(obj[head], visibility, category)


def _payload(payload: Any, visibility: Visibility) -> Any:
    if not isinstance(payload, dict) or visibility is Visibility.FULL:
        return payload
    out = {}
    for key, value in payload.items():
        if isinstance(value, str) and key not in CODED_PAYLOAD_KEYS:
            if visibility is Visibility.DEIDENTIFIED:
                continue
            value = MASK
        out[key] = value
    return out


# --- a wall display ----------------------------------------------------------------------

# What a wall display shows of each resource: these fields, nothing else (a field added to a
# view later stays off the wall until it is added here). The person's name beside an alert
# (``person_name``) is masked (:func:`wall_name`); ``detail`` keeps only
# :data:`WALL_DETAIL_KEYS`.
WALL_FIELDS: Mapping[str, frozenset[str]] = {
    "alert": frozenset(
        {
            "id",
            "kind",
            "kind_label_zh",
            "severity",
            "severity_label_zh",
            "status",
            "status_label_zh",
            "raised_at",
            "updated_at",
            "acknowledged_at",
            "closed_at",
            "escalation_level",
            "escalated_at",
            "office_id",
            "district_id",
            "office_code",
            "office_name_zh",
            "district_name_zh",
            # Built from the kind, coded details and dates only (alerts/summary.py).
            "summary_zh",
            "version",
            "detail",
        }
    ),
}
# Codes, counts and dates of an alert's cause (what the board writes as 报到，应于 12-11).
WALL_DETAIL_KEYS = frozenset(
    {"obligation_kind", "due_on", "proposal", "absence_days", "end_date", "stage", "alarm"}
)
WALL_NAME_MARKS = NAME_MASK * 2


def wall_name(name: str | None, visibility: Visibility) -> str | None:
    """A name as a wall display shows it: the surname and two marks (张＊＊), whatever the
    given name's length; ``wall_masked`` (a juvenile): three marks, no character of it."""
    if not name:
        return name
    if visibility is Visibility.WALL:
        return name[:1] + WALL_NAME_MARKS
    return NAME_MASK * 3


def _wall(resource: str, view: dict[str, Any], visibility: Visibility) -> dict[str, Any]:
    fields = WALL_FIELDS.get(resource, frozenset({"id"}))
    out = {k: v for k, v in view.items() if k in fields}
    if PERSON_NAME_FIELD in view:
        out[PERSON_NAME_FIELD] = wall_name(view[PERSON_NAME_FIELD], visibility)
    if isinstance(out.get("detail"), dict):
        out["detail"] = {k: v for k, v in out["detail"].items() if k in WALL_DETAIL_KEYS}
    if "summary_zh" in out:
        out["summary_zh"] = _wall_summary(out)
    return out


def _wall_summary(out: dict[str, Any]) -> str | None:
    """A wall's one line, built again from what the wall shows (the kind, the detail's
    :data:`WALL_DETAIL_KEYS`, the day): the full view's line carries what the wall's detail
    leaves out (a risk probability, a sanction's article, a date of lost contact). A kind
    whose line needs more says its label alone."""
    from corrections.alerts.summary import summary_zh  # the alert's words; no cycle at import

    raised_at = out.get("raised_at")
    if not out.get("kind") or not isinstance(raised_at, datetime):
        return out.get("kind_label_zh")
    return summary_zh(out["kind"], out.get("detail") or {}, raised_at)


def redact(resource: str, view: dict[str, Any], visibility: Visibility) -> dict[str, Any]:
    """``view`` (a dict of one ``resource``) with what ``visibility`` hides masked or dropped."""
    specs = RESOURCES[resource]  # an unknown resource is a bug: KeyError
    if visibility is Visibility.SEALED:
        return _stub(resource, view)
    if visibility in (Visibility.WALL, Visibility.WALL_MASKED):
        return _wall(resource, view, visibility)
    if resource == "person":
        return _person(view, visibility)
    if visibility is Visibility.FULL:
        return view
    _beside(view, visibility)
    # Nested lists and dicts are copied where they change: the row's JSON stays untouched.
    for key in {s.path.split(".")[0].removesuffix("[]") for s in specs}:
        value = view.get(key)
        if isinstance(value, list):
            view[key] = [dict(v) if isinstance(v, dict) else v for v in value]
    for spec in specs:
        _apply(view, spec.path.split("."), spec, visibility)
    return view
