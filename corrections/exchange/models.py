"""Partner agencies, the outbox of messages to them, and their receipts (回执)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from corrections.core import crypto
from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime

# A message's delivery state: written with its decision (pending: not yet pushed, the feed
# already serves it), pushed to the broker and confirmed (published), given up after the
# rules' attempts (dead, an operator resends it), acknowledged by its receiver (acknowledged);
# no agency of its kind serves the person's district yet (unrouted: kept, and routed when one
# is added, never dropped).
MESSAGE_STATES = ("unrouted", "pending", "published", "dead", "acknowledged")


class Agency(db.Model):
    """A court, procuratorate, police station, immigration office or another county's bureau
    that receives messages (and, through its partner accounts, reads its feed). ``unit_id``:
    the bureau unit (the city or a district) whose persons it receives messages about."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class OutboxMessage(db.Model):
    """One message to one agency, written in the decision's transaction: a CloudEvents 1.0
    envelope (``event_id`` its id, ``type``, ``subject``; its data only the fields the rules
    give this receiver). The id orders the agency's feed (its cursor) and, per person, the
    relay's publication."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    # Who it is for, as the rules name it: the agency kind, and the district it serves (None:
    # the city's agency of the kind, e.g. a checkpoint).
    receiver_kind: Mapped[str] = mapped_column(String(16))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    type: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(80))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    juvenile: Mapped[bool] = mapped_column(Boolean, default=False)
    # The whole CloudEvent as JSON text, encrypted at rest like the person's identity fields
    # (it can carry a name and an ID number): what the feed serves and the relay publishes.
    envelope: Mapped[str] = mapped_column(crypto.EncryptedString("outbox_messages.envelope"))
    # sha256 of the document the decision rests on (a decision's number and text), if any.
    document_hash: Mapped[str | None] = mapped_column(String(71))
    article: Mapped[str | None] = mapped_column(String(200))
    rules_version: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the receipt deadline alert was raised (once per message).
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The agency's feed (after a cursor) and the relay's queue (by state).
        Index("ix_outbox_messages_agency_id_id", "agency_id", "id"),
        Index("ix_outbox_messages_state_id", "state", "id"),
        Index("ix_outbox_messages_person_id", "person_id"),
    )


class Receipt(db.Model):
    """A receiver's acknowledgement (回执) of one message: received, accepted or rejected,
    by which partner account and when. One per message; a repeat with the same status is a
    replay, another status a conflict."""

    __tablename__ = "exchange_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("message_id"),)


class InboundMessage(db.Model):
    """A document a partner sent in (exchange/inbound.py), once per sender's message id: what
    it was, when it came, what it did (the person's record, a detention ...)."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    # Codes and ids of what it did ({"detention_id": 3}): never personal data.
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("agency_id", "event_id"),)
