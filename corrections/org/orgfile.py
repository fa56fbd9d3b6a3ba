"""The organisation file: one city, its districts and their offices, as YAML (``corrections org
import``) or JSON (the admin API). Importing it brings the units in line with it through the
single changes of :mod:`corrections.org.structure`; a second import of the same file changes
nothing and audits nothing; a file with any problem names every bad entry by its path
(``city.districts[1].offices[0].code``), in Chinese and English, and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor
from corrections.core.clock import now_utc
from corrections.core.errors import RuleViolation
from corrections.core.i18n import _
from corrections.core.schemas import Identifier, TrimmedString
from corrections.org.models import Unit, UnitKind
from corrections.org.structure import (
    NAME_MAX,
    add_unit,
    all_units,
    code_problem,
    has_history,
    kind_label,
    move_office,
    name_problem,
    persons_of,
    rename_unit,
    set_active,
)

_MESSAGES = {
    "required": _("required"),
    "null": _("must not be empty"),
    "invalid": _("must be text"),
    "too_long": _("at most {max} characters"),
    "control": _("must not contain control characters"),
}


# What an organisation file may be: a city of some hundred units is a few tens of KB.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 16


def load_yaml(text: str) -> Any:
    """The organisation file's YAML, read safely: no tags (``safe_load``), no anchors or
    aliases (a 12 KB file of nested aliases expands to gigabytes), at most ``MAX_DEPTH`` levels
    and ``MAX_FILE_BYTES``; integers only as plain decimal digits, so a mistyped ``0x1f7``
    or ``3299_0198`` stays text and is refused as a code instead of becoming one.
    Raises :class:`ValueError` with the reason."""
    import re

    import yaml

    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KB")

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.yaml_implicit_resolvers = {
        key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _Loader.add_implicit_resolver(
        "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
    )
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ValueError("anchors and aliases (& and *) are not accepted")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


class _Code(Identifier):
    """A unit code; YAML reads an unquoted 329901 as a number, which is taken as its digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def _code() -> _Code:
    return _Code(required=True, max_length=32, error_messages=_MESSAGES)


def _name() -> TrimmedString:
    return TrimmedString(required=True, max_length=NAME_MAX, error_messages=_MESSAGES)


def _list(schema: type[ma.Schema], *, required: bool) -> ma.fields.List:
    default = {"required": True} if required else {"load_default": list}
    return ma.fields.List(
        ma.fields.Nested(schema, error_messages={"type": _("must be a mapping")}),
        error_messages={**_MESSAGES, "invalid": _("must be a list")},
        **default,
    )


class _Strict(ma.Schema):
    error_messages = {
        "unknown": _("unknown field"),
        "type": _("must be a mapping"),
    }

    class Meta:
        unknown = ma.RAISE


class OfficeEntrySchema(_Strict):
    code = _code()
    name_zh = _name()


class DistrictEntrySchema(_Strict):
    code = _code()
    name_zh = _name()
    offices = _list(OfficeEntrySchema, required=False)


class CityEntrySchema(_Strict):
    code = _code()
    name_zh = _name()
    districts = _list(DistrictEntrySchema, required=True)


class OrgDocumentSchema(_Strict):
    """An organisation file: the city, its districts, their offices (see org.example.yaml)."""

    city = ma.fields.Nested(CityEntrySchema, required=True, error_messages=_MESSAGES)


