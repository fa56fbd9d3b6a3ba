"""Passwords after the account exists: one-time reset codes an administrator issues and the
user redeems, and a user's change of their own password.

An administrator never sets (or learns) another person's password: they issue a code, hand it
over (in person, on paper, by phone), and the user picks the password when redeeming it. The
code is random (80 bits), expires (``PASSWORD_RESET_CODE_TTL_SECONDS``), works once, and only its
SHA-256 is stored. Redeeming and changing a password are rate-limited by the sign-in limits
themselves (the same counters, org/service.py): alternating between sign-in and reset gains a
guesser nothing. Neither a password nor a code ever reaches a log line, argv or the audit trail.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Conflict, RuleViolation, Unauthorized
from corrections.core.i18n import _
from corrections.org import duties, passwords, service
from corrections.org.models import PasswordResetCode, User

# Crockford's base-32 alphabet: no I, L, O or U, so a code read aloud or copied from paper
# has one spelling; 16 characters are 80 bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})

WRONG_CODE = _("wrong username or code, or the code was used or has expired")
WRONG_PASSWORD = _("the current password is wrong")
SAME_PASSWORD = _("the new password must differ from the current one")


@dataclass(frozen=True)
class IssuedCode:
    """A reset code as issued: shown once to the administrator, never stored."""

    code: str
    expires_at: datetime
    user: User


def _normalised(code: str) -> str:
    """The code as issued: upper case, without the dashes and spaces it was written with."""
    return "".join(ch for ch in code.upper() if ch.isalnum()).translate(_READ_AS)


def code_digest(code: str) -> str:
    return hashlib.sha256(_normalised(code).encode("ascii", "replace")).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _i in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def issue_reset_code(
    session: Session, *, username: str, actor: Actor, now: datetime | None = None
) -> IssuedCode:
    """A new one-time code for the account (any earlier one is withdrawn). The password and
    the signed-in sessions stay as they are until the code is redeemed. Through the API not
    for an administrator's account nor the actor's own (403, org/duties.py)."""
    now = now or now_utc()
    user = service.get_user(session, username, lock=True)
    duties.check_api_change(session, actor=actor, target=user, operation="reset_code", now=now)
    if not user.active:
        raise Conflict(
            _("the account is disabled; enable it first"),
            errors={"username": [_("disabled")]},
        )
    service.revoke_reset_codes(session, user.id, now=now)
    code = _new_code()
    expires_at = now + timedelta(seconds=current_app.config["PASSWORD_RESET_CODE_TTL_SECONDS"])
    session.add(
        PasswordResetCode(
            user_id=user.id,
            code_hash=code_digest(code),
            created_at=now,
            expires_at=expires_at,
            issued_by=actor.username[:64],
        )
    )
    audit.record(
        session,
        actor=actor,
        action="user.reset_code",
        subject_type="user",
        subject_id=user.id,
        # The role too: a code for a city account (every adult's record) stands out.
        detail={"expires_at": expires_at.isoformat(), "role": user.role},
        now=now,
    )
    session.flush()
    return IssuedCode(code=code, expires_at=expires_at, user=user)


def _policy(new_password: str, username: str) -> None:
    weak = passwords.problems(new_password, username=username)
    if weak:
        raise RuleViolation(weak[0], errors={"new_password": weak})


def _set_password(session: Session, user: User, new_password: str, now: datetime) -> None:
    user.password_hash = service.hash_password(new_password)
    user.password_changed_at = now
    service.revoke_reset_codes(session, user.id, now=now)


def redeem_reset_code(
    session: Session, *, username: str, code: str, new_password: str, client_addr: str
) -> User:
    """Set a new password with a reset code: the code is spent and every token of the account
    revoked (sign in again). Counted by the sign-in limits before the code is checked; a
    wrong username, a wrong, used or expired code and a disabled account all answer alike
    (401). The new password is checked against the policy first (422), which spends no
    attempt and tells nothing about the code."""
    now = now_utc()
    username = service.normalize_username(username)
    addr = service.client_key(client_addr)
    _policy(new_password, username)
    user_id = session.scalar(select(User.id).where(User.username == username))
    took = service.reserve_attempt(session, username, addr, now)  # commits the count
    row = None
    if user_id is not None:
        row = session.scalar(
            select(PasswordResetCode).where(
                PasswordResetCode.user_id == user_id,
                PasswordResetCode.code_hash == code_digest(code),
                PasswordResetCode.used_at.is_(None),
                PasswordResetCode.revoked_at.is_(None),
                PasswordResetCode.expires_at > now,
            )
        )
    user = session.get(User, user_id) if user_id is not None else None
    # Spent by one statement: of two redemptions at once, one wins.
    spent = (
        row is not None
        and user is not None
        and user.active
        and session.execute(
            update(PasswordResetCode)
            .where(PasswordResetCode.id == row.id, PasswordResetCode.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        == 1
    )
    if not spent:
        if user is not None:
            audit.record(
                session,
                actor=_actor_of(user),
                action="auth.password_reset_failed",
                subject_type="user",
                subject_id=user.id,
                now=now,
            )
        session.commit()  # the failure stays counted and audited although the request fails
        raise Unauthorized(WRONG_CODE)
    service.forgive_attempt(session, username, addr, now, took=took)
    _set_password(session, user, new_password, now)
    revoked = service.revoke_tokens(session, user.id, now=now)
    audit.record(
        session,
        actor=_actor_of(user),
        action="auth.password_reset",
        subject_type="user",
        subject_id=user.id,
        detail={"tokens_revoked": revoked},
        now=now,
    )
    session.flush()
    return user


def change_password(
    session: Session, *, actor: Actor, old_password: str, new_password: str, client_addr: str
) -> int:
    """A signed-in user changes their own password: the current one is required (counted by
    the sign-in limits, so a stolen token cannot guess it), the policy applies, and every
    other token of the account is revoked; the token of this request stays valid. Returns
    how many tokens were revoked."""
    now = now_utc()
    user = session.get(User, actor.user_id)
    username, addr = user.username, service.client_key(client_addr)
    _policy(new_password, username)
    if new_password == old_password:
        raise RuleViolation(SAME_PASSWORD, field="new_password")
    stored = user.password_hash
    took = service.reserve_attempt(session, username, addr, now)  # commits the count
    if not service.verify_password(stored, old_password):
        # Not committed here: the failed request writes its audit rows again with the
        # outcome (corrections/__init__.py), this one included.
        audit.record(
            session,
            actor=actor,
            action="auth.password_change_failed",
            subject_type="user",
            subject_id=actor.user_id,
            now=now,
        )
        raise RuleViolation(WRONG_PASSWORD, field="old_password")
    service.forgive_attempt(session, username, addr, now, took=took)
    user = session.get(User, actor.user_id)
    _set_password(session, user, new_password, now)
    revoked = service.revoke_tokens(session, user.id, now=now, keep_token_id=actor.token_id)
    audit.record(
        session,
        actor=actor,
        action="auth.password_change",
        subject_type="user",
        subject_id=user.id,
        detail={"tokens_revoked": revoked},
        now=now,
    )
    session.flush()
    return revoked


def _actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, Role(user.role), user.unit_id)
