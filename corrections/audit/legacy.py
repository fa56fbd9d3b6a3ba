"""The audit chain as it was before migration 0007 (SHA-256 without a key): verified once
more at the upgrade, then handed to the keyed chain."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from corrections.audit.models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64
# Columns of the old chain's payload (the new columns did not exist).
_OLD_COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "hash",
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "subject_type",
    "subject_id",
    "juvenile",
    "request_id",
    "client_addr",
    "detail",
)


def _old_hash(row, prev_hash: str) -> str:
    payload = {
        "id": row.id,
        "seq": row.seq,
        "prev": prev_hash,
        "occurred_at": row.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id,
        "actor_username": row.actor_username,
        "actor_role": row.actor_role,
        "action": row.action,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "juvenile": bool(row.juvenile),
        "request_id": row.request_id,
        "client_addr": row.client_addr,
        "detail": row.detail,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def rechain_legacy(conn: Connection) -> int:
    """Verify the unkeyed chain; if intact, unseal its rows for the keyed chain (returns how
    many). A broken old chain raises: it is evidence, and re-keying it would launder it."""
    table = AuditEntry.__table__
    columns = [table.c[name] for name in _OLD_COLUMNS]
    expected, prev = 1, GENESIS_HASH
    for row in conn.execute(select(*columns).where(table.c.seq.isnot(None)).order_by(table.c.seq)):
        if row.seq != expected or row.prev_hash != prev or row.hash != _old_hash(row, prev):
            raise RuntimeError(
                f"audit trail broken at seq {row.seq} (row id={row.id}) under the old chain: "
                "investigate before upgrading (corrections audit verify on the old version)"
            )
        prev, expected = row.hash, expected + 1
    head = conn.execute(select(AuditChainHead.__table__)).first()
    if head is not None and (head.last_seq != expected - 1 or head.last_hash != prev):
        raise RuntimeError(
            f"audit trail truncated under the old chain: sealed up to seq {head.last_seq}, "
            f"rows end at {expected - 1}"
        )
    conn.execute(update(table).values(seq=None, prev_hash=None, hash=None))
    conn.execute(AuditChainHead.__table__.delete())
    return expected - 1
