"""Roles, permissions and the decorators that declare and enforce them on every route.

A route without a declared permission is a bug: ``tests/core/test_permissions.py`` walks the URL
map and fails on any handler that lacks one. Scope (which persons an actor may see) is enforced
in the service queries; the decorators here only decide whether a role may call a route at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask import current_app, g, request

from corrections.core.errors import Forbidden, Unauthorized
from corrections.core.i18n import _


class Role(StrEnum):
    OFFICER = "officer"
    COMMANDER = "commander"
    CITY = "city"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # A wall display (大屏) of one district: a device token, not an account (org/displays.py).
    DISPLAY = "display"
    # A partner agency's account (court, procuratorate, police ...): reads its own messages of
    # the exchange and acknowledges them, nothing else (exchange/agencies.py).
    PARTNER = "partner"
    # A procuratorate's staff (检察人员, 检察监督): an account of an agency of kind
    # ``procuratorate``, reading the cases of its agency's unit (a district, or the city: all)
    # and filing 纠正意见 / 检察建议; it writes nothing else (oversight/).
    PROCURATOR = "procurator"


ROLE_LABELS_ZH = {
    Role.OFFICER: "司法所工作人员",
    Role.COMMANDER: "区指挥中心",
    Role.CITY: "市局",
    Role.ANALYST: "数据分析员",
    Role.AUDITOR: "审计员",
    Role.ADMIN: "系统管理员",
    Role.DISPLAY: "指挥中心大屏",
    Role.PARTNER: "协作单位",
    Role.PROCURATOR: "检察人员",
}

# The roles a staff account may hold; ``display`` belongs to device tokens only.
ACCOUNT_ROLES = frozenset(Role) - {Role.DISPLAY}

# Which roles may call which kind of route. Scope inside a route is the service's business.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "persons:read": frozenset(
        {Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST, Role.PROCURATOR}
    ),
    "persons:write": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "audit:read": frozenset({Role.AUDITOR}),
    # The audit trail's verification result (ok, findings: no personal data), read-only:
    # auditors, and procurators overseeing the bureau (检察监督).
    "audit:verify": frozenset({Role.AUDITOR, Role.PROCURATOR}),
    # Sealed juvenile records (persons/sealing.py): scope and "not the requester" in the service.
    "sealing:read": frozenset({Role.COMMANDER, Role.CITY}),
    "sealing:request": frozenset({Role.COMMANDER, Role.CITY}),
    "sealing:decide": frozenset({Role.CITY}),
    "sealing:seal": frozenset({Role.CITY}),
    "grading:read": frozenset(
        {Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST, Role.PROCURATOR}
    ),
    "grading:decide": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "grading:approve": frozenset({Role.COMMANDER, Role.CITY}),
    "events:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.PROCURATOR}),
    "events:write": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "obligations:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.PROCURATOR}),
    "monitoring:write": frozenset({Role.COMMANDER, Role.CITY}),
    "term:write": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    # Administrators see (and act on) the system's own alerts only, analysts those about the
    # risk model (model_drift) only (alerts/service.py scope).
    "alerts:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST, Role.ADMIN}),
    "alerts:act": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST, Role.ADMIN}),
    "incidents:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.PROCURATOR}),
    "incidents:write": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "flags:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.PROCURATOR}),
    "flags:write": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    # Intake and discharge procedures: recorded by the person's own judicial office; read
    # within scope (analysts de-identified).
    "procedures:read": frozenset(
        {Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST, Role.PROCURATOR}
    ),
    "procedures:write": frozenset({Role.OFFICER}),
    "stats:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST}),
    "system:read": frozenset({Role.COMMANDER, Role.CITY, Role.ADMIN}),
    # A person's risk scores (personal: scope applies); the model list (no personal data);
    # pseudonymised training exports.
    "risk:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "risk:models": frozenset({Role.COMMANDER, Role.CITY, Role.ANALYST, Role.ADMIN}),
    "risk:export": frozenset({Role.ANALYST, Role.CITY}),
    # The model's health over time (risk/monitoring.py): figures only, no person.
    "risk:health": frozenset({Role.ANALYST, Role.CITY}),
    "units:read": ACCOUNT_ROLES,
    # A unit's staff as a choice list (org/staff.py decides whose unit): no credentials.
    "staff:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ADMIN}),
    # The reasons and grounds the rules files define, for decision forms (no personal data).
    "rules:read": frozenset(
        {Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ANALYST, Role.PROCURATOR}
    ),
    # Organisation and accounts (org/structure.py, org/accounts.py): administrators only.
    "units:admin": frozenset({Role.ADMIN}),
    "users:admin": frozenset({Role.ADMIN}),
    "session": ACCOUNT_ROLES,
    # Wall displays (org/displays.py): a display reads its district's live alerts (names
    # masked for the room, persons/privacy.py) and statistics, and nothing else; it is in no
    # other permission, so every other route refuses it. Commanders manage their district's
    # displays, the city and administrators any.
    "display:read": frozenset({Role.DISPLAY}),
    # The complaints register (complaints/service.py): a district's staff register theirs,
    # its commander (or the city) answers; the summaries are staff-only. Only monthly counts
    # are public (GET /api/v1/public/statistics).
    "complaints:read": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "complaints:write": frozenset({Role.OFFICER, Role.COMMANDER, Role.CITY}),
    "displays:manage": frozenset({Role.COMMANDER, Role.CITY, Role.ADMIN}),
    # The exchange (exchange/): a partner reads its own feed and posts receipts, and nothing
    # else (it is in no other permission); the message catalogue is open to every account;
    # the city and administrators watch delivery and manage agencies.
    "exchange:feed": frozenset({Role.PARTNER}),
    "exchange:schemas": ACCOUNT_ROLES,
    "exchange:operate": frozenset({Role.CITY, Role.ADMIN}),
    # Procuratorate oversight (oversight/, 检察监督): procurators file 纠正意见 and 检察建议;
    # the subject district's commanders (or the city) read them as a queue and reply; the
    # per-office enforcement figures are for the city and procurators. Procurators hold the
    # read permissions above that make sense for oversight (persons, grading, events,
    # obligations, incidents, flags, procedures, rules) and no write permission but filing.
    "oversight:read": frozenset({Role.COMMANDER, Role.CITY, Role.PROCURATOR}),
    "oversight:file": frozenset({Role.PROCURATOR}),
    "oversight:reply": frozenset({Role.COMMANDER, Role.CITY}),
    "oversight:offices": frozenset({Role.CITY, Role.PROCURATOR}),
}

PUBLIC = "public"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or the system itself (jobs, CLI)."""

    user_id: int | None
    username: str
    role: Role | None
    unit_id: int | None
    token_id: int | None = None
    # A wall display's device token (role ``display``; no user).
    display_id: int | None = None

    @property
    def is_system(self) -> bool:
        # A wall display has no user either, but a role: it is never the system.
        return self.user_id is None and self.role is None