def _flatten(messages: Any, path: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``city.districts[0].offices[1].code: [...]``."""
    if isinstance(messages, list):
        return {path or "_schema": [m if isinstance(m, str) else str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if isinstance(key, int):
            sub = f"{path}[{key}]"
        elif key == "_schema":
            sub = path or "_schema"
        else:
            sub = f"{path}.{key}" if path else key
        flat.update(_flatten(value, sub))
    return flat


class OrgFileError(RuleViolation):
    """A file with problems: ``errors`` maps each entry's path to what is wrong with it."""


def parse_document(data: Any) -> dict[str, Any]:
    """The document checked for shape (fields, types); OrgFileError naming every entry."""
    try:
        return OrgDocumentSchema().load(data if data is not None else {})
    except ma.ValidationError as exc:
        raise OrgFileError(
            _("the organisation file has errors; nothing changed"),
            errors=_flatten(exc.messages),
        ) from None


@dataclass
class Entry:
    """One unit as the file has it."""

    path: str
    kind: UnitKind
    code: str
    name_zh: str
    parent_code: str | None


def entries(document: dict[str, Any]) -> list[Entry]:
    """The file's units, parents before children."""
    city = document["city"]
    found = [Entry("city", UnitKind.CITY, city["code"], city["name_zh"], None)]
    for i, district in enumerate(city["districts"]):
        found.append(
            Entry(
                f"city.districts[{i}]",
                UnitKind.DISTRICT,
                district["code"],
                district["name_zh"],
                city["code"],
            )
        )
    for i, district in enumerate(city["districts"]):
        for j, office in enumerate(district["offices"]):
            found.append(
                Entry(
                    f"city.districts[{i}].offices[{j}]",
                    UnitKind.OFFICE,
                    office["code"],
                    office["name_zh"],
                    district["code"],
                )
            )
    return found


@dataclass
class Change:
    """One change an import makes (or, in a dry run, would make)."""

    action: str  # create | rename | move | activate | deactivate
    kind: str
    code: str
    name_zh: str
    before: str | None = None  # the old name (rename), the old district (move)
    after: str | None = None  # the new name, the new district, the parent (create)
    persons: int | None = None  # move: persons whose district follows the office


@dataclass
class Missing:
    """A unit the database has and the file does not: reported, never deleted."""

    kind: str
    code: str
    name_zh: str
    active: bool
    has_history: bool
    deactivated: bool = False


@dataclass
class ImportResult:
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    units: int = 0  # units in the file

    def counts(self) -> dict[str, int]:
        counts = {a: 0 for a in ("create", "rename", "move", "activate", "deactivate")}
        for change in self.changes:
            counts[change.action] += 1
        return counts


def _check(session: Session, found: list[Entry], existing: dict[str, Unit]) -> dict[str, list[str]]:
    """Every problem of the file against itself and the database, by entry path."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    city = found[0]
    db_city = next((u for u in existing.values() if u.kind == UnitKind.CITY), None)
    if db_city is not None and db_city.code != city.code:
        add(
            "city.code",
            _(
                "the database's city is {stored}, the file names {code}: one installation "
                "serves one city",
                stored=db_city.code,
                code=city.code,
            ),
        )
    first_path: dict[str, str] = {}
    names: dict[tuple[str | None, str], str] = {}
    for entry in found:
        if entry.code in first_path:
            add(
                f"{entry.path}.code",
                _(
                    "code {code} appears twice; see {path}",
                    code=entry.code,
                    path=first_path[entry.code],
                ),
            )
            continue
        first_path[entry.code] = entry.path
        unit = existing.get(entry.code)
        if unit is not None and unit.kind != entry.kind:
            add(
                f"{entry.path}.code",
                _(
                    "code {code} is already a {kind}; a unit's kind never changes",
                    code=entry.code,
                    kind=kind_label(unit.kind),
                ),
            )
            continue
        new_office = entry.kind == UnitKind.OFFICE and unit is None
        problem = code_problem(
            entry.kind,
            entry.code,
            city_code=city.code,
            district_code=entry.parent_code if new_office else None,
        )
        if problem:
            add(f"{entry.path}.code", problem)
        problem = name_problem(entry.kind, entry.name_zh)
        if problem:
            add(f"{entry.path}.name_zh", problem)
        key = (entry.parent_code, entry.name_zh)
        if key in names:
            add(
                f"{entry.path}.name_zh",
                _("the same name twice under one parent; see {path}", path=names[key]),
            )
        else:
            names[key] = entry.path
    return errors


def _plan(session: Session, found: list[Entry], existing: dict[str, Unit]) -> list[Change]:
    changes: list[Change] = []
    for entry in found:
        unit = existing.get(entry.code)
        if unit is None:
            changes.append(
                Change(
                    "create", entry.kind.value, entry.code, entry.name_zh, after=entry.parent_code
                )
            )
            continue
        if unit.name_zh != entry.name_zh:
            changes.append(
                Change(
                    "rename",
                    entry.kind.value,
                    entry.code,
                    entry.name_zh,
                    before=unit.name_zh,
                    after=entry.name_zh,
                )
            )
        if entry.kind == UnitKind.OFFICE:
            parent = existing.get(entry.parent_code)
            if parent is None or parent.id != unit.parent_id:
                before = session.scalar(select(Unit.code).where(Unit.id == unit.parent_id))
                changes.append(
                    Change(
                        "move",
                        entry.kind.value,
                        entry.code,
                        entry.name_zh,
                        before=before,
                        after=entry.parent_code,
                        persons=persons_of(session, unit),
                    )
                )
        if not unit.active:
            changes.append(Change("activate", entry.kind.value, entry.code, entry.name_zh))
    return changes


def document_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON: which file was imported, in the audit."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def import_document(
    session: Session,
    data: Any,
    *,
    actor: Actor,
    dry_run: bool = False,
    deactivate_missing: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Bring the units in line with an organisation file: create what is new, rename what was
    renamed, move offices the file puts in another district, make active again what the
    file lists. Units missing from the file are reported; with ``deactivate_missing`` those
    nothing refers to are made inactive; none is deleted. A second import of the same file
    changes nothing and audits nothing. A file with any problem raises
    :class:`OrgFileError` naming each entry, and changes nothing. ``dry_run``: compute and
    report, write nothing."""
    now = now or now_utc()
    document = parse_document(data)
    found = entries(document)
    # Locked: two imports at once would plan against the same state.
    existing = {u.code: u for u in session.scalars(select(Unit).with_for_update(of=Unit))}
    errors = _check(session, found, existing)
    if errors:
        raise OrgFileError(_("the organisation file has errors; nothing changed"), errors=errors)
    result = ImportResult(dry_run=dry_run, units=len(found))
    result.changes = _plan(session, found, existing)
    listed = {e.code for e in found}
    missing = [u for code, u in sorted(existing.items()) if code not in listed]
    for unit in missing:
        history = has_history(session, unit)
        gone = Missing(unit.kind, unit.code, unit.name_zh, unit.active, history)
        if deactivate_missing and unit.active and not history:
            gone.deactivated = True
            result.changes.append(Change("deactivate", unit.kind, unit.code, unit.name_zh))
        result.missing.append(gone)
    if dry_run or not result.changes:
        return result
    _apply(session, result.changes, existing, actor=actor, now=now)
    audit.record(
        session,
        actor=actor,
        action="org.import",
        subject_type="unit",
        detail={**result.counts(), "units": result.units, "sha256": document_digest(document)},
        now=now,
    )
    session.flush()
    return result


def _apply(
    session: Session,
    changes: Iterable[Change],
    existing: dict[str, Unit],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    units = dict(existing)
    for change in changes:
        if change.action == "create":
            units[change.code] = add_unit(
                session,
                code=change.code,
                name_zh=change.name_zh,
                kind=UnitKind(change.kind),
                parent_code=change.after,
                actor=actor,
                now=now,
            )
            continue
        unit = units[change.code]
        if change.action == "rename":
            rename_unit(session, unit, change.name_zh, actor=actor, now=now)
        elif change.action == "move":
            move_office(session, unit, units[change.after], actor=actor, now=now)
        elif change.action in ("activate", "deactivate"):
            set_active(session, unit, change.action == "activate", actor=actor, now=now)
        session.flush()


def export_document(session: Session, *, include_inactive: bool = False) -> dict[str, Any]:
    """The units as an organisation file (what ``org import`` reads)."""
    units = [u for u in all_units(session) if include_inactive or u.active]
    city = next((u for u in units if u.kind == UnitKind.CITY), None)
    if city is None:
        return {}
    children: dict[int, list[Unit]] = {}
    for unit in units:
        if unit.parent_id is not None:
            children.setdefault(unit.parent_id, []).append(unit)
    return {
        "city": {
            "code": city.code,
            "name_zh": city.name_zh,
            "districts": [
                {
                    "code": d.code,
                    "name_zh": d.name_zh,
                    "offices": [
                        {"code": o.code, "name_zh": o.name_zh} for o in children.get(d.id, [])
                    ],
                }
                for d in children.get(city.id, [])
            ],
        }
    }
