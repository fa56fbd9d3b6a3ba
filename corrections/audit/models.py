from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime


class AuditEntry(db.Model):
    """One audited action. Rows are inserted by requests and sealed into the chain later.

    ``seq``, ``prev_hash`` and ``hash`` are set by :func:`corrections.audit.service.seal_pending`
    in one ordered pass, so concurrent writers never wait on each other for the chain.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    # The trail is searched by who (username), what (subject) and when: those are indexed.
    actor_username: Mapped[str] = mapped_column(String(64), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    # Several persons shown by one response: ",12,15,40," (subject_id is then empty).
    subject_ids: Mapped[str | None] = mapped_column(Text)
    juvenile: Mapped[bool] = mapped_column(Boolean, default=False)
    # The server's id of the request; what the client sent as X-Request-ID is kept apart.
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seq: Mapped[int | None] = mapped_column(BigId, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    # HMAC-SHA256 under the audit key ``key_id`` (the keyring, never the database).
    hash: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_audit_entries_subject", "subject_type", "subject_id"),
        Index(
            "ix_audit_entries_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )


class AuditChainHead(db.Model):
    """The last sealed link; a truncated tail no longer matches it."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigId, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
