"""Units, users, passwords, tokens and sign-in. Services flush; the outermost use case commits."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import SYSTEM, Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, NotFound, RuleViolation, TooManyRequests, Unauthorized
from corrections.org.models import ApiToken, LoginAttempt, Unit, UnitKind, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 10

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
            f"a {kind} unit must sit under a {expected_parent} unit", field="parent"
        )
    if session.scalar(select(Unit.id).where(Unit.code == code)):
        raise Conflict(f"unit code {code} exists", errors={"code": ["already exists"]})
    unit = Unit(code=code, name_zh=name_zh, kind=kind, parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    return unit


def get_unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"no unit with code {code}")
    return unit


def list_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.code)))


# --- users -------------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    unit_code: str,
    display_name: str = "",
    actor: Actor = SYSTEM,
) -> User:
    """Create an account; the role must fit the unit (an officer belongs to a judicial office)."""
    if not USERNAME_RE.match(username):
        raise RuleViolation("3–64 lower-case letters, digits, '.', '_' or '-'", field="username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RuleViolation(f"at least {MIN_PASSWORD_LENGTH} characters", field="password")
    unit = get_unit_by_code(session, unit_code)
    if unit.kind != ROLE_UNIT_KIND[role]:
        raise RuleViolation(
            f"a {role} belongs to a {ROLE_UNIT_KIND[role]} unit, {unit_code} is a {unit.kind}",
            field="unit",
        )
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"user {username} exists", errors={"username": ["already exists"]})
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        unit_id=unit.id,
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
        detail={"role": role.value, "unit": unit.code},
    )
    return user


def disable_user(session: Session, *, username: str, actor: Actor = SYSTEM) -> User:
    """Disable an account and revoke its tokens at once."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}")
    now = now_utc()
    user.active, user.disabled_at = False, now
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        session, actor=actor, action="user.disable", subject_type="user", subject_id=user.id
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


def _retry_after(session: Session, where, window: timedelta, limit: int, now: datetime) -> int:
    """Seconds until the attempts matching ``where`` fall below ``limit``, or 0 if they are."""
    since = now - window
    times = session.scalars(
        select(LoginAttempt.attempted_at)
        .where(where, LoginAttempt.attempted_at > since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return 0
    oldest_counted = times[-1]
    return max(1, int((oldest_counted + window - now).total_seconds()) + 1)


def _check_rate_limit(session: Session, username: str, addr: str, now: datetime) -> None:
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    wait = max(
        _retry_after(
            session,
            (LoginAttempt.username == username) & ~LoginAttempt.succeeded,
            window,
            cfg["LOGIN_MAX_FAILURES_PER_USERNAME"],
            now,
        ),
        _retry_after(
            session,
            LoginAttempt.client_addr == addr,
            window,
            cfg["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"],
            now,
        ),
    )
    if wait:
        raise TooManyRequests("Too many sign-in attempts; wait and try again.", retry_after=wait)


_DUMMY_HASH: str | None = None


def _verify_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists, so timing does not reveal usernames."""
    global _DUMMY_HASH
    hasher = _hasher()
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_hex(16))
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_DUMMY_HASH, password)
        return False
    try:
        return hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def login(session: Session, *, username: str, password: str, client_addr: str) -> IssuedToken:
    """Exchange a username and password for a bearer token.

    A failed attempt is committed even though the request fails, so the rate limit holds.
    Wrong username, wrong password and disabled account all give the same answer.
    """
    now = now_utc()
    username = username.strip().lower()[:64]
    addr = (client_addr or "unknown")[:64]
    _check_rate_limit(session, username, addr, now)
    user = session.scalar(select(User).where(User.username == username))
    ok = _verify_password(user, password) and user is not None and user.active
    session.add(LoginAttempt(username=username, client_addr=addr, succeeded=ok, attempted_at=now))
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
        raise Unauthorized("Wrong username or password.")
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
    """Forget sign-in attempts older than the rate-limit window needs."""
    result = session.execute(
        delete(LoginAttempt).where(LoginAttempt.attempted_at < now_utc() - older_than)
    )
    return result.rowcount or 0
