from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime


class UnitKind(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    OFFICE = "office"


UNIT_KIND_LABELS_ZH = {
    UnitKind.CITY: "市司法局",
    UnitKind.DISTRICT: "区(县)司法局",
    UnitKind.OFFICE: "司法所",
}


class Unit(db.Model):
    """An organisational unit. Offices sit in a district, districts in the city."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # An inactive unit takes no new accounts or units; only a unit nothing refers to is
    # ever made inactive (org/structure.py), and none is ever deleted.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], lazy="joined", join_depth=2)

    __mapper_args__ = {"version_id_col": version}

    @property
    def district_id(self) -> int | None:
        """The district this unit belongs to (itself for a district)."""
        if self.kind == UnitKind.DISTRICT:
            return self.id
        if self.kind == UnitKind.OFFICE:
            return self.parent_id
        return None


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # A partner account's agency (exchange/models.py Agency); None for staff.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    unit: Mapped[Unit] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class UnitMove(db.Model):
    """An office moved to another district. Its persons, accounts and records keep pointing
    at the office (its id and code never change); this row says when it moved, from where
    to where and by whom, so "which district was it in on that day" has an answer."""

    __tablename__ = "unit_moves"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    from_parent_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    to_parent_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moved_by: Mapped[str] = mapped_column(String(64))
    # Persons whose district followed the office.
    persons_moved: Mapped[int] = mapped_column(Integer)


class PasswordResetCode(db.Model):
    """A one-time code an administrator hands to a user, who redeems it with a new password.
    Only its SHA-256 is stored (the code is random, 80 bits), so neither the database nor the
    audit trail holds anything that resets a password."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A newer code, a password change or a disabled account withdraws the code.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a database leak reveals no usable token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DisplayToken(db.Model):
    """A wall display's device token (大屏): read-only, one district (role ``display``). It has
    no expiry, unlike a sign-in: a wall stays on for months. It is listed, revocable (at once
    for requests, within ``ALERT_STREAM_TOKEN_CHECK_SECONDS`` for an open stream) and audited;
    only the SHA-256 of its secret is stored (org/displays.py)."""

    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    # The district whose alerts and statistics it shows.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    # Renewed at most once a minute by the display's requests.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))

    unit: Mapped[Unit] = relationship(lazy="joined")


class LoginAttempt(db.Model):
    """Sign-in attempts that were checked, with their outcome (the limits count in
    :class:`LoginCounter`); pruned daily."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "attempted_at"),
        Index("ix_login_attempts_addr_at", "client_addr", "attempted_at"),
    )


class LoginCounter(db.Model):
    """The sign-in limits' counts: one row per (username, address) pair, per username
    (``client_addr`` empty) and per address (``username`` empty). An attempt is counted by
    one upsert that refuses once the window's limit is reached, so parallel guesses cannot
    all pass a check made before any of them is recorded (org/service.py, ``_take``)."""

    __tablename__ = "login_counters"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_addr: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Failed or not yet decided attempts (pair, username); all attempts (address).
    attempts: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    # Pair rows: the user's last successful sign-in from this address (a known address).
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
