"""Recording, sealing and verifying the audit trail.

Writers only INSERT rows (no lock, no read of the previous row). :func:`seal_pending` then
assigns ``seq`` and chains the hashes of all unsealed rows in one pass, holding the single
``audit_chain_head`` row locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second sealer simply
skips; SQLite serialises writers anyway). The chain order is the sealing order, so a row whose
transaction commits late is sealed in the next pass rather than lost.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.audit.models import AuditChainHead, AuditEntry
from corrections.core.auth import Actor
from corrections.core.clock import now_utc
from corrections.core.pagination import paginate
from corrections.core.request_context import client_addr, request_id

GENESIS_HASH = "0" * 64


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject_type: str | None = None,
    subject_id: Any = None,
    juvenile: bool = False,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Add one audit row to the current transaction.

    ``detail`` must never carry personal data: field names, ids and codes only.
    """
    record_many(
        session,
        actor=actor,
        action=action,
        subjects=[(subject_type, subject_id, juvenile)],
        detail=detail,
        now=now,
    )


_INSERT_ENTRY = AuditEntry.__table__.insert()


def _audit_row(
    actor: Actor,
    action: str,
    subject_type: str | None,
    subject_id: Any,
    juvenile: bool,
    detail: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "occurred_at": at,
        "actor_id": actor.user_id,
        "actor_username": actor.username,
        "actor_role": actor.role.value if actor.role else None,
        "action": action,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "juvenile": bool(juvenile),
        "request_id": request_id(),
        "client_addr": client_addr(),
        "detail": detail,
    }


