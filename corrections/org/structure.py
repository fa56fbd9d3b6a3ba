"""The organisation's structure: adding, renaming, moving and (de)activating units, one at a
time (the admin API) or from a whole file (:mod:`corrections.org.orgfile`).

A unit's code is its identity for good: an office moved to another district keeps its code, its
id, its persons, accounts and records; the move is a :class:`UnitMove` row. Nothing is ever
deleted, and a unit is made inactive only while nothing refers to it (no person, account,
decision, transfer, move or child unit): records must never point at a unit that looks gone.

The rules a unit must satisfy (codes, names, the parent's kind) are checked here, with messages
in Chinese and English, before anything is written; a file with any problem changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor
from corrections.core.clock import now_utc
from corrections.core.db import db
from corrections.core.errors import Conflict, NotFound, PreconditionFailed, RuleViolation
from corrections.core.i18n import Message, _, bilingual
from corrections.org import displays
from corrections.org.models import UNIT_KIND_LABELS_ZH, DisplayToken, Unit, UnitKind, UnitMove

# --- the rules a unit satisfies ------------------------------------------------------------

# City: the 4-digit prefecture code (the demo's 3299), or its 6-digit GB/T 2260 form ending
# in 00 (330100). District: a 6-digit GB/T 2260 county-level code under the city. Office: its
# district's code and a 2- or 3-digit sequence (the demo's 32990101; a GB/T 10114 township
# code has 3). No code starts with 0 (GB/T 2260 province codes are 11-82).
_CITY_CODE = re.compile(r"[1-9][0-9]{3}(?:00)?")
_DISTRICT_CODE = re.compile(r"[1-9][0-9]{5}")
_OFFICE_CODE = re.compile(r"[1-9][0-9]{7,8}")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
NAME_MAX = 100

PARENT_KIND = {
    UnitKind.CITY: None,
    UnitKind.DISTRICT: UnitKind.CITY,
    UnitKind.OFFICE: UnitKind.DISTRICT,
}
# What a unit's Chinese name contains: 市/区(县)司法局, 司法所.
NAME_MARK = {UnitKind.CITY: "司法局", UnitKind.DISTRICT: "司法局", UnitKind.OFFICE: "司法所"}


def kind_label(kind: UnitKind | str) -> Message:
    """A unit kind as a message parameter: ``office`` in English, 司法所 in Chinese."""
    kind = UnitKind(kind)
    return bilingual(kind.value, UNIT_KIND_LABELS_ZH[kind])


def city_prefix(city_code: str) -> str:
    """The digits every district and office code of the city begins with."""
    return city_code[:4]


def code_problem(
    kind: UnitKind, code: str, *, city_code: str | None, district_code: str | None = None
) -> Message | None:
    """What is wrong with ``code`` for a unit of ``kind`` (None: nothing). ``district_code``:
    for a new office, the district it is created in (an existing office keeps its code when
    it moves, so only its form is checked)."""
    if kind == UnitKind.CITY:
        if not _CITY_CODE.fullmatch(code):
            return _("a city code is 4 digits, or the 6-digit division code ending in 00")
        return None
    prefix = city_prefix(city_code) if city_code else None
    if kind == UnitKind.DISTRICT:
        if not _DISTRICT_CODE.fullmatch(code) or code.endswith("00"):
            return _("a district code is the 6-digit division code, not ending in 00")
        if prefix and not code.startswith(prefix):
            return _("a district code begins with the city's {prefix}", prefix=prefix)
        return None
    if not _OFFICE_CODE.fullmatch(code):
        return _("an office code is its district's code followed by 2–3 digits: 8–9 digits")
    if district_code and not code.startswith(district_code):
        return _(
            "a new office's code begins with its district's {district}", district=district_code
        )
    if prefix and not code.startswith(prefix):
        return _("an office code begins with the city's {prefix}", prefix=prefix)
    return None


def name_problem(kind: UnitKind, name: str) -> Message | None:
    """What is wrong with a unit's Chinese name (None: nothing)."""
    if not _HAN.search(name):
        return _("the name must be in Chinese")
    mark = NAME_MARK[kind]
    if mark not in name:
        return _("a {kind} unit's name contains “{mark}”", kind=kind_label(kind), mark=mark)
    return None


