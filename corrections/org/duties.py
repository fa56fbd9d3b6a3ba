"""Separation of duties in account administration: what an administrator may do through the
API, and what only an operator at the server may (``corrections users ...``).

One stolen administrator token must not take over every account. So through the API an
administrator manages the staff accounts (officers, commanders, city staff, analysts,
auditors) and nothing else: no change to an administrator's account (a reset code, disabling
or enabling, a new role, unit or name), no administrator role granted (by a change of role or
a new account), and nothing done to their own account (their own password is changed with
``POST /api/v1/auth/password``). Those are done at the server with ``corrections users``,
which records the operating-system user and host in the audit trail. City accounts (who see
every adult's record) stay with the API's administrator, audited as every change is.

A refusal is 403 naming the reason, and is audited (``user.change_refused``, kept after the
request's rollback like every refused request's rows).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.errors import Forbidden
from corrections.core.i18n import _
from corrections.org.models import User

OWN_ACCOUNT = "own_account"
ADMINISTRATOR = "administrator"
GRANTS_ADMIN = "grants_admin"

_REFUSALS = {
    OWN_ACCOUNT: (
        _(
            "Your own account is not changed through the administration API: change your "
            "password with POST /api/v1/auth/password; anything else is done at the server "
            "(corrections users ...)."
        ),
        "username",
        _("your own account"),
    ),
    ADMINISTRATOR: (
        _(
            "Administrator accounts are managed only at the server (corrections users ...), "
            "where the operating-system user and host are recorded."
        ),
        "username",
        _("an administrator account"),
    ),
    GRANTS_ADMIN: (
        _(
            "The administrator role is granted only at the server (corrections users create "
            "or set-role), where the operating-system user and host are recorded."
        ),
        "role",
        _("granted only at the server"),
    ),
}


def refusal_reason(actor: Actor, target: User | None, new_role: Role | str | None) -> str | None:
    """Why ``actor`` may not make this change through the API (None: they may). ``target``:
    the account changed (None: a new one); ``new_role``: the role it would have."""
    if actor.is_system:  # an operator at the server (the CLI): recorded as cli:<user>@<host>
        return None
    if target is not None and target.id == actor.user_id:
        return OWN_ACCOUNT
    if target is not None and target.role == Role.ADMIN:
        return ADMINISTRATOR
    if new_role is not None and Role(new_role) == Role.ADMIN:
        return GRANTS_ADMIN
    return None


def check_api_change(
    session: Session,
    *,
    actor: Actor,
    target: User | None,
    operation: str,
    new_role: Role | str | None = None,
    fields: list[str] | None = None,
    now: datetime | None = None,
) -> None:
    """Refuse (403, audited as ``user.change_refused`` with the operation, the fields it
    would have changed and the reason) a change an administrator may not make through the
    API; nothing for the CLI's actor."""
    reason = refusal_reason(actor, target, new_role)
    if reason is None:
        return
    detail: dict = {"operation": operation, "reason": reason}
    if fields:
        detail["fields"] = sorted(fields)
    if target is not None:
        detail["target_role"] = target.role
    audit.record(
        session,
        actor=actor,
        action="user.change_refused",
        subject_type="user",
        subject_id=target.id if target is not None else None,
        detail=detail,
        now=now,
    )
    message, field, short = _REFUSALS[reason]
    raise Forbidden(message, errors={field: [short]})
