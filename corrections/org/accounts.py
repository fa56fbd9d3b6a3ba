"""Account administration: what an administrator (the admin API) or an operator at the server
(``corrections users``) does to staff accounts after creating them. Every change is audited
with who made it; a change of role or unit, and disabling, revoke the account's tokens, so the
next request signs in again under the new rights. Administrator accounts, the administrator
role and one's own account are the server's alone (org/duties.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import PreconditionFailed, RuleViolation
from corrections.core.i18n import _
from corrections.core.pagination import paginate
from corrections.org import credentials, duties, service
from corrections.org.models import Unit, User


def list_users(
    session: Session,
    *,
    role: Role | None = None,
    unit_code: str | None = None,
    active: bool | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[User], int]:
    """One page of accounts by username (and the total), filtered by role, unit and whether
    active."""
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if unit_code is not None:
        stmt = stmt.where(
            User.unit_id == select(Unit.id).where(Unit.code == unit_code).scalar_subquery()
        )
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return paginate(session, stmt, User.username, page=page, page_size=page_size)


def create_account(
    session: Session,
    *,
    username: str,
    role: Role,
    unit_code: str,
    display_name: str,
    actor: Actor,
    now: datetime | None = None,
) -> credentials.IssuedCode:
    """An account without a password, and its first reset code: the administrator hands the
    code over and its user sets the password, which the administrator never learns. An
    administrator account is created at the server only (org/duties.py)."""
    now = now or now_utc()
    duties.check_api_change(
        session, actor=actor, target=None, operation="create", new_role=role, now=now
    )
    service.create_user(
        session,
        username=username,
        password=None,
        role=role,
        unit_code=unit_code,
        display_name=display_name,
        actor=actor,
    )
    return credentials.issue_reset_code(session, username=username, actor=actor, now=now)


def enable_user(session: Session, *, username: str, actor: Actor) -> User:
    """Enable a disabled account (its unit must fit its role and be active). Its old tokens
    stay revoked: the user signs in again."""
    user = service.get_user(session, username, lock=True)
    if user.active:
        return user
    if user.role in (Role.PARTNER, Role.PROCURATOR) and user.agency_id is not None:
        problem = None  # its agency's unit (exchange/service.agency_of checks the agency)
    else:
        problem = service.role_unit_problem(Role(user.role), session.get(Unit, user.unit_id))
    if problem:
        raise RuleViolation(problem, field="unit_code")
    user.active, user.disabled_at = True, None
    audit.record(
        session, actor=actor, action="user.enable", subject_type="user", subject_id=user.id
    )
    session.flush()
    return user


def update_user(
    session: Session,
    *,
    username: str,
    changes: dict[str, Any],
    actor: Actor,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> User:
    """Change an account's role, unit, display name or whether it is active. The role must
    fit the unit after the change (an officer in an office, a commander in a district, the
    rest in the city): give both when both change. A change of role or unit revokes the
    account's tokens and withdraws its outstanding reset codes; a promotion to administrator
    (at the server only) also clears its password, for a new code shown at the server. The
    last active administrator or city account keeps its role (409). ``expected_version``
    (the API's If-Match) guards against lost updates; the CLI passes none. Through the API
    an administrator's account, the administrator role and the actor's own account are
    refused (403, org/duties.py)."""
    now = now or now_utc()
    user = service.get_user(session, username, lock=True)
    duties.check_api_change(
        session,
        actor=actor,
        target=user,
        operation="update",
        new_role=changes.get("role"),
        fields=list(changes),
        now=now,
    )
    if expected_version is not None and user.version != expected_version:
        raise PreconditionFailed(_("the account has changed; read it again"))
    if changes.get("active") is False:
        service.disable_user(session, username=user.username, actor=actor)
    role = Role(changes.get("role") or user.role)
    unit = (
        service.get_unit_by_code(session, changes["unit_code"])
        if changes.get("unit_code")
        else session.get(Unit, user.unit_id)
    )
    moved = role != user.role or unit.id != user.unit_id
    if moved:
        # A partner or procurator account stays its agency's (and no account becomes one by
        # a change).
        problem = service.role_unit_problem(
            Role(user.role) if user.role in (Role.PARTNER, Role.PROCURATOR) else role, unit
        )
        if problem:
            raise RuleViolation(problem, field="unit_code" if "unit_code" in changes else "role")
        if role != user.role:
            service.refuse_last_of_role(session, user)
        before = {"role": user.role, "unit": session.get(Unit, user.unit_id).code}
        promoted = role == Role.ADMIN and user.role != Role.ADMIN
        user.role, user.unit_id = role.value, unit.id
        user.unit = unit
        revoked = service.revoke_tokens(session, user.id, now=now)
        # A code issued for the old rights must not open the new ones (hostile review: a code
        # the API's administrator issued for an auditor survived `users set-role NAME admin`).
        withdrawn = service.revoke_reset_codes(session, user.id, now=now)
        if promoted:
            # Nor the old password: whoever knew it (the API's administrator had set it by a
            # code of theirs) would hold an administrator account. The operator issues a new
            # code, shown at the server only.
            user.password_hash = service.NO_PASSWORD
            user.password_changed_at = now
        audit.record(
            session,
            actor=actor,
            action="user.update",
            subject_type="user",
            subject_id=user.id,
            detail={
                "from": before,
                "to": {"role": role.value, "unit": unit.code},
                "tokens_revoked": revoked,
                "reset_codes_withdrawn": withdrawn,
                **({"password_cleared": True} if promoted else {}),
            },
            now=now,
        )
    name = changes.get("display_name")
    if name is not None and name != user.display_name:
        user.display_name = name
        # A staff member's name: the trail says that it changed, not to what.
        audit.record(
            session,
            actor=actor,
            action="user.update",
            subject_type="user",
            subject_id=user.id,
            detail={"fields": ["display_name"]},
            now=now,
        )
    if changes.get("active") is True:
        enable_user(session, username=user.username, actor=actor)
    session.flush()
    return user
