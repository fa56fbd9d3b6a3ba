"""Signed checkpoints of the audit chain, kept outside the database.

Each seal that chained rows appends one JSON line, once its transaction has committed::

    {"type": "seal", "seq": 1200, "hash": "...", "rows": 1200, "at": "2026-11-28T12:00:00+00:00",
     "key_id": "audit-1", "sig": "<HMAC-SHA256 of the rest under that audit key>"}

The file is opened for appending only (``O_APPEND``: one write per line, so lines from several
workers do not interleave). Someone who can write to the database but not to this file (nor
hold the key) cannot move the trail back behind a checkpoint: ``corrections audit verify``
compares the rows with every checkpoint. ``corrections audit checkpoint`` prints the latest
one for an operator to write down elsewhere.

A restore of the database from a backup is acknowledged by an operator (``corrections audit
acknowledge-restore``): a signed ``restore`` line states the sequence number the restored trail
ends at, and checkpoints above it written before that line are reported as lost in that
restore instead of as truncation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from corrections.core import keys
from corrections.core.i18n import _

log = logging.getLogger(__name__)
_PENDING = "audit_checkpoint"


@dataclass
class Checkpoint:
    seq: int
    hash: str
    rows: int
    at: str
    key_id: str
    line: int
    sig: str = ""

    @property
    def at_time(self) -> datetime:
        return datetime.fromisoformat(self.at)


@dataclass
class Book:
    points: list[Checkpoint] = field(default_factory=list)

    def highest(self) -> Checkpoint | None:
        return max(self.points, key=lambda cp: cp.seq, default=None)


def _sign(record: dict[str, Any], key: bytes) -> str:
    blob = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, blob.encode("utf-8"), hashlib.sha256).hexdigest()


def append(path: str | Path, record: dict[str, Any], keyring: keys.Keyring) -> dict[str, Any]:
    """Sign ``record`` with the active audit key and append it as one line; returns it."""
    key_id, key = keyring.active("audit")
    record = {**record, "key_id": key_id}
    record["sig"] = _sign(record, key)
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    path = Path(path)
    from corrections.config import private_folder

    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


def acknowledge_restore(
    path: str | Path,
    *,
    seq: int,
    hash: str,
    at: datetime,
    reason: str,
    keyring: keys.Keyring,
) -> dict[str, Any]:
    """Append the signed ``restore`` line: the trail was restored to ``seq`` (its last link
    ``hash``), so checkpoints above it written before this line are that restore's losses.
    Must come before anything seals on the restored trail (a new seal's checkpoint at a number
    the old trail also reached would otherwise differ from the old one's)."""
    record = {"type": "restore", "seq": seq, "hash": hash, "at": at.isoformat()}
    return append(path, {**record, "reason": reason[:500]}, keyring)


def signed_record(seq: int, hash: str, at: datetime) -> dict[str, Any]:
    """A seal's checkpoint as published outside the bureau (the exchange's
    ``audit.checkpoint.sealed``): its number, hash and time signed with the active audit key
    (the file's own line carries the same fields)."""
    key_id, key = keys.current().active("audit")
    record = {"seq": seq, "hash": hash, "signed_at": at.isoformat(), "key_id": key_id}
    return {**record, "signature": _sign(record, key)}


def after_commit(session: Session, *, seq: int, hash: str, at: datetime) -> None:
    """Append the seal's checkpoint once ``session`` commits (nothing if it rolls back)."""
    from flask import current_app

    session.info[_PENDING] = (
        current_app.config["AUDIT_CHECKPOINT_PATH"],
        {"type": "seal", "seq": seq, "hash": hash, "rows": seq, "at": at.isoformat()},
        keys.current(),
    )


@event.listens_for(Session, "after_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    path, record, keyring = pending
    try:
        append(path, record, keyring)
    except OSError:  # the next seal writes a newer checkpoint; verify still has the rows
        log.exception("could not append the audit checkpoint to %s", path)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def read(path: str | Path, keyring: keys.Keyring, result: Any | None = None) -> Book:
    """Every valid checkpoint in the file, restores applied. A line that is not JSON, whose
    signature fails or whose key is unknown is reported to ``result`` (kind ``checkpoint``)."""
    book = Book()
    path = Path(path)
    if not path.exists():
        return book
    with path.open(encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                sig = record.pop("sig")
                key = keyring.get("audit", record["key_id"])
                valid = hmac.compare_digest(sig, _sign(record, key))
            except (ValueError, KeyError, TypeError, keys.KeyringError):
                valid = False
            if not valid:
                if result is not None:
                    message = _("checkpoint line {number} is not validly signed", number=number)
                    result.add("checkpoint", message)
                continue
            if record.get("type") == "restore":
                lost = [cp for cp in book.points if cp.seq > record["seq"]]
                book.points = [cp for cp in book.points if cp.seq <= record["seq"]]
                if result is not None:
                    result.notes.append(
                        _(
                            "restore acknowledged at {at} (line {number}): the trail was "
                            "restored to seq {seq}; {lost} later checkpoint(s) superseded. "
                            "Reason: {reason}",
                            at=record["at"],
                            number=number,
                            seq=record["seq"],
                            lost=len(lost),
                            reason=record.get("reason", ""),
                        )
                    )
                continue
            book.points.append(
                Checkpoint(
                    seq=int(record["seq"]),
                    hash=record["hash"],
                    rows=int(record["rows"]),
                    at=record["at"],
                    key_id=record["key_id"],
                    line=number,
                    sig=sig,
                )
            )
    return book


def latest(path: str | Path, keyring: keys.Keyring) -> dict[str, Any] | None:
    """The newest valid checkpoint line as written (for an operator to note down)."""
    top = read(path, keyring).highest()
    if top is None:
        return None
    return {
        "seq": top.seq,
        "hash": top.hash,
        "rows": top.rows,
        "at": top.at,
        "key_id": top.key_id,
        "sig": top.sig,
        "line": top.line,
    }