def _parent_problem(kind: UnitKind, parent: Unit | None) -> Message | None:
    expected = PARENT_KIND[kind]
    if expected is None:
        return None if parent is None else _("the city has no parent unit")
    if parent is None or parent.kind != expected:
        return _(
            "a {kind} sits under a {parent}", kind=kind_label(kind), parent=kind_label(expected)
        )
    if not parent.active:
        return _("the parent unit {code} is inactive", code=parent.code)
    return None


# --- lookups -------------------------------------------------------------------------------


def get_unit(session: Session, code: str, *, lock: bool = False) -> Unit:
    stmt = select(Unit).where(Unit.code == code)
    if lock:
        stmt = stmt.with_for_update(of=Unit)
    unit = session.scalar(stmt)
    if unit is None:
        raise NotFound(_("no unit with code {code}", code=code))
    return unit


def all_units(session: Session) -> list[Unit]:
    """Every unit, inactive ones too, by code."""
    return list(session.scalars(select(Unit).order_by(Unit.code)))


def moves_of(session: Session, unit: Unit) -> list[dict[str, Any]]:
    """The unit's moves, oldest first, with the districts' codes."""
    codes = dict(session.execute(select(Unit.id, Unit.code)).all())
    rows = session.scalars(
        select(UnitMove).where(UnitMove.unit_id == unit.id).order_by(UnitMove.id)
    )
    return [
        {
            "from_code": codes[m.from_parent_id],
            "to_code": codes[m.to_parent_id],
            "moved_at": m.moved_at,
            "moved_by": m.moved_by,
            "persons_moved": m.persons_moved,
        }
        for m in rows
    ]


def _unit_references() -> list:
    """Every column, in every table, that refers to a unit (found from the foreign keys, so a
    table added later counts without being listed here), but a wall display's: a district's
    displays are revoked when it is made inactive (:func:`set_active`), they keep none."""
    units = Unit.__table__
    return [
        fk.parent
        for table in db.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table is units and table is not DisplayToken.__table__
    ]


def has_history(session: Session, unit: Unit) -> bool:
    """Whether anything refers to the unit: a person, an account, a decision, a transfer, a
    move, a child unit. Such a unit is never made inactive (nor deleted)."""
    return any(
        session.scalar(select(exists().where(column == unit.id))) for column in _unit_references()
    )


def _persons_table():
    # Persons copy their office's district (persons.district_id, which the scope queries
    # use). Org sits below persons in the stack, so the table is named, not imported.
    return db.metadata.tables["persons"]


def persons_of(session: Session, office: Unit) -> int:
    persons = _persons_table()
    return session.scalar(
        select(func.count()).select_from(persons).where(persons.c.office_id == office.id)
    )


# --- single changes (each audited) ---------------------------------------------------------


def add_unit(
    session: Session,
    *,
    code: str,
    name_zh: str,
    kind: UnitKind,
    parent_code: str | None,
    actor: Actor,
    now: datetime | None = None,
) -> Unit:
    """Create a unit under an active parent of the right kind, its code and name checked."""
    now = now or now_utc()
    parent = get_unit(session, parent_code) if parent_code else None
    city = session.scalar(select(Unit).where(Unit.kind == UnitKind.CITY))
    errors: dict[str, list[str]] = {}
    if kind == UnitKind.CITY and city is not None:
        errors["kind"] = [_("the city {code} exists", code=city.code)]
    problem = _parent_problem(kind, parent)
    if problem:
        errors["parent_code"] = [problem]
    problem = code_problem(
        kind,
        code,
        city_code=city.code if city else None,
        district_code=parent.code if parent is not None and kind == UnitKind.OFFICE else None,
    )
    if problem:
        errors["code"] = [problem]
    problem = name_problem(kind, name_zh)
    if problem:
        errors["name_zh"] = [problem]
    if errors:
        raise RuleViolation(next(iter(errors.values()))[0], errors=errors)
    if session.scalar(select(Unit.id).where(Unit.code == code)):
        raise Conflict(
            _("a unit with code {code} exists", code=code),
            errors={"code": [_("already exists")]},
        )
    unit = Unit(
        code=code,
        name_zh=name_zh,
        kind=kind,
        parent_id=parent.id if parent else None,
        active=True,
        updated_at=now,
    )
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="unit.create",
        subject_type="unit",
        subject_id=unit.id,
        detail={"code": code, "kind": kind.value, "name_zh": name_zh, "parent": parent_code},
        now=now,
    )
    return unit