SYSTEM = Actor(user_id=None, username="system", role=None, unit_id=None)


def current_actor() -> Actor | None:
    return getattr(g, "actor", None)


# The cookie a wall display's browser keeps its device token in (web/display.py): HttpOnly,
# SameSite=Strict, Path=/api/v1/display. Taken only by routes declared ``cookie=True`` (whose
# permission only the display role holds), only on GET and HEAD, and only for a display's token
# (and read by the display's own ``GET /api/v1/display/session``, to say whether the browser is
# enrolled): never a session for anything else.
DISPLAY_COOKIE = "corrections_display"
_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Credential:
    """What a request authenticated with: a bearer token, or a wall display's cookie."""

    token: str
    cookie: bool = False


def load_credential(credential: Credential, prefetch: tuple | None = None) -> Actor | None:
    """The actor behind ``credential`` now (None: unknown, expired, revoked or disabled). A
    cookie is looked up among display tokens only."""
    if credential.cookie:
        actor = current_app.extensions["corrections.display_loader"](credential.token)
        return actor if actor is not None and actor.role == Role.DISPLAY else None
    loader: Callable[..., Actor | None] = current_app.extensions["corrections.actor_loader"]
    return loader(credential.token, prefetch)


def current_credential() -> Credential | None:
    return getattr(g, "credential", None)


