"""The staff of a unit as a choice list shows them (a flag's responsible officer, chosen from
the person's office): active accounts with their role and unit, never anything of their
credentials. An office's list is for its own officers, its district's commanders, the city and
the administrators; a district's (its commanders and its offices' officers) for its commanders,
the city and the administrators; the city's for the city and the administrators."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from corrections.core.auth import Actor, Role
from corrections.core.errors import Forbidden
from corrections.core.i18n import _
from corrections.org.models import Unit, UnitKind, User
from corrections.org.service import get_unit_by_code


def may_list(actor: Actor, unit: Unit) -> bool:
    """Whether ``actor`` sees the staff of ``unit``."""
    if actor.role in (Role.CITY, Role.ADMIN):
        return True
    if unit.kind == UnitKind.OFFICE:
        return (actor.role == Role.OFFICER and actor.unit_id == unit.id) or (
            actor.role == Role.COMMANDER and actor.unit_id == unit.parent_id
        )
    if unit.kind == UnitKind.DISTRICT:
        return actor.role == Role.COMMANDER and actor.unit_id == unit.id
    return False


def list_staff(
    session: Session, *, actor: Actor, code: str, role: str | None = None
) -> list[tuple[User, Unit]]:
    """The active accounts of unit ``code`` (a district's: its own and its offices'), by unit,
    role and username, each with its unit; ``role`` filters. An unknown unit is 404, one
    whose staff ``actor`` may not see 403 (units themselves are no secret)."""
    unit = get_unit_by_code(session, code)
    if not may_list(actor, unit):
        raise Forbidden(_("The staff of unit {code} are not yours to see.", code=code))
    stmt = (
        select(User, Unit)
        .join(Unit, Unit.id == User.unit_id)
        .where(or_(Unit.id == unit.id, Unit.parent_id == unit.id), User.active.is_(True))
    )
    if unit.kind == UnitKind.CITY:
        # The city's own accounts only, not every district's and office's.
        stmt = stmt.where(Unit.id == unit.id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    return [
        (user, unit)
        for user, unit in session.execute(stmt.order_by(Unit.code, User.role, User.username))
    ]