def rename_unit(session: Session, unit: Unit, name_zh: str, *, actor: Actor, now: datetime) -> None:
    problem = name_problem(UnitKind(unit.kind), name_zh)
    if problem:
        raise RuleViolation(problem, field="name_zh")
    old, unit.name_zh, unit.updated_at = unit.name_zh, name_zh, now
    audit.record(
        session,
        actor=actor,
        action="unit.rename",
        subject_type="unit",
        subject_id=unit.id,
        detail={"code": unit.code, "from": old, "to": name_zh},
        now=now,
    )


def move_office(
    session: Session, office: Unit, district: Unit, *, actor: Actor, now: datetime
) -> UnitMove:
    """Put an office in another district. Its persons, accounts and records keep pointing at
    the office; its persons' district follows it (so the new district's commander sees
    them); the move is recorded and audited."""
    if office.kind != UnitKind.OFFICE:
        raise RuleViolation(_("only an office moves to another district"), field="parent_code")
    problem = _parent_problem(UnitKind.OFFICE, district)
    if problem:
        raise RuleViolation(problem, field="parent_code")
    from_id = office.parent_id
    persons = _persons_table()
    moved = session.execute(
        update(persons).where(persons.c.office_id == office.id).values(district_id=district.id)
    ).rowcount
    # Their alerts carry the district too (the lists' scope, alerts/models.py).
    alerts = db.metadata.tables["alerts"]
    session.execute(
        update(alerts).where(alerts.c.office_id == office.id).values(district_id=district.id)
    )
    office.parent_id, office.updated_at = district.id, now
    # The joined ``parent`` must follow the id within this session.
    office.parent = district
    move = UnitMove(
        unit_id=office.id,
        from_parent_id=from_id,
        to_parent_id=district.id,
        moved_at=now,
        moved_by=actor.username,
        persons_moved=moved or 0,
    )
    session.add(move)
    session.flush()
    from_code = session.scalar(select(Unit.code).where(Unit.id == from_id))
    audit.record(
        session,
        actor=actor,
        action="unit.move",
        subject_type="unit",
        subject_id=office.id,
        detail={
            "code": office.code,
            "from": from_code,
            "to": district.code,
            "persons": move.persons_moved,
        },
        now=now,
    )
    return move


def set_active(session: Session, unit: Unit, active: bool, *, actor: Actor, now: datetime) -> None:
    """Make a unit active again (its parent must be active), or inactive (only while nothing
    refers to it: 409 otherwise)."""
    if unit.active == active:
        return
    if active:
        parent = session.get(Unit, unit.parent_id) if unit.parent_id else None
        if parent is not None and not parent.active:
            raise RuleViolation(
                _("the parent {code} is inactive; make it active first", code=parent.code),
                field="active",
            )
    elif has_history(session, unit):
        raise Conflict(
            _(
                "the unit {code} has persons, accounts, records or units under it: it stays active",
                code=unit.code,
            ),
            errors={"active": [_("a unit with history stays active")]},
        )
    unit.active, unit.updated_at = active, now
    audit.record(
        session,
        actor=actor,
        action="unit.activate" if active else "unit.deactivate",
        subject_type="unit",
        subject_id=unit.id,
        detail={"code": unit.code},
        now=now,
    )
    if not active:
        # A wall display of the district stops with it (made active again, it stays revoked).
        displays.revoke_district(session, actor=actor, unit=unit, now=now)


def update_unit(
    session: Session,
    *,
    code: str,
    expected_version: int,
    changes: dict[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> Unit:
    """Rename, move (an office) or (de)activate one unit; ``expected_version`` guards against
    a lost update (412). Changes nothing when a value is already as asked."""
    now = now or now_utc()
    unit = get_unit(session, code, lock=True)
    if unit.version != expected_version:
        raise PreconditionFailed(_("the unit has changed; read it again"))
    if "name_zh" in changes and changes["name_zh"] != unit.name_zh:
        rename_unit(session, unit, changes["name_zh"], actor=actor, now=now)
    if "parent_code" in changes:
        parent = get_unit(session, changes["parent_code"]) if changes["parent_code"] else None
        if parent is None or parent.id != unit.parent_id:
            if unit.kind != UnitKind.OFFICE or parent is None:
                raise RuleViolation(
                    _("only an office moves to another district"), field="parent_code"
                )
            move_office(session, unit, parent, actor=actor, now=now)
    if "active" in changes:
        set_active(session, unit, changes["active"], actor=actor, now=now)
    session.flush()
    return unit
