"""Use cases for persons under correction. Scope is enforced here, in the queries.

An officer sees the persons of their judicial office, a commander those of their district, city
staff everyone, an analyst everyone without personal data. A person outside the caller's scope
does not exist for them (404). A juvenile's ID number, phone, address and family contact are
masked for everyone but the person's own office and district commander, and every read of a
juvenile's record is audited as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, load_only, object_session

from corrections.audit import service as audit
from corrections.core import clocks, crypto
from corrections.core.auth import Actor, Role
from corrections.core.clock import add_months, age_on, business_date, now_utc
from corrections.core.errors import (
    Conflict,
    Forbidden,
    PreconditionFailed,
    RuleViolation,
    TooManyRequests,
)
from corrections.core.i18n import Message, _, bilingual
from corrections.core.pagination import paginate
from corrections.grading import rules as grading_rules
from corrections.org.models import Unit, UnitKind
from corrections.persons import idnumber, privacy
from corrections.persons import rules as person_rules
from corrections.persons.models import (
    ID_NUMBER_INDEX,
    ID_TAIL_INDEX,
    ID_TAIL_LENGTH,
    OPEN_STATUSES,
    PHONE_INDEX,
    Person,
    PersonStatusChange,
    normal_id_number,
    normal_phone,
)
from corrections.persons.scope import (
    audit_person,
    get_scoped,
    lock_person,
    read_scoped,
    scope_clause,
)
from corrections.persons.sealing import granted_to

# Identity fields (what an analyst never sees, a juvenile's non-owner sees masked): one list,
# in the privacy module.
PERSONAL_FIELDS = privacy.IDENTITY_FIELDS
# The facts of a person a client writes (the office changes only by transfer).
FACT_FIELDS = (
    "name",
    "gender",
    "id_number",
    "date_of_birth",
    "offence_date",
    "category",
    "crime_type",
    "judgment_date",
    "judgment_effective_date",
    "term_start",
    "term_end",
    "has_guarantor",
    "intake_risk",
    "phone",
    "address",
    "employment",
    "housing",
    "family_contact_name",
    "family_contact_phone",
)

# Who may move a status where. Lost contact and absconding are owned by incidents (later),
# discharge, termination and transfer by the term services; these are their building blocks.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_intake": frozenset({"active", "transferred", "terminated", "deceased"}),
    "active": frozenset({"lost_contact", "discharged", "terminated", "transferred", "deceased"}),
    "lost_contact": frozenset({"active", "absconded", "terminated", "deceased"}),
    "absconded": frozenset({"active", "terminated", "deceased"}),
    "discharged": frozenset(),
    "terminated": frozenset(),
    "transferred": frozenset(),
    "deceased": frozenset(),
}


def _rules() -> person_rules.PersonRules:
    return person_rules.current()


def _status_text(status: str) -> Message:
    """A status as a message parameter: ``active`` in English, 在矫 in Chinese."""
    return bilingual(status, _rules().label("statuses", status) or status)


# --- presentation (labels here; what each role sees is decided in persons/privacy.py) -----


def person_view(person: Person, actor: Actor, today: date) -> dict[str, Any]:
    """The person as ``actor`` may see them (:mod:`corrections.persons.privacy`), with Chinese
    labels beside the identifiers; the response is audited as showing the person."""
    r = _rules()
    office = person.office
    district = office.parent
    view: dict[str, Any] = {
        "id": person.id,
        "version": person.version,
        "name": person.name,
        "gender": person.gender,
        "gender_label_zh": r.label("genders", person.gender),
        "id_number": person.id_number,
        "date_of_birth": person.date_of_birth,
        "age": age_on(person.date_of_birth, today),
        "juvenile": person.juvenile,
        "offence_date": person.offence_date,
        "category": person.category,
        "category_label_zh": r.categories[person.category].label_zh,
        "crime_type": person.crime_type,
        "crime_type_label_zh": r.label("crime_types", person.crime_type) or person.crime_type,
        "judgment_date": person.judgment_date,
        "judgment_effective_date": person.judgment_effective_date,
        "term_start": person.term_start,
        "term_end": person.term_end,
        "intake_deadline": person.intake_deadline,
        "has_guarantor": person.has_guarantor,
        "office_code": office.code,
        "office_name_zh": office.name_zh,
        "district_code": district.code if district else None,
        "district_name_zh": district.name_zh if district else None,
        "phone": person.phone,
        "address": person.address,
        "employment": person.employment,
        "employment_label_zh": r.label("employment", person.employment),
        "housing": person.housing,
        "housing_label_zh": r.label("housing", person.housing),
        "family_contact_name": person.family_contact_name,
        "family_contact_phone": person.family_contact_phone,
        "status": person.status,
        "status_label_zh": r.label("statuses", person.status),
        "sealed": bool(person.sealed),
        "sealed_label_zh": r.sealing.label_zh if person.sealed else None,
        "intake_risk": person.intake_risk,
        **_grade_fields(person),
        "created_at": person.created_at,
        "updated_at": person.updated_at,
        "masked_fields": [],
    }
    return privacy.present(None, actor, person, "person", view)


def _grade_fields(person: Person) -> dict[str, Any]:
    if person.grade is None:
        return {
            "grade": None,
            "grade_label_zh": None,
            "level": None,
            "level_label_zh": None,
            "grade_since": None,
        }
    rules = grading_rules.current()
    grade = rules.grade(person.grade)
    return {
        "grade": grade.id,
        "grade_label_zh": grade.label_zh,
        "level": grade.level,
        "level_label_zh": rules.levels[grade.level]["label_zh"],
        "grade_since": person.grade_since,
    }


# --- validation of the facts of a person -------------------------------------------------


def validate_facts(facts: dict[str, Any], today: date) -> tuple[dict[str, list[str]], bool]:
    """Check one person's facts against the law and the rules; return (errors, juvenile).

    A fact that is absent (a caseload row's cell that failed the schema, reported as such)
    skips the checks that need it, so the row's other problems are all reported at once; an
    intake through the API always has every required fact."""
    r = _rules()
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: Message) -> None:
        errors.setdefault(field, []).append(message)

    dob: date | None = facts.get("date_of_birth")
    if facts.get("id_number") is not None:
        try:
            parsed = idnumber.parse(facts["id_number"])
        except idnumber.IdNumberError as exc:
            bad("id_number", exc.reason)
        else:
            facts["id_number"] = parsed.value
            if dob is not None and parsed.birth_date != dob:
                bad("date_of_birth", _("does not match the birth date in the ID number"))
            if facts.get("gender") is not None and parsed.gender != facts["gender"]:
                bad("gender", _("does not match the gender encoded in the ID number"))

    if dob is not None and dob >= today:
        bad("date_of_birth", _("must be in the past"))
    offence = facts.get("offence_date")
    judgment: date | None = facts.get("judgment_date")
    effective: date | None = facts.get("judgment_effective_date") or judgment
    facts["judgment_effective_date"] = effective
    start, end = facts.get("term_start"), facts.get("term_end")

    if offence is not None:
        if judgment is not None and offence > judgment:
            bad("offence_date", _("must not be after judgment_date"))
        if dob is not None and age_on(dob, offence) < r.min_age_at_offence:
            bad(
                "offence_date",
                _("the person was under {age} at that date", age=r.min_age_at_offence),
            )
    if judgment is not None and judgment > today:
        bad("judgment_date", _("must not be in the future"))
    if judgment is not None and effective is not None and effective < judgment:
        bad("judgment_effective_date", _("must not be before judgment_date"))
    if judgment is not None and start is not None and start < judgment:
        bad("term_start", _("must not be before judgment_date"))
    if start is None or end is None:
        pass
    elif end <= start:
        bad("term_end", _("must be after term_start"))
    else:
        category = r.categories.get(facts.get("category"))
        if category is not None:
            term = category.term
            # term_end is the last day served: a 3-month term from Jan 1 ends Mar 31.
            shortest = add_months(start, term.min_months) - timedelta(days=1)
            longest = add_months(start, term.max_months) - timedelta(days=1)
            if end < shortest or end > longest:
                bad(
                    "term_end",
                    _(
                        "a {category} term lasts {min}–{max} months",
                        category=bilingual(facts["category"], category.label_zh),
                        min=term.min_months,
                        max=term.max_months,
                    ),
                )
    for field, group in (
        ("crime_type", "crime_types"),
        ("employment", "employment"),
        ("housing", "housing"),
    ):
        value = facts.get(field)
        if value is not None and value not in r.labels[group]:
            bad(field, _("must be one of: {choices}", choices=", ".join(r.labels[group])))

    age_limit = r.juvenile_age
    juvenile = dob is not None and (
        age_on(dob, today) < age_limit or (offence is not None and age_on(dob, offence) < age_limit)
    )
    return errors, juvenile


# --- use cases ---------------------------------------------------------------------------


def offices_by_code(session: Session) -> dict[str, Unit]:
    """Every judicial office by its code: for a caller that checks many intakes at once
    (a caseload import), so that each row's office is not a query of its own."""
    return {u.code: u for u in session.scalars(select(Unit).where(Unit.kind == UnitKind.OFFICE))}


def _office_for_intake(
    session: Session,
    actor: Actor,
    office_code: str | None,
    offices: Mapping[str, Unit] | None = None,
) -> Unit:
    if office_code is None:
        if actor.role == Role.OFFICER:
            return session.get(Unit, actor.unit_id)
        raise RuleViolation(_("required for your role"), field="office_code")
    if offices is not None:
        office = offices.get(office_code)
    else:
        office = session.scalar(
            select(Unit).where(Unit.code == office_code, Unit.kind == UnitKind.OFFICE)
        )
    allowed = office is not None and (
        actor.role == Role.CITY
        # A caseload import run from the CLI (the system, or an administrator setting up a
        # bureau) takes persons in at any office; the API never lets an administrator write
        # persons (persons:write).
        or actor.is_system
        or actor.role == Role.ADMIN
        or (actor.role == Role.OFFICER and office.id == actor.unit_id)
        or (actor.role == Role.COMMANDER and office.parent_id == actor.unit_id)
        # A court's judgment notice through the exchange (exchange/inbound.py): an office its
        # agency serves (the agency's district, or any for a city-wide one).
        or (actor.role == Role.PARTNER and _partner_serves(session, actor, office))
    )
    if not allowed:
        raise RuleViolation(_("not a judicial office within your scope"), field="office_code")
    if not office.active:
        raise RuleViolation(_("the office is inactive"), field="office_code")
    return office


def _partner_serves(session: Session, actor: Actor, office: Unit) -> bool:
    unit = session.get(Unit, actor.unit_id)
    return unit is not None and (unit.kind == UnitKind.CITY or office.parent_id == unit.id)


# What a caller outside the existing record's scope learns: that this office cannot take the
# person in, nothing about where or why (no field, number, name or office).
NOT_HERE = _("This person cannot be taken in here; contact the city bureau.")


def ensure_no_open_record(
    session: Session,
    actor: Actor,
    id_number: str,
    *,
    action: str,
    exclude_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """One open record per ID number (looked up by its blind index under every index key, so
    the rule holds during an index rotation). A refusal is audited as ``action`` on the
    existing record (the row survives the rollback); only a caller who may see that record is
    told why."""
    stmt = select(Person).where(
        Person.id_number_bidx.in_(
            crypto.blind_indexes(normal_id_number(id_number), ID_NUMBER_INDEX)
        ),
        Person.status.in_(OPEN_STATUSES),
    )
    if exclude_id is not None:
        stmt = stmt.where(Person.id != exclude_id)
    # Only what the scope rule and the audit row need: no identity field is decrypted.
    stmt = stmt.options(
        load_only(Person.office_id, Person.district_id, Person.juvenile, Person.sealed)
    )
    existing = session.scalar(stmt.limit(1))
    if existing is None:
        return
    audit_person(session, actor, existing, action, detail={"reason": "duplicate"}, now=now)
    # Only who may see the record in full learns why: a juvenile's record is not confirmed
    # to city staff either.
    if privacy.visibility(session, actor, existing) is privacy.Visibility.FULL:
        raise Conflict(
            _("A person with this ID number is already under correction."),
            errors={"id_number": [_("already under correction")]},
        )
    raise Conflict(NOT_HERE)


# What counts against a user's daily allowance of refusals.
REFUSED_ACTIONS = ("person.intake_refused", "person.update_refused")


def limit_refused_intakes(session: Session, actor: Actor, now: datetime) -> None:
    """A user whose intakes were refused as duplicates too often today may try no more: the
    duplicate rule answers yes or no for an ID number, so it must not be a search. A partner
    agency's documents (a court's judgment notices) are bounded by its agency's daily slots
    instead (exchange/inbound.py, ``EXCHANGE_REFUSALS_PER_DAY``), all its accounts together."""
    from flask import current_app

    from corrections.audit.models import AuditEntry

    if actor.role == Role.PARTNER:
        return
    limit = current_app.config["INTAKE_REFUSALS_PER_DAY"]
    since = now - timedelta(days=1)
    refused = session.scalar(
        select(func.count()).where(
            AuditEntry.actor_username == actor.username,
            AuditEntry.action.in_(REFUSED_ACTIONS),
            AuditEntry.occurred_at >= since,
        )
    )
    if refused >= limit:
        raise TooManyRequests(
            _(
                "Too many refused intakes in 24 hours ({count}); contact the city bureau.",
                count=refused,
            ),
            retry_after=24 * 3600,
        )


@dataclass(frozen=True)
class CheckedIntake:
    """One person's facts as the intake checks left them (the ID number in its one
    spelling, the effective date defaulted), the office that takes them in, and whether
    they are handled as a juvenile."""

    facts: dict[str, Any]
    office: Unit
    juvenile: bool


def check_intake(
    session: Session,
    *,
    actor: Actor,
    data: dict[str, Any],
    today: date,
    offices: Mapping[str, Unit] | None = None,
) -> CheckedIntake:
    """The intake's checks of one person (the API's and a caseload import's): the office
    within ``actor``'s scope and :func:`validate_facts`. Raises :class:`RuleViolation`
    naming every bad field, the office's among them. The one-open-record rule is checked
    last, apart (:func:`ensure_no_open_record`). ``offices``: :func:`offices_by_code`, for
    a caller checking many."""
    facts = dict(data)
    errors: dict[str, list[str]] = {}
    office = None
    try:
        office = _office_for_intake(session, actor, facts.pop("office_code", None), offices)
    except RuleViolation as exc:
        errors.update(exc.errors or {})
    fact_errors, juvenile = validate_facts(facts, today)
    for field, messages in fact_errors.items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise RuleViolation(
            _("The person's facts are inconsistent: {fields}", fields=", ".join(sorted(errors))),
            errors=errors,
        )
    return CheckedIntake(facts=facts, office=office, juvenile=juvenile)


def new_person(session: Session, checked: CheckedIntake, now: datetime) -> Person:
    """The new record of a checked intake, status ``pending_intake``, added to the session
    but not yet flushed (the first grade, set by grading, then goes into the INSERT)."""
    office = checked.office
    person = Person(
        **checked.facts,
        juvenile=checked.juvenile,
        intake_deadline=clocks.due_for("intake_report", checked.facts["judgment_effective_date"]),
        office_id=office.id,
        district_id=office.parent_id,
        status="pending_intake",
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    person.office = office
    return person


def new_record(session: Session, *, actor: Actor, data: dict[str, Any], now: datetime) -> Person:
    """A new person's record (入矫登记), checked and added to the session but not yet flushed
    (:func:`new_person`). The intake use case is ``corrections.supervision.intake.intake``."""
    checked = check_intake(session, actor=actor, data=data, today=business_date(now))
    limit_refused_intakes(session, actor, now)
    # Last of the checks: a probe learns nothing from it that another check would hide.
    ensure_no_open_record(
        session, actor, checked.facts["id_number"], action="person.intake_refused", now=now
    )
    return new_person(session, checked, now)


def registered(session: Session, *, actor: Actor, person: Person, now: datetime) -> None:
    """The new record's first status row and its audit row."""
    session.flush()
    _record_status(session, person, None, "pending_intake", "intake registered", actor, now)
    audit_person(session, actor, person, "person.create", now=now)


def read(session: Session, *, actor: Actor, person_id: int, now: datetime | None = None) -> Person:
    """One person, audited as a read of personal data (as a juvenile access where it is one)."""
    return read_scoped(
        session,
        actor,
        person_id,
        action="person.read",
        now=now or now_utc(),
        detail={"deidentified": True} if actor.role == Role.ANALYST else None,
    )


@dataclass
class Page:
    items: list[Person]
    page: int
    page_size: int
    total: int


_ID_TAIL_RE = re.compile(r"^[0-9Xx]{4,18}$")
_PHONE_RE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{9,11})$")  # schemas.PHONE, separators removed


def _identity_match(session: Session, within, q: str):
    """Name contains ``q``; or the ID number is ``q`` (18 characters) or ends with it (4 to
    17), or the phone is ``q``. Identity fields are encrypted, so they are found through their
    blind indexes (under every index key); an ending longer than the indexed last four is
    narrowed by that index within ``within`` and then compared on the decrypted numbers.
    Numbers are compared in their one spelling: full-width digits find the ASCII ones.
    On PostgreSQL a name of two characters or more is first narrowed by the names' bigram
    index (migration 0034), and the LIKE decides among what it finds."""
    name = Person.name.like(f"%{_escape_like(q)}%", escape="\\")
    if len(q) >= 2 and session.get_bind().dialect.name == "postgresql":
        bigrams = func.name_bigrams(Person.name).op("@>", is_comparison=True)
        name = and_(bigrams(func.name_bigrams(q)), name)
    conditions = [name]
    number = normal_id_number(q)
    if _ID_TAIL_RE.match(number):
        if len(number) == 18:
            indexes = crypto.blind_indexes(number, ID_NUMBER_INDEX)
            conditions.append(Person.id_number_bidx.in_(indexes))
        else:
            tail = Person.id_tail_bidx.in_(
                crypto.blind_indexes(number[-ID_TAIL_LENGTH:], ID_TAIL_INDEX)
            )
            if len(number) == ID_TAIL_LENGTH:
                conditions.append(tail)
            else:
                rows = session.execute(
                    within.with_only_columns(Person.id, Person.id_number).where(tail)
                )
                ids = [pid for pid, value in rows if normal_id_number(value).endswith(number)]
                conditions.append(Person.id.in_(ids))
    phone = normal_phone(q)
    if _PHONE_RE.match(phone):
        conditions.append(Person.phone_bidx.in_(crypto.blind_indexes(phone, PHONE_INDEX)))
    return or_(*conditions)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _caseload_filters(stmt, grade, flagged, due, risk_band, day):
    """The workbench's caseload filters: the grade, an active flag, something still to do
    due (an open obligation or a missed one not yet answered, as the today list has them;
    ``overdue``: before ``day``; ``today``: by ``day``; ``week``: within 7 days), the band of
    the latest risk score."""
    from corrections.incidents.models import Flag
    from corrections.risk.queries import latest_scores
    from corrections.supervision import worklist
    from corrections.supervision.models import Obligation

    if grade is not None:
        stmt = stmt.where(Person.grade == grade)
    if flagged is not None:
        active = select(Flag.person_id).where(Flag.status == "active")
        stmt = stmt.where(Person.id.in_(active) if flagged else Person.id.not_in(active))
    if due is not None:
        owing = select(Obligation.person_id).where(
            worklist.to_do(), Obligation.due_on <= worklist.DUE_LIMITS[due](day)
        )
        stmt = stmt.where(Person.id.in_(owing))
    if risk_band is not None:
        ranked = latest_scores().subquery()
        banded = select(ranked.c.person_id).where(ranked.c.rn == 1, ranked.c.band == risk_band)
        stmt = stmt.where(Person.id.in_(banded))
    return stmt


def list_persons(
    session: Session,
    *,
    actor: Actor,
    page: int = 1,
    page_size: int = 50,
    office: str | None = None,
    district: str | None = None,
    category: str | None = None,
    status: str | None = None,
    juvenile: bool | None = None,
    grade: str | None = None,
    flagged: bool | None = None,
    due: str | None = None,
    risk_band: str | None = None,
    q: str | None = None,
    now: datetime | None = None,
) -> Page:
    """Persons in the caller's scope, filtered and paginated; every listed record is audited.

    ``q`` (name, ID number or its ending, phone) comes from the search body only, never from a
    URL: see ``POST /api/v1/persons/search``."""
    now = now or now_utc()
    stmt = select(Person).where(scope_clause(actor))
    if office is not None:
        stmt = stmt.where(
            Person.office_id == select(Unit.id).where(Unit.code == office).scalar_subquery()
        )
    if district is not None:
        stmt = stmt.where(
            Person.district_id == select(Unit.id).where(Unit.code == district).scalar_subquery()
        )
    if category is not None:
        stmt = stmt.where(Person.category == category)
    if status is not None:
        stmt = stmt.where(Person.status == status)
    if juvenile is not None:
        stmt = stmt.where(Person.juvenile.is_(juvenile))
    stmt = _caseload_filters(stmt, grade, flagged, due, risk_band, business_date(now))
    if any(f is not None for f in (office, district, category, grade, flagged, due, risk_band)):
        # A sealed record's stub hides its office, district and category: a filter on them
        # must not tell them either (a hostile review found it did), but to a grant holder.
        # (Its juvenile flag it shows: a sealed record is a juvenile's.)
        stmt = stmt.where(Person.sealed.is_(False) | Person.id.in_(granted_to(actor, now)))
    if q is not None:
        if actor.role == Role.ANALYST:
            raise Forbidden(_("Analysts may not search by name, ID number or phone."))
        if actor.role in (Role.CITY, Role.PROCURATOR):
            # City staff (and procurators) may not find a juvenile by identity: that would
            # reveal it.
            stmt = stmt.where(Person.juvenile.is_(False))
        # Nor may anyone find a sealed record, but the holder of a grant to read it.
        stmt = stmt.where(Person.sealed.is_(False) | Person.id.in_(granted_to(actor, now)))
        stmt = stmt.where(_identity_match(session, stmt, q.strip()))
    items, total = paginate(session, stmt, Person.id, page=page, page_size=page_size)
    action = "person.list" if q is None else "person.search"
    detail = {"deidentified": True} if actor.role == Role.ANALYST else {}
    if items:
        # One row for the page, naming every person it shows.
        audit.record_disclosure(
            session,
            actor=actor,
            action=action,
            shown={p.id: p.juvenile for p in items},
            detail=detail,
            now=now,
        )
    else:
        # A search that found nobody is recorded too (never what was searched for).
        audit.record(session, actor=actor, action=action, detail={**detail, "count": 0}, now=now)
    return Page(items=items, page=page, page_size=page_size, total=total)


def update(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    expected_version: int,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> Person:
    """Correct a person's facts. ``expected_version`` guards against lost updates (412)."""
    now = now or now_utc()
    person = get_scoped(session, actor, person_id, lock=True)
    seen = privacy.visibility(session, actor, person)
    if seen is privacy.Visibility.SEALED:
        raise Forbidden(_("The record is sealed; a sealed record is not corrected."))
    if seen is not privacy.Visibility.FULL:
        # Checking a masked juvenile's facts would answer questions about what is masked
        # (a birth date that "does not match the ID number"): only the owners correct them.
        raise Forbidden(_("A juvenile's record is corrected only by their own office or district."))
    if person.version != expected_version:
        # Names no version (nor anything else of the record): a 412 tells only that it changed.
        raise PreconditionFailed(_("The person has changed since you read it; read it again."))
    writable = {c for c in changes if c != "office_code"}
    facts = {name: getattr(person, name) for name in FACT_FIELDS}
    facts.update({k: changes[k] for k in writable})
    errors, juvenile = validate_facts(facts, business_date(now))
    if errors:
        raise RuleViolation(
            _("The person's facts are inconsistent: {fields}", fields=", ".join(sorted(errors))),
            errors=errors,
        )
    changed = sorted(k for k, v in facts.items() if getattr(person, k) != v)
    if "id_number" in changed:
        ensure_no_open_record(
            session,
            actor,
            facts["id_number"],
            action="person.update_refused",
            exclude_id=person.id,
            now=now,
        )
    if not changed:
        return person
    for key in changed:
        setattr(person, key, facts[key])
    # Once a juvenile, always handled as one (Art. 58: the rules continue after 18).
    person.juvenile = person.juvenile or juvenile
    if "judgment_effective_date" in changed:
        person.intake_deadline = clocks.due_for("intake_report", person.judgment_effective_date)
    person.updated_at = now
    session.flush()
    audit_person(session, actor, person, "person.update", now=now, detail={"fields": changed})
    return person


def _record_status(
    session: Session,
    person: Person,
    from_status: str | None,
    to_status: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> PersonStatusChange:
    change = PersonStatusChange(
        person_id=person.id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        actor_id=actor.user_id,
        actor_username=actor.username,
        changed_at=now,
    )
    session.add(change)
    return change


def change_status(
    session: Session,
    *,
    actor: Actor,
    person: Person,
    to_status: str,
    reason: str,
    now: datetime | None = None,
) -> PersonStatusChange:
    """Move a person to another status along an allowed transition, recording why. Under
    the person's row lock (taken here if the use case has not taken it yet), so the
    transition is checked against the status as it stands."""
    now = now or now_utc()
    lock_person(session, person)
    if to_status not in STATUS_TRANSITIONS[person.status]:
        raise RuleViolation(
            _(
                "a person cannot go from {from_status} to {to_status}",
                from_status=_status_text(person.status),
                to_status=_status_text(to_status),
            ),
            field="to_status",
        )
    from_status = person.status
    person.status = to_status
    person.updated_at = now
    change = _record_status(session, person, from_status, to_status, reason, actor, now)
    session.flush()
    audit_person(
        session,
        actor,
        person,
        "person.status",
        now=now,
        detail={"from": from_status, "to": to_status},
    )
    return change


def status_history(session: Session, *, actor: Actor, person_id: int) -> list[PersonStatusChange]:
    """The person's status changes, oldest first (audited as a read of the record)."""
    person = read_scoped(session, actor, person_id, action="person.status_history")
    return list(
        session.scalars(
            select(PersonStatusChange)
            .where(PersonStatusChange.person_id == person.id)
            .order_by(PersonStatusChange.changed_at, PersonStatusChange.id)
        )
    )


def status_change_view(change: PersonStatusChange, actor: Actor) -> dict[str, Any]:
    """A status change as ``actor`` may see it (the reason is typed text)."""
    session = object_session(change)
    view = {
        "id": change.id,
        "from_status": change.from_status,
        "to_status": change.to_status,
        "to_status_label_zh": _rules().label("statuses", change.to_status),
        "reason": change.reason,
        "actor_username": change.actor_username,
        "changed_at": change.changed_at,
    }
    person = session.get(Person, change.person_id)
    return privacy.present(session, actor, person, "status_change", view)
