"""Units, users, passwords, tokens and sign-in. Services flush; the outermost use case commits."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import ROLE_LABELS_ZH, SYSTEM, Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, NotFound, RuleViolation, TooManyRequests, Unauthorized
from corrections.core.i18n import Message, _, bilingual
from corrections.core.schemas import normalize_identifier
from corrections.core.sqlfuncs import insert_for
from corrections.core.types import UTCDateTime
from corrections.org import passwords
from corrections.org.models import (
    UNIT_KIND_LABELS_ZH,
    ApiToken,
    LoginAttempt,
    LoginCounter,
    PasswordResetCode,
    Unit,
    UnitKind,
    User,
)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# Names the trail gives to the system itself (jobs, the scheduler, seeding): an account of that
# name would make a person's actions look automatic (hostile review).
RESERVED_USERNAMES = frozenset({"system", "scheduler", "demo-seed", "cli", "root", "admin-system"})

# Which kind of unit each role belongs to.
ROLE_UNIT_KIND = {
    Role.OFFICER: UnitKind.OFFICE,
    Role.COMMANDER: UnitKind.DISTRICT,
    Role.CITY: UnitKind.CITY,
    Role.ANALYST: UnitKind.CITY,
    Role.AUDITOR: UnitKind.CITY,
    Role.ADMIN: UnitKind.CITY,
}


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["PASSWORD_HASH_TIME_COST"],
        memory_cost=cfg["PASSWORD_HASH_MEMORY_KIB"],
        parallelism=1,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# The password of an account that has none yet (created with a reset code): no argon2 hash,
# so no password verifies against it.
NO_PASSWORD = "!"  # noqa: S105


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- units -------------------------------------------------------------------------------


def create_unit(
    session: Session, *, code: str, name_zh: str, kind: UnitKind, parent: Unit | None = None
) -> Unit:
    expected_parent = {
        UnitKind.CITY: None,
        UnitKind.DISTRICT: UnitKind.CITY,
        UnitKind.OFFICE: UnitKind.DISTRICT,
    }[kind]
    if (parent.kind if parent else None) != expected_parent:
        raise RuleViolation(
            _(
                "a {kind} unit must sit under a {parent} unit",
                kind=kind.value,
                parent=expected_parent.value if expected_parent else "none",
            ),
            field="parent",
        )
    if session.scalar(select(Unit.id).where(Unit.code == code)):
        raise Conflict(
            _("a unit with code {code} exists", code=code),
            errors={"code": [_("already exists")]},
        )
    unit = Unit(code=code, name_zh=name_zh, kind=kind, parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    return unit


def get_unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(_("no unit with code {code}", code=code))
    return unit


def list_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.code)))


# --- users -------------------------------------------------------------------------------


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def role_unit_problem(role: Role, unit: Unit) -> Message | None:
    """Why ``unit`` cannot hold an account of ``role`` (None: it can). A partner account
    belongs to an agency, not a unit: it is made by ``corrections exchange partners create``
    and never by a role or unit change."""
    if role == Role.PARTNER:
        return _(
            "a partner account belongs to an agency: create it with "
            "'corrections exchange partners create'"
        )
    if role == Role.PROCURATOR:
        return _(
            "a procurator account belongs to a procuratorate: create it with "
            "'corrections exchange procurators create'"
        )
    kind = ROLE_UNIT_KIND[role]
    if unit.kind != kind:
        return _(
            "{role} belongs to {kind} unit, {code} is {unit_kind}",
            role=bilingual(_a(role), ROLE_LABELS_ZH[role]),
            kind=bilingual(_a(kind), UNIT_KIND_LABELS_ZH[kind]),
            code=unit.code,
            unit_kind=bilingual(_a(unit.kind), UNIT_KIND_LABELS_ZH[UnitKind(unit.kind)]),
        )
    if not unit.active:
        return _("the unit {code} is inactive", code=unit.code)
    return None


def create_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    role: Role,
    unit_code: str,
    display_name: str = "",
    actor: Actor = SYSTEM,
    demo: bool = False,
    agency_id: int | None = None,
) -> User:
    """Create an account; the role must fit the unit (an officer belongs to a judicial office).
    ``password`` None: the account has no password until its user redeems a reset code
    (org/credentials.py), so nobody but that user ever knows it. ``demo``: the demo city's
    accounts, which share the published demo password (the policy refuses it elsewhere)."""
    if not USERNAME_RE.match(username):
        raise RuleViolation(_("3–64 lower-case letters, digits, '.', '_' or '-'"), field="username")
    if username in RESERVED_USERNAMES:
        raise RuleViolation(
            _("is the name the system's own actions are recorded under"), field="username"
        )
    if password is not None and not demo:
        weak = passwords.problems(password, username=username)
        if weak:
            raise RuleViolation(weak[0], errors={"password": weak})
    unit = get_unit_by_code(session, unit_code)
    # A partner's unit is its agency's (exchange/agencies.create_partner checks it).
    problem = None if agency_id is not None else role_unit_problem(role, unit)
    if problem:
        raise RuleViolation(
            problem, field="role" if role in (Role.PARTNER, Role.PROCURATOR) else "unit_code"
        )
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(
            _("user {username} exists", username=username),
            errors={"username": [_("already exists")]},
        )
    user = User(
        username=username,
        display_name=display_name,
        password_hash=NO_PASSWORD if password is None else hash_password(password),
        role=role,
        unit_id=unit.id,
        agency_id=agency_id,
        active=True,
        created_at=now_utc(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        subject_type="user",
        subject_id=user.id,
        detail={"role": role.value, "unit": unit.code, "password_set": password is not None},
    )
    return user


def get_user(session: Session, username: str, *, lock: bool = False) -> User:
    """The account (404 if none); ``lock``: its row locked for a change (two administrators
    changing one account at once apply one after the other)."""
    stmt = select(User).where(User.username == normalize_username(username))
    if lock:
        stmt = stmt.with_for_update(of=User)
    user = session.scalar(stmt)
    if user is None:
        raise NotFound(_("no user {username}", username=username))
    return user


def revoke_tokens(
    session: Session, user_id: int, *, now: datetime, keep_token_id: int | None = None
) -> int:
    """Revoke the user's live tokens (all but ``keep_token_id``); how many were live."""
    stmt = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if keep_token_id is not None:
        stmt = stmt.where(ApiToken.id != keep_token_id)
    return session.execute(stmt.values(revoked_at=now)).rowcount or 0


