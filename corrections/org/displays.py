"""Wall displays (大屏): device tokens with read-only scope for one district.

A display is not an account: nobody signs in on it, it has no password and its token does not
expire every ``TOKEN_TTL_SECONDS`` like a sign-in's (a wall stays on for months). Instead it is
created for one district by a commander of that district, the city or an administrator (or at
the server with ``corrections display create``), listed with its last use, and revoked by
them; revocation refuses the next request at once and ends an open live stream at its next
token check (``ALERT_STREAM_TOKEN_CHECK_SECONDS``, 30 s), as signing out does. Its secret is
shown once, when it is created; only its SHA-256 is stored, so neither the database nor the
audit trail holds anything a wall could be opened with.

What a display may read is the ``display`` role's (core/auth.py: ``display:read`` only, the
district's live alerts and statistics); what it sees of a person is the ``wall`` visibility
(persons/privacy.py): masked names, no identity numbers, addresses, phones or notes.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor, Role
from corrections.core.clock import now_utc
from corrections.core.errors import Forbidden, NotFound, RuleViolation, Unauthorized
from corrections.core.i18n import _
from corrections.org.models import DisplayToken, Unit, UnitKind

# A display's secret says what it is (a secret scanner, an operator reading a config file);
# the prefix also routes a bearer token to the displays' table without a second lookup.
SECRET_PREFIX = "dsp_"  # noqa: S105 - a prefix, not a secret
NAME_MAX = 100
# last_used_at is renewed at most this often (a wall reads every few seconds).
TOUCH_EVERY = timedelta(minutes=1)
# A display unused this long that is used again starts a new use (audited: display.use_start).
USE_GAP = timedelta(minutes=10)


def is_display_secret(token: str) -> bool:
    return token.startswith(SECRET_PREFIX)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_actor(display_id: int, unit_id: int) -> Actor:
    """The actor of a display: role ``display``, its district as unit, no user."""
    return Actor(
        user_id=None,
        username=f"display:{display_id}",
        role=Role.DISPLAY,
        unit_id=unit_id,
        display_id=display_id,
    )


# --- who manages which displays ----------------------------------------------------------


def _manages(actor: Actor, unit_id: int) -> bool:
    """A commander manages their own district's displays; the city, administrators and an
    operator at the server (the CLI) any."""
    if actor.is_system or actor.role in (Role.CITY, Role.ADMIN):
        return True
    return actor.role == Role.COMMANDER and actor.unit_id == unit_id


def _clean_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise RuleViolation(_("a name is required (e.g. the room it hangs in)"), field="name")
    if len(name) > NAME_MAX:
        raise RuleViolation(_("at most {max} characters", max=NAME_MAX), field="name")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise RuleViolation(_("must not contain control characters"), field="name")
    return name


@dataclass(frozen=True)
class IssuedDisplay:
    display: DisplayToken
    secret: str  # shown once, in the answer that created it; never stored, logged or audited


def create(session: Session, *, actor: Actor, district_code: str, name: str) -> IssuedDisplay:
    """Create a display for a district; returns it with its secret (shown this once)."""
    name = _clean_name(name)
    unit = session.scalar(select(Unit).where(Unit.code == (district_code or "").strip()))
    if unit is None:
        raise RuleViolation(_("no unit with code {code}", code=district_code), field="district")
    if unit.kind != UnitKind.DISTRICT:
        raise RuleViolation(_("a wall display belongs to a district"), field="district")
    if not unit.active:
        raise RuleViolation(_("the unit {code} is inactive", code=unit.code), field="district")
    if not _manages(actor, unit.id):
        raise Forbidden(_("A commander manages the displays of their own district only."))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    display = DisplayToken(
        name=name,
        unit_id=unit.id,
        token_hash=_digest(secret),
        created_at=now_utc(),
        created_by=actor.username,
    )
    session.add(display)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="display.create",
        subject_type="display",
        subject_id=display.id,
        detail={"district": unit.code, "name": name},
    )
    return IssuedDisplay(display, secret)


def list_displays(
    session: Session, *, actor: Actor, district_code: str | None = None
) -> list[DisplayToken]:
    """The displays ``actor`` manages (a commander: their district's), newest first, revoked
    ones included (the list is also the record of what was handed out)."""
    stmt = select(DisplayToken).join(Unit, Unit.id == DisplayToken.unit_id)
    if not _manages_all(actor):
        stmt = stmt.where(DisplayToken.unit_id == actor.unit_id)
    if district_code:
        stmt = stmt.where(Unit.code == district_code)
    return list(session.scalars(stmt.order_by(DisplayToken.id.desc())))


def _manages_all(actor: Actor) -> bool:
    return actor.is_system or actor.role in (Role.CITY, Role.ADMIN)


def get(session: Session, *, actor: Actor, display_id: int, lock: bool = False) -> DisplayToken:
    """A display ``actor`` manages (404 for one they do not: no existence leak)."""
    stmt = select(DisplayToken).where(DisplayToken.id == display_id)
    if lock:
        stmt = stmt.with_for_update(of=DisplayToken)
    display = session.scalar(stmt)
    if display is None or not _manages(actor, display.unit_id):
        raise NotFound(_("No such display."))
    return display


def revoke(session: Session, *, actor: Actor, display_id: int) -> DisplayToken:
    """Revoke a display: its next request is refused, an open stream ends at its next token
    check. Revoking a revoked display changes nothing."""
    display = get(session, actor=actor, display_id=display_id, lock=True)
    if display.revoked_at is not None:
        return display
    _revoke(session, actor, display, display.unit.code, now_utc())
    session.flush()
    return display


def _revoke(
    session: Session, actor: Actor, display: DisplayToken, district: str, now: datetime, **why
) -> None:
    """Mark ``display`` revoked at ``now`` and audit it (``display.revoke``; ``why``: the
    reason when it is not the actor's own decision)."""
    display.revoked_at, display.revoked_by = now, actor.username
    audit.record(
        session,
        actor=actor,
        action="display.revoke",
        subject_type="display",
        subject_id=display.id,
        detail={"district": district, **why},
        now=now,
    )


def revoke_district(session: Session, *, actor: Actor, unit: Unit, now: datetime) -> int:
    """Revoke every display of ``unit`` not revoked yet (its district is made inactive), each
    audited as ``display.revoke`` with the reason; returns how many."""
    displays = session.scalars(
        select(DisplayToken)
        .where(DisplayToken.unit_id == unit.id, DisplayToken.revoked_at.is_(None))
        .order_by(DisplayToken.id)
        .with_for_update(of=DisplayToken)
    ).all()
    for display in displays:
        _revoke(session, actor, display, unit.code, now, reason="unit_deactivated")
    session.flush()
    return len(displays)


# --- the display itself ------------------------------------------------------------------

_D = DisplayToken.__table__.c
_U = Unit.__table__.c
# Its district must be active too: a district made inactive revokes its displays
# (:func:`revoke_district`), and one made inactive any other way still opens none.
_LOAD = (
    select(_D.id, _D.unit_id)
    .join(Unit.__table__, _U.id == _D.unit_id)
    .where(_D.token_hash == bindparam("digest"), _D.revoked_at.is_(None), _U.active.is_(True))
)


def load_actor(session: Session, secret: str) -> Actor | None:
    """The display behind ``secret``, or None (unknown, revoked, its district inactive, not a
    display's secret)."""
    if not is_display_secret(secret):
        return None
    row = session.connection().execute(_LOAD, {"digest": _digest(secret)}).first()
    return None if row is None else display_actor(row.id, row.unit_id)


def touch(session: Session, actor: Actor, *, now: datetime | None = None) -> None:
    """Note that the display is in use: ``last_used_at`` at most once a minute; a use after a
    pause of ``USE_GAP`` (or the first) is audited as ``display.use_start``."""
    now = now or now_utc()
    last = session.scalar(
        select(DisplayToken.last_used_at).where(DisplayToken.id == actor.display_id)
    )
    if last is not None and now - last < TOUCH_EVERY:
        return
    # Conditional: of a page's requests arriving together, one notes the use (the others find
    # the row renewed once its lock is theirs) and only it audits a start.
    used = DisplayToken.last_used_at
    renewed = session.execute(
        update(DisplayToken)
        .where(
            DisplayToken.id == actor.display_id,
            or_(used.is_(None), used <= now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if renewed and (last is None or now - last >= USE_GAP):
        audit.record(
            session,
            actor=actor,
            action="display.use_start",
            subject_type="display",
            subject_id=actor.display_id,
            now=now,
        )


def enrol(session: Session, secret: str) -> tuple[Actor, DisplayToken]:
    """A browser is made this display (its page keeps the secret in a cookie): audited as
    ``display.enrol``. :class:`Unauthorized` for a secret that opens no display."""
    actor = load_actor(session, (secret or "").strip())
    if actor is None:
        raise Unauthorized(_("The display token is invalid or revoked."))
    audit.record(
        session,
        actor=actor,
        action="display.enrol",
        subject_type="display",
        subject_id=actor.display_id,
    )
    touch(session, actor)
    return actor, session.get(DisplayToken, actor.display_id)