def _authenticate(
    prefetch: tuple[int, tuple, bool] | None = None, *, cookie: bool = False
) -> Actor:
    header = request.headers.get("Authorization", "")
    if not header and cookie and request.method in _SAFE_METHODS:
        value = request.cookies.get(DISPLAY_COOKIE, "")
        if value:
            return _sign_in(Credential(value, cookie=True), None)
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_("A bearer token is required."))
    return _sign_in(Credential(token.strip()), prefetch)


def _sign_in(credential: Credential, prefetch: tuple | None) -> Actor:
    actor = load_credential(credential, prefetch)
    if actor is None:
        raise Unauthorized(_("The token is invalid, expired or revoked."))
    g.actor, g.credential = actor, credential
    return actor


def optional_actor() -> Actor | None:
    """On a public route: the caller behind a valid bearer token, None without one (or with
    one that is invalid, expired or revoked: a public route does not refuse it)."""
    if not request.headers.get("Authorization"):
        return None
    try:
        return _authenticate()
    except Unauthorized:
        return None


def _add_doc(func: Callable, doc: dict[str, Any]) -> None:
    """Merge OpenAPI doc into a view the way flask-smorest's ``Blueprint.doc`` does."""
    apidoc = deepcopy(getattr(func, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    for key, value in doc.items():
        if isinstance(value, dict):
            manual.setdefault(key, {}).update(value)
        else:
            manual[key] = value
    func._apidoc = apidoc


def requires(
    permission: str,
    *,
    person_columns: tuple = (),
    person_lock: Callable[[], bool] | None = None,
    cookie: bool = False,
) -> Callable:
    """Declare and enforce that the caller holds a role allowed ``permission``.

    ``person_columns``: the route's person (``person_id`` in its path) is loaded with these
    columns by the same statement that checks the token, one round trip less on a hot path.
    Only loaded: whether the caller may see the person is decided where it is used.
    ``person_lock``: asked before the token check (the body is not validated yet); True: that
    statement also takes the person's share lock (persons/scope.py load_actor_and_person).
    ``cookie``: a GET route a wall display's page reads; without an Authorization header the
    display's cookie (:data:`DISPLAY_COOKIE`) is taken instead. Only for a permission of the
    display role alone.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    roles = PERMISSIONS[permission]
    if cookie and roles != {Role.DISPLAY}:
        raise ValueError(f"the display cookie is for the display role's routes: {permission!r}")

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            person_id = kwargs.get("person_id") if person_columns else None
            prefetch = None
            if person_id is not None:
                key_share = person_lock is not None and person_lock()
                prefetch = (person_id, person_columns, key_share)
            actor = _authenticate(prefetch, cookie=cookie)
            if actor.role not in roles:
                raise Forbidden(_("Your role may not use this operation."))
            return func(*args, **kwargs)

        wrapper.__permission__ = permission
        _add_doc(
            wrapper,
            {
                "security": [{"bearerAuth": []}, *([{"displayCookie": []}] if cookie else [])],
                "x-permission": permission,
                "x-roles": sorted(r.value for r in roles),
                "responses": {"401": "UNAUTHORIZED", "403": "FORBIDDEN"},
            },
        )
        return wrapper

    return decorator


def public(func: Callable) -> Callable:
    """Declare a route open to anyone (health check, login, the API description)."""
    func.__permission__ = PUBLIC
    _add_doc(func, {"security": []})
    return func