def record_many(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subjects: Iterable[tuple[str | None, Any, bool]],
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Add one audit row per subject (e.g. every person a list page showed)."""
    at = now or now_utc()
    rows = [
        _audit_row(actor, action, subject_type, subject_id, juvenile, detail, at)
        for subject_type, subject_id, juvenile in subjects
    ]
    if rows:
        # Core execution: audit rows are never loaded as entities on the way in.
        # (one row: a plain execute; executemany would set up a pipeline for nothing)
        session.connection().execute(_INSERT_ENTRY, rows[0] if len(rows) == 1 else rows)
        session.info["audit_written"] = True


def insert_audited(
    session: Session,
    insert_returning_id,
    values: dict[str, Any],
    *,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: Any,
    juvenile: bool,
    id_key: str,
    detail: dict[str, str],
    now: datetime,
    then: Callable[[Any], tuple[list, list]] | None = None,
    then_params: dict[str, Any] | None = None,
) -> tuple[int, tuple | None]:
    """Run an ``INSERT ... RETURNING id`` and audit it, with the new id under ``id_key`` in the
    audit detail (the other detail values are strings); returns (the id, ``then``'s results).

    On PostgreSQL both rows go in with one statement (a data-modifying CTE), one round trip less
    on the hottest write path; elsewhere as two statements. Either way one transaction.
    ``then`` (PostgreSQL only) adds more writes to that statement: given the insert's CTE, it
    returns (CTEs, result columns), bound by ``then_params``. Elsewhere it does not run and the
    results are None: the caller makes those writes itself.
    """
    conn = session.connection()
    row = _audit_row(actor, action, subject_type, subject_id, juvenile, None, now)
    session.info["audit_written"] = True
    if conn.dialect.name != "postgresql":
        new_id = conn.execute(insert_returning_id, values).scalar_one()
        conn.execute(_INSERT_ENTRY, {**row, "detail": {id_key: new_id, **detail}})
        return new_id, None
    stmt = _audited_insert(insert_returning_id, tuple(values), id_key, tuple(detail), then)
    params = {f"v_{k}": v for k, v in values.items()}
    params.update({f"a_{k}": v for k, v in row.items() if k != "detail"})
    params.update({f"d_{k}": v for k, v in detail.items()})
    params.update(then_params or {})
    new_id, *results = conn.execute(stmt, params).one()
    return new_id, (tuple(results) if then else None)


@functools.cache
def _audited_insert(
    insert_returning_id, value_keys: tuple, id_key: str, detail_keys: tuple, then=None
):
    """The CTE statement for :func:`insert_audited`, built once per shape."""
    table = AuditEntry.__table__
    target = insert_returning_id.table
    new_row = insert_returning_id.values(
        {k: bindparam(f"v_{k}", type_=target.c[k].type) for k in value_keys}
    ).cte("new_row")
    pairs: list[Any] = [literal_column(f"'{id_key}'"), new_row.c.id]
    for key in detail_keys:
        pairs += [literal_column(f"'{key}'"), cast(bindparam(f"d_{key}"), Text)]
    columns = [
        c.name for c in table.columns if c.name not in ("id", "detail", "seq", "prev_hash", "hash")
    ]
    audit_row = (
        table.insert()
        .from_select(
            [*columns, "detail"],
            select(
                *(bindparam(f"a_{c}", type_=table.c[c].type) for c in columns),
                func.json_build_object(*pairs),
            ).select_from(new_row),
        )
        .cte("audit_row")
    )
    ctes, results = then(new_row) if then else ([], [])
    return select(new_row.c.id, *results).add_cte(audit_row, *ctes)


def entry_hash(entry: AuditEntry, seq: int, prev_hash: str) -> str:
    payload = {
        "id": entry.id,
        "seq": seq,
        "prev": prev_hash,
        "occurred_at": entry.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "juvenile": bool(entry.juvenile),
        "request_id": entry.request_id,
        "client_addr": entry.client_addr,
        "detail": entry.detail,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> AuditChainHead | None:
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if head is not None:
        return head
    if session.scalar(select(func.count()).select_from(AuditChainHead)):
        return None  # another sealer holds it
    try:
        with session.begin_nested():
            head = AuditChainHead(id=1, last_seq=0, last_hash=GENESIS_HASH, updated_at=now_utc())
            session.add(head)
    except IntegrityError:
        return None
    return head


def seal_pending(session: Session, *, batch: int = 5000) -> int:
    """Chain every unsealed row; returns how many were sealed. The caller commits.

    Rows are read in id order and updated with one executemany per batch, so sealing a burst
    of rows costs a few round trips, not one per row.
    """
    head = _lock_head(session)
    if head is None:
        return 0
    table = AuditEntry.__table__
    sealed = 0
    while True:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not entries:
            break
        updates = []
        for entry in entries:
            seq = head.last_seq + 1
            digest = entry_hash(entry, seq, head.last_hash)
            updates.append(
                {"b_id": entry.id, "seq": seq, "prev_hash": head.last_hash, "hash": digest}
            )
            head.last_seq, head.last_hash = seq, digest
        session.execute(
            table.update()
            .where(table.c.id == bindparam("b_id"))
            .values(seq=bindparam("seq"), prev_hash=bindparam("prev_hash"), hash=bindparam("hash")),
            updates,
            execution_options={"synchronize_session": False},
        )
        for entry in entries:
            session.expunge(entry)
        sealed += len(entries)
        if len(entries) < batch:
            break
    if sealed:
        head.updated_at = now_utc()
        session.flush()
    return sealed


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    unsealed: int
    problem: str | None = None
    entry_id: int | None = None
    seq: int | None = None


def _sealed_in_order(session: Session, chunk: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> VerifyResult:
    """Walk the chain; report the first broken link (altered, deleted or reordered row)."""
    head = session.get(AuditChainHead, 1)
    unsealed = session.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) or 0
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for entry in _sealed_in_order(session):
        if entry.seq != expected_seq:
            return VerifyResult(
                False,
                checked,
                unsealed,
                entry_id=entry.id,
                seq=entry.seq,
                problem=(
                    f"rows with seq {expected_seq}..{entry.seq - 1} are missing before row "
                    f"id={entry.id} (deleted)"
                ),
            )
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                False,
                checked,
                unsealed,
                entry_id=entry.id,
                seq=entry.seq,
                problem=f"row id={entry.id} (seq {entry.seq}) does not link to the row before it",
            )
        if entry.hash != entry_hash(entry, entry.seq, prev_hash):
            return VerifyResult(
                False,
                checked,
                unsealed,
                entry_id=entry.id,
                seq=entry.seq,
                problem=f"row id={entry.id} (seq {entry.seq}) was altered: its hash does not match",
            )
        prev_hash, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    last_seq = expected_seq - 1
    if head is not None and (head.last_seq != last_seq or head.last_hash != prev_hash):
        return VerifyResult(
            False,
            checked,
            unsealed,
            seq=head.last_seq,
            problem=(
                f"the chain ends at seq {last_seq} but was sealed up to seq "
                f"{head.last_seq}: rows at the end were deleted or altered"
            ),
        )
    if head is None and checked:
        return VerifyResult(False, checked, unsealed, problem="the chain head is missing")
    return VerifyResult(True, checked, unsealed)


def list_entries(
    session: Session,
    *,
    actor: Actor,
    page: int = 1,
    page_size: int = 50,
    actor_username: str | None = None,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    juvenile: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEntry], int]:
    """Audit rows, newest first; reading the trail is itself audited."""
    stmt = select(AuditEntry)
    if actor_username is not None:
        stmt = stmt.where(AuditEntry.actor_username == actor_username)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if subject_type is not None:
        stmt = stmt.where(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if juvenile is not None:
        stmt = stmt.where(AuditEntry.juvenile.is_(juvenile))
    if since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    rows, total = paginate(session, stmt, AuditEntry.id.desc(), page=page, page_size=page_size)
    record(session, actor=actor, action="audit.list", detail={"count": len(rows)})
    return rows, total