def revoke_reset_codes(session: Session, user_id: int, *, now: datetime) -> int:
    """Withdraw the user's outstanding reset codes; how many there were."""
    result = session.execute(
        update(PasswordResetCode)
        .where(
            PasswordResetCode.user_id == user_id,
            PasswordResetCode.used_at.is_(None),
            PasswordResetCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount or 0


# The roles an installation keeps one active account of: without an administrator nobody
# manages accounts (but at the server's shell); without a city account nobody sees or decides
# at the city's level (the city's approvals, statistics and alerts). Hostile review: one
# administrator's token could disable or demote every city account.
_KEEP_ONE = {
    Role.ADMIN: (_("the last active administrator account"), _("the last administrator")),
    Role.CITY: (_("the last active city account"), _("the last city account")),
}


def refuse_last_of_role(session: Session, user: User) -> None:
    """An installation keeps at least one active administrator and one active city account:
    disabling the last one, or changing its role, is 409."""
    if user.role not in _KEEP_ONE or not user.active:
        return
    # One lock for every change that may remove an administrator or a city account: the city
    # unit's row. Two administrators disabling each other at the same moment each counted the
    # other as still active (hostile review); under this lock the second counts after the
    # first committed.
    session.execute(select(Unit.id).where(Unit.kind == UnitKind.CITY).with_for_update())
    others = session.scalar(
        select(func.count()).where(User.role == user.role, User.active, User.id != user.id)
    )
    if not others:
        detail, short = _KEEP_ONE[Role(user.role)]
        raise Conflict(detail, errors={"username": [short]})


def disable_user(session: Session, *, username: str, actor: Actor = SYSTEM) -> User:
    """Disable an account and revoke its tokens and reset codes at once."""
    user = get_user(session, username, lock=True)
    if not user.active:
        return user
    refuse_last_of_role(session, user)
    now = now_utc()
    user.active, user.disabled_at = False, now
    revoked = revoke_tokens(session, user.id, now=now)
    revoke_reset_codes(session, user.id, now=now)
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        subject_type="user",
        subject_id=user.id,
        detail={"tokens_revoked": revoked},
    )
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


# --- sign-in -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime
    user: User


# The sign-in limits (README, Configuration). Each is a counter row taken by one upsert that
# refuses at the limit: the row lock orders parallel attempts, so none is checked against a
# count the others have not written yet. A slot is taken before the password is verified and
# handed back on success, so 40 parallel guesses check at most the limit.
ANY = ""  # the counter of every address (of a username) or of every username (of an address)
BACKOFF = "~"  # prefixes the address of a (username, address) back-off counter


@dataclass(frozen=True)
class _Limit:
    username: str
    client_addr: str
    limit: int
    window: timedelta


def _limits(username: str, addr: str) -> tuple[_Limit, _Limit, _Limit, _Limit, _Limit]:
    """Per address (any username), per (username, address), per username (any address, a
    count only), and, while the username is under attack, the back-off of one unknown address
    and of all unknown addresses together."""
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    return (
        _Limit(ANY, addr, cfg["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"], window),
        _Limit(username, addr, cfg["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"], window),
        _Limit(
            username,
            ANY,
            cfg["LOGIN_MAX_FAILURES_PER_USERNAME"],
            timedelta(seconds=cfg["LOGIN_USERNAME_WINDOW_SECONDS"]),
        ),
        _Limit(
            username,
            BACKOFF + addr[: 64 - len(BACKOFF)],
            1,
            timedelta(seconds=cfg["LOGIN_USERNAME_BACKOFF_SECONDS"]),
        ),
        _Limit(
            username,
            BACKOFF,
            cfg["LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME"],
            timedelta(seconds=cfg["LOGIN_USERNAME_WINDOW_SECONDS"]),
        ),
    )


def _take(session: Session, limit: _Limit, now: datetime, *, refuse: bool = True):
    """Count one attempt against ``limit`` unless its window is full, in one statement.

    Returns the counter's row (``last_success_at``, ``attempts`` after this one), or None
    when the limit refused. With ``refuse=False`` the attempt is always counted.
    """
    c = LoginCounter.__table__.c
    when = literal(now, UTCDateTime())
    expired = c.window_start <= literal(now - limit.window, UTCDateTime())
    stmt = (
        insert_for(session)(LoginCounter.__table__)
        .values(
            username=limit.username, client_addr=limit.client_addr, attempts=1, window_start=now
        )
        .on_conflict_do_update(
            index_elements=[c.username, c.client_addr],
            set_={
                "attempts": case((expired, 1), else_=c.attempts + 1),
                "window_start": case((expired, when), else_=c.window_start),
            },
            where=(expired | (c.attempts < limit.limit)) if refuse else None,
        )
        .returning(c.last_success_at, c.attempts)
    )
    return session.execute(stmt).first()


def take_slot(session: Session, key: str, scope: str, limit: int, window: timedelta, now) -> bool:
    """Take one of ``limit`` slots of (``key``, ``scope``) in the current window, in one
    statement (the sign-in counters' table); False when they are all taken. The caller commits
    it before doing what it guards, so parallel requests cannot all pass one check; a success
    hands its slot back (:func:`give_back_slot`)."""
    return _take(session, _Limit(key, scope, limit, window), now) is not None


def give_back_slot(session: Session, key: str, scope: str) -> None:
    """Hand back a slot taken by :func:`take_slot` (what it guarded went well)."""
    session.execute(
        update(LoginCounter)
        .where(
            LoginCounter.username == key,
            LoginCounter.client_addr == scope,
            LoginCounter.attempts > 0,
        )
        .values(attempts=LoginCounter.attempts - 1)
    )


def _refused(session: Session, limit: _Limit, now: datetime) -> TooManyRequests:
    session.rollback()  # the other counters taken for this attempt are handed back
    start = session.scalar(
        select(LoginCounter.window_start).where(
            LoginCounter.username == limit.username, LoginCounter.client_addr == limit.client_addr
        )
    )
    wait = (start + limit.window - now).total_seconds() if start else 1
    return TooManyRequests(
        _("Too many sign-in attempts; wait and try again."), retry_after=math.ceil(max(wait, 1))
    )


def reserve_attempt(session: Session, username: str, addr: str, now: datetime) -> bool:
    """Take this attempt's slots and commit them before the password is checked; 429 when a
    limit is reached. True when the per-username count was taken too (the address is not one
    the user signed in from lately); False when a known address skipped it.

    The per-username count never refuses by itself (then anyone could lock a named officer
    out): once it reaches its limit, each address the user has not signed in from lately gets
    one attempt per back-off period, and all such addresses together at most
    ``LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME`` in the username's window, which bounds what a
    guesser with any number of addresses can try. An address the user signed in from lately
    is never held up; a first attempt from a new address is, only once a distributed attack
    has used up that shared budget.
    """
    per_address, per_pair, per_username, backoff, backoff_all = _limits(username, addr)
    # Always in this order (address, pair, username, back-off, all back-off), so parallel
    # sign-ins cannot deadlock.
    for limit in (per_address, per_pair):
        row = _take(session, limit, now)
        if row is None:
            raise _refused(session, limit, now)
    known_since = now - timedelta(days=current_app.config["LOGIN_KNOWN_ADDRESS_DAYS"])
    known = row.last_success_at is not None and row.last_success_at >= known_since
    if not known:
        counted = _take(session, per_username, now, refuse=False)
        if counted.attempts > per_username.limit:
            for limit in (backoff, backoff_all):
                if _take(session, limit, now) is None:
                    raise _refused(session, limit, now)
    session.commit()
    return not known


def forgive_attempt(
    session: Session, username: str, addr: str, now: datetime, *, took: bool
) -> None:
    """A successful sign-in: its pair's failures are forgiven and the address becomes known;
    the per-username slot it took is returned, and so is the address's (the per-address limit
    is for guessing across usernames: fifty colleagues signing in behind one office's NAT
    address in a morning must not close it)."""
    session.execute(
        update(LoginCounter)
        .where(LoginCounter.username == username, LoginCounter.client_addr == addr)
        .values(attempts=0, last_success_at=now)
    )
    session.execute(
        update(LoginCounter)
        .where(
            LoginCounter.username == ANY,
            LoginCounter.client_addr == addr,
            LoginCounter.attempts > 0,
        )
        .values(attempts=LoginCounter.attempts - 1)
    )
    if took:
        session.execute(
            update(LoginCounter)
            .where(
                LoginCounter.username == username,
                LoginCounter.client_addr == ANY,
                LoginCounter.attempts > 0,
            )
            .values(attempts=LoginCounter.attempts - 1)
        )


def normalize_username(username: str) -> str:
    """The one spelling of a username: NFKC (a full-width ``ＣＩＴＹ`` is ``city``), trimmed,
    lower case; sign-in, accounts and the limits' counters all use it."""
    return normalize_identifier(username).strip().lower()[:64]


def client_key(addr: str | None) -> str:
    """What the sign-in limits count a client address as: an IPv4 address itself, an IPv6
    address by its /64 network (one subscriber's allocation: rotating the low 64 bits is free,
    so counting single addresses would give such a guesser a fresh limit per address)."""
    if not addr:
        return "unknown"
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return addr[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


_DUMMY_HASH: str | None = None


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists, so timing does not reveal usernames."""
    global _DUMMY_HASH
    hasher = _hasher()
    if password_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_hex(16))
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_DUMMY_HASH, password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def login(session: Session, *, username: str, password: str, client_addr: str) -> IssuedToken:
    """Exchange a username and password for a bearer token.

    The attempt is counted (and committed) before the password is checked, and a failed
    attempt is committed even though the request fails, so the limits hold under parallel
    requests. Wrong username, wrong password and disabled account all give the same answer.
    """
    now = now_utc()
    username = normalize_username(username)
    addr = client_key(client_addr)
    # Read before the commit below: the slow hash then runs outside any transaction.
    account = session.execute(
        select(User.id, User.password_hash, User.active).where(User.username == username)
    ).first()
    took = reserve_attempt(session, username, addr, now)
    ok = (
        verify_password(account.password_hash if account else None, password)
        and account is not None
        and account.active
    )
    session.add(LoginAttempt(username=username, client_addr=addr, succeeded=ok, attempted_at=now))
    user = session.get(User, account.id) if account is not None else None
    if not ok:
        if user is not None:
            audit.record(
                session,
                actor=Actor(user.id, user.username, Role(user.role), user.unit_id),
                action="auth.login_failed",
                subject_type="user",
                subject_id=user.id,
            )
        session.commit()
        raise Unauthorized(_("Wrong username or password."))
    forgive_attempt(session, username, addr, now, took=took)
    hasher = _hasher()
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=current_app.config["TOKEN_TTL_SECONDS"])
    session.add(
        ApiToken(
            user_id=user.id, token_hash=_token_digest(token), created_at=now, expires_at=expires_at
        )
    )
    actor = Actor(user.id, user.username, Role(user.role), user.unit_id)
    audit.record(session, actor=actor, action="auth.login", subject_type="user", subject_id=user.id)
    session.flush()
    return IssuedToken(access_token=token, expires_at=expires_at, user=user)


# Built once: every authenticated request runs it.
_T, _U = ApiToken.__table__.c, User.__table__.c
_LOAD_ACTOR = (
    select(_T.id, _U.id, _U.username, _U.role, _U.unit_id)
    .join_from(ApiToken.__table__, User.__table__, _U.id == _T.user_id)
    .where(
        _T.token_hash == bindparam("digest"),
        _T.revoked_at.is_(None),
        _T.expires_at > bindparam("now"),
        _U.active.is_(True),
    )
)


def load_actor(session: Session, token: str) -> Actor | None:
    """The actor behind a bearer token, or None if it is unknown, expired, revoked or disabled."""
    # Core execution on the session's connection: every request runs this, so it skips the
    # ORM layer (there are no entities to load).
    row = session.connection().execute(_LOAD_ACTOR, actor_params(token)).first()
    return None if row is None else actor_from(row)


def actor_params(token: str) -> dict:
    return {"digest": _token_digest(token), "now": now_utc()}


def actor_query(*extra: Any):
    """The token lookup, with ``extra`` columns or entities (e.g. a prefetched record)."""
    return _LOAD_ACTOR.add_columns(*extra) if extra else _LOAD_ACTOR


def actor_from(row) -> Actor:
    """The actor from the first five columns of an :func:`actor_query` row."""
    token_id, user_id, username, role, unit_id = row[:5]
    return Actor(
        user_id=user_id, username=username, role=Role(role), unit_id=unit_id, token_id=token_id
    )


def revoke_token(session: Session, *, actor: Actor) -> None:
    """Revoke the token the actor signed in with."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == actor.token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now_utc())
    )
    audit.record(
        session, actor=actor, action="auth.logout", subject_type="user", subject_id=actor.user_id
    )


def prune_login_attempts(session: Session, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget sign-in attempts older than the limits need, and the counters whose window has
    ended and whose address is no longer a known one."""
    now = now_utc()
    result = session.execute(
        delete(LoginAttempt).where(LoginAttempt.attempted_at < now - older_than)
    )
    known_since = now - timedelta(days=current_app.config["LOGIN_KNOWN_ADDRESS_DAYS"])
    counters = session.execute(
        delete(LoginCounter).where(
            LoginCounter.window_start < now - older_than,
            or_(LoginCounter.last_success_at.is_(None), LoginCounter.last_success_at < known_since),
        )
    )
    return (result.rowcount or 0) + (counters.rowcount or 0)
