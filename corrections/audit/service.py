"""Recording, sealing and verifying the audit trail.

Writers only INSERT rows (no lock, no read of the previous row). :func:`seal_pending` then
assigns ``seq`` and chains all unsealed rows in one pass with an HMAC under the audit key
(the keyring, never the database), holding the single ``audit_chain_head`` row locked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second sealer simply skips; SQLite serialises
writers anyway). The chain order is the sealing order, so a row whose transaction commits late
is sealed in the next pass rather than lost.

Every seal that chained rows appends a signed checkpoint (sequence, hash, time, row count) to
an append-only file outside the database once its transaction has committed
(:mod:`corrections.audit.checkpoints`); :func:`verify` checks the rows against the key and
those checkpoints, so rewriting, re-chaining, truncating, wiping or backdating rows is found
even by someone who could change anything in the database.

Within a request, every audit row is also kept in ``session.info`` so that a request that
fails (and rolls back) still leaves its rows, written in a transaction of their own with the
outcome (:func:`write_refused`); and every person a response shows is collected
(:func:`disclose`) and audited once per response (:func:`flush_disclosures`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, literal_column, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corrections.audit import checkpoints
from corrections.audit.models import AuditChainHead, AuditEntry
from corrections.core import keys
from corrections.core.auth import Actor
from corrections.core.clock import now_utc
from corrections.core.i18n import _
from corrections.core.pagination import paginate
from corrections.core.request_context import client_addr, client_request_id, request_id
from corrections.core.types import UTCDateTime

GENESIS_HASH = "0" * 64
# Times in findings: to the minute, UTC.
_MINUTE = "%Y-%m-%d %H:%M"
_BUFFER = "audit_rows"  # session.info: this transaction's rows, kept for a failed request
_DISCLOSED = "audit_disclosed"  # session.info: person id -> juvenile, shown by this response
_AUDITED = "audit_persons"  # session.info: person ids that already have a row of their own


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
    person_ids: Iterable[int] | None = None,
) -> None:
    """Add one audit row to the current transaction; ``person_ids``: the persons one action
    wrote (a caseload import), named in the row's ``subject_ids``.

    ``detail`` must never carry personal data: field names, ids and codes only.
    """
    row = _audit_row(
        actor,
        action,
        subject_type,
        subject_id,
        juvenile,
        detail,
        now or now_utc(),
        subject_ids=subject_list(person_ids) if person_ids else None,
    )
    _insert(session, row)


_INSERT_ENTRY = AuditEntry.__table__.insert()


def _audit_row(
    actor: Actor,
    action: str,
    subject_type: str | None,
    subject_id: Any,
    juvenile: bool,
    detail: dict[str, Any] | None,
    at: datetime,
    subject_ids: str | None = None,
) -> dict[str, Any]:
    if _at_the_shell(actor):
        # The host name in ``cli:<user>@<host>`` can be set in a UTS namespace; the machine
        # id cannot without root (core/cli_identity.py).
        from corrections.core.cli_identity import machine_id

        machine = machine_id()
        if machine:
            detail = {**(detail or {}), "machine": machine}
    return {
        "occurred_at": at,
        "actor_id": actor.user_id,
        "actor_username": actor.username,
        "actor_role": actor.role.value if actor.role else None,
        "action": action,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "subject_ids": subject_ids,
        "juvenile": bool(juvenile),
        "request_id": request_id(),
        "client_request_id": client_request_id(),
        "client_addr": client_addr(),
        "detail": detail,
    }


def _at_the_shell(actor: Actor) -> bool:
    """A command-line actor (``cli:...``, core/cli_identity.py): no user, no role."""
    return actor.user_id is None and actor.role is None and actor.username.startswith("cli:")


def _remember(session: Session, rows: list[dict[str, Any]]) -> None:
    """Keep this transaction's rows (for a failed request) and the persons they name."""
    session.info["audit_written"] = True
    session.info.setdefault(_BUFFER, []).extend(rows)
    audited = session.info.setdefault(_AUDITED, set())
    for row in rows:
        if row["subject_type"] != "person":
            continue
        if row["subject_id"] is not None:
            audited.add(int(row["subject_id"]))
        elif row["subject_ids"]:  # a list's row names every person on the page
            audited.update(int(i) for i in row["subject_ids"].strip(",").split(","))


def _insert(session: Session, row: dict[str, Any]) -> None:
    # Core execution: audit rows are never loaded as entities on the way in.
    session.connection().execute(_INSERT_ENTRY, row)
    _remember(session, [row])


# --- what a response showed ------------------------------------------------------------


def disclose(session: Session, persons: Iterable[tuple[int, bool]]) -> None:
    """Note persons (id, juvenile) whose records this response shows; the request audits
    them once, in one row, when it succeeds (:func:`flush_disclosures`)."""
    shown = session.info.setdefault(_DISCLOSED, {})
    for person_id, juvenile in persons:
        shown[int(person_id)] = bool(juvenile) or shown.get(int(person_id), False)


def subject_list(person_ids: Iterable[int]) -> str:
    """The ``subject_ids`` form: ",12,15," (searchable with LIKE '%,12,%')."""
    return "," + ",".join(str(i) for i in sorted(person_ids)) + ","


def disclosure_row(
    actor: Actor, action: str, shown: dict[int, bool], detail: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """One audit row naming every person in ``shown`` (id -> juvenile)."""
    ids = sorted(shown)
    return _audit_row(
        actor,
        action,
        "person",
        ids[0] if len(ids) == 1 else None,
        any(shown.values()),
        {**detail, "count": len(ids)},
        at,
        subject_ids=subject_list(ids) if len(ids) > 1 else None,
    )


def record_disclosure(
    session: Session,
    *,
    actor: Actor,
    action: str,
    shown: dict[int, bool],
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Audit, in one row, that ``actor`` was shown these persons (for a stream's batches)."""
    if shown:
        _insert(session, disclosure_row(actor, action, shown, detail or {}, now or now_utc()))


def flush_disclosures(session: Session, actor: Actor | None, endpoint: str | None) -> None:
    """Audit the persons this response showed that no row of this request names yet."""
    shown = session.info.pop(_DISCLOSED, None)
    if not shown or actor is None:
        return
    audited = session.info.get(_AUDITED, set())
    rest = {pid: juv for pid, juv in shown.items() if pid not in audited}
    if rest and actor.display_id is not None:
        rest = _new_to_display(session, actor, rest)
    if rest:
        record_disclosure(
            session,
            actor=actor,
            action="response.disclosed",
            shown=rest,
            detail={"endpoint": endpoint or "?"},
        )


def _new_to_display(session: Session, actor: Actor, shown: dict[int, bool]) -> dict[int, bool]:
    """Of the persons a wall display's response showed, those no ``response.disclosed`` row
    of this display names yet in its current use (since its last ``display.use_start``, and
    today, Asia/Shanghai): a wall polls all day, and one row per read would flood the trail.
    Every person a display ever showed is still named, once per use and day, in some row."""
    from corrections.core.clock import business_date, start_of_business_day

    now = now_utc()
    since = start_of_business_day(business_date(now))
    began = session.scalar(
        select(func.max(AuditEntry.occurred_at)).where(
            AuditEntry.actor_username == actor.username,
            AuditEntry.action == "display.use_start",
        )
    )
    if began is not None and began > since:
        since = began
    named: set[int] = set()
    for subject_id, subject_ids in session.execute(
        select(AuditEntry.subject_id, AuditEntry.subject_ids).where(
            AuditEntry.actor_username == actor.username,
            AuditEntry.action == "response.disclosed",
            AuditEntry.occurred_at >= since,
        )
    ):
        if subject_ids:
            named.update(int(i) for i in subject_ids.split(",") if i)
        elif subject_id:
            named.add(int(subject_id))
    return {pid: juv for pid, juv in shown.items() if pid not in named}


def forget_request(session: Session) -> list[dict[str, Any]]:
    """Drop what this request collected; returns its buffered rows."""
    session.info.pop(_DISCLOSED, None)
    session.info.pop(_AUDITED, None)
    session.info.pop("audit_written", None)
    return session.info.pop(_BUFFER, None) or []


def write_refused(
    session: Session,
    *,
    actor: Actor | None,
    rows: list[dict[str, Any]],
    status: int,
    endpoint: str | None,
    method: str,
    person_id: int | None,
    now: datetime | None = None,
) -> int:
    """After a failed request rolled back: write its audit rows again, marked with the outcome,
    in a transaction of their own (so no rollback erases a refused probe); a request that
    wrote none gets one ``request.refused`` row naming the person of its path. The caller
    commits. Returns how many rows were written."""
    outcome = {"outcome": status}
    rows = [{**r, "detail": {**(r["detail"] or {}), **outcome}} for r in rows]
    if not rows and actor is not None:
        detail = {"endpoint": endpoint or "?", "method": method, **outcome}
        rows = [
            _audit_row(
                actor,
                "request.refused",
                "person" if person_id is not None else None,
                person_id,
                False,
                detail,
                now or now_utc(),
            )
        ]
    if rows:
        session.connection().execute(_INSERT_ENTRY, rows[0] if len(rows) == 1 else rows)
    return len(rows)


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
    if conn.dialect.name != "postgresql":
        new_id = conn.execute(insert_returning_id, values).scalar_one()
        row["detail"] = {id_key: new_id, **detail}
        conn.execute(_INSERT_ENTRY, row)
        _remember(session, [row])
        return new_id, None
    stmt = _audited_insert(insert_returning_id, tuple(values), id_key, tuple(detail), then)
    params = {f"v_{k}": v for k, v in values.items()}
    params.update({f"a_{k}": v for k, v in row.items() if k != "detail"})
    params.update({f"d_{k}": v for k, v in detail.items()})
    params.update(then_params or {})
    # Kept for a failed request before the statement runs: a refused insert is audited too.
    row["detail"] = dict(detail)
    _remember(session, [row])
    new_id, *results = conn.execute(stmt, params).one()
    row["detail"][id_key] = new_id
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
        c.name
        for c in table.columns
        if c.name not in ("id", "detail", "seq", "prev_hash", "hash", "key_id", "sealed_at")
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


def _payload(entry: AuditEntry, seq: int, prev_hash: str, key_id: str, sealed_at: datetime):
    return {
        "id": entry.id,
        "seq": seq,
        "prev": prev_hash,
        "key_id": key_id,
        "sealed_at": sealed_at.isoformat(timespec="microseconds"),
        "occurred_at": entry.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "subject_ids": entry.subject_ids,
        "juvenile": bool(entry.juvenile),
        "request_id": entry.request_id,
        "client_request_id": entry.client_request_id,
        "client_addr": entry.client_addr,
        "detail": entry.detail,
    }


def entry_hash(
    entry: AuditEntry, seq: int, prev_hash: str, key: bytes, key_id: str, sealed_at: datetime
) -> str:
    """HMAC-SHA256 of the row's content and its place in the chain, under ``key``."""
    payload = _payload(entry, seq, prev_hash, key_id, sealed_at)
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, blob.encode("utf-8"), hashlib.sha256).hexdigest()


def keyring_fits(session: Session, keyring: keys.Keyring) -> bool:
    """Whether ``keyring`` is the one this database's trail was sealed under: the newest sealed
    row's HMAC verifies with it (True for a trail not sealed yet). One indexed read; run at
    every start, so a keyring from a wrong file or a wrong ``CORRECTIONS_KEYRING`` never
    serves (it could read no identity field and would seal rows no checkpoint verifies)."""
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq.desc())
    )
    if entry is None:
        return True
    try:
        key = keyring.get("audit", entry.key_id or "?")
    except keys.KeyringError:
        return False
    sealed_at = entry.sealed_at or entry.occurred_at
    return hmac.compare_digest(
        entry.hash or "",
        entry_hash(entry, entry.seq, entry.prev_hash or "", key, entry.key_id, sealed_at),
    )


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
    """Chain every unsealed row; returns how many were sealed. The caller commits; once it has,
    the seal's signed checkpoint is appended to the checkpoint file.

    Rows are read in id order (as plain rows: nothing loads them as entities) and updated
    by one statement per batch (see :func:`_write_seals`), so sealing a burst of rows costs a
    few round trips, not one per row.
    """
    head = _lock_head(session)
    if head is None:
        return 0
    key_id, key = keys.current().active("audit")
    sealed_at = now_utc()
    table = AuditEntry.__table__
    sealed = 0
    while True:
        entries = session.execute(
            select(table).where(table.c.seq.is_(None)).order_by(table.c.id).limit(batch)
        ).all()
        if not entries:
            break
        updates = []
        for entry in entries:
            seq = head.last_seq + 1
            digest = entry_hash(entry, seq, head.last_hash, key, key_id, sealed_at)
            updates.append(
                {"b_id": entry.id, "seq": seq, "prev_hash": head.last_hash, "hash": digest}
            )
            head.last_seq, head.last_hash = seq, digest
        _write_seals(session, updates, key_id, sealed_at)
        sealed += len(entries)
        if len(entries) < batch:
            break
    if sealed:
        head.updated_at = sealed_at
        session.flush()
        checkpoints.after_commit(session, seq=head.last_seq, hash=head.last_hash, at=sealed_at)
        from corrections.exchange import triggers as exchange  # the exchange builds on audit

        exchange.checkpoint_sealed(
            session, checkpoints.signed_record(head.last_seq, head.last_hash, sealed_at), sealed_at
        )
    return sealed


# PostgreSQL: a batch's seals in one UPDATE from arrays, one round trip. An executemany is
# sent as one statement per row (psycopg pipelines them, but each result is still awaited):
# under gevent every wait yields to the worker's other requests, and with 20 readers a seal
# of a few hundred rows held its request 2-10 s (bench/lists.py's "max", issue 18).
_SEAL_FROM_ARRAYS = text(
    "UPDATE audit_entries AS a SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash, "
    "key_id = :key_id, sealed_at = :sealed_at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:prevs AS text[]), "
    "CAST(:hashes AS text[])) AS v(id, seq, prev_hash, hash) WHERE a.id = v.id"
).bindparams(bindparam("sealed_at", type_=UTCDateTime()))


def _write_seals(session: Session, updates: list[dict], key_id: str, sealed_at: datetime) -> None:
    """Write a batch's ``seq``, ``prev_hash`` and ``hash`` (and the key and time of the seal)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            _SEAL_FROM_ARRAYS,
            {
                "ids": [u["b_id"] for u in updates],
                "seqs": [u["seq"] for u in updates],
                "prevs": [u["prev_hash"] for u in updates],
                "hashes": [u["hash"] for u in updates],
                "key_id": key_id,
                "sealed_at": sealed_at,
            },
        )
        return
    table = AuditEntry.__table__
    session.execute(
        table.update()
        .where(table.c.id == bindparam("b_id"))
        .values(
            seq=bindparam("seq"),
            prev_hash=bindparam("prev_hash"),
            hash=bindparam("hash"),
            key_id=key_id,
            sealed_at=sealed_at,
        ),
        updates,
        execution_options={"synchronize_session": False},
    )


def seal_and_commit(session: Session) -> int:
    """Seal, commit, and so write the seal's checkpoint; returns how many rows were sealed."""
    sealed = seal_pending(session)
    session.commit()
    return sealed


# --- verification ------------------------------------------------------------------------

# How many of each kind of finding a report lists by sequence number (all are counted).
REPORT_LIMIT = 50
# Clocks of web workers and the sealer may differ this much; a row dated later than its seal
# by more was dated in the future.
FUTURE_SKEW = timedelta(minutes=5)


@dataclass
class Finding:
    kind: str  # rewritten | missing | inserted | truncated | checkpoint | head | stalled
    text: str
    seq: int | None = None
    entry_id: int | None = None


@dataclass
class VerifyResult:
    checked: int = 0
    # The first sequence number checked: 1 unless a window of the newest rows was asked for.
    first_seq: int = 1
    unsealed: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.counts

    def add(self, kind: str, text: str, *, seq=None, entry_id=None) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= REPORT_LIMIT:
            self.findings.append(Finding(kind, text, seq, entry_id))


def _sealed_in_order(session: Session, chunk: int = 5000, after: int = 0) -> Iterator[AuditEntry]:
    last = after
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(
    session: Session,
    *,
    checkpoint_path: str | None = None,
    tolerance: timedelta | None = None,
    window: int | None = None,
) -> VerifyResult:
    """Check the trail against the audit keys and the signed checkpoints; never seals.

    Reports, by sequence number: rows rewritten (their HMAC fails: changed, or re-chained
    without the key), rows missing (a gap in the sequence), rows inserted late (sealed long
    after the time they claim: a backdated row, or an unsealed one older than a seal that
    would have taken it), and rows truncated (a checkpoint saw more, or other, rows than the
    trail now holds, or the trail is empty).

    ``window``: check only the newest that many sealed rows (the page's bounded check), the
    first of them linked to whatever hash it names (the rows before it are not read); the
    end of the chain, the head, the checkpoints past the window, rows outside the chain and
    unsealed rows are checked as in a full run. ``first_seq`` says where it began.
    """
    from flask import current_app

    config = current_app.config
    path = checkpoint_path or config["AUDIT_CHECKPOINT_PATH"]
    tolerance = tolerance or timedelta(seconds=config["AUDIT_LATE_TOLERANCE_SECONDS"])
    keyring = keys.current()
    result = VerifyResult()
    book = checkpoints.read(path, keyring, result)
    result.checkpoints = len(book.points)
    wanted = {cp.seq: cp for cp in book.points}
    expected_seq, prev_hash, last_hash = 1, GENESIS_HASH, None
    if window is not None:
        newest = session.scalar(select(func.max(AuditEntry.seq))) or 0
        if newest > window:
            expected_seq, prev_hash = newest - window + 1, None
    result.first_seq = expected_seq
    for entry in _sealed_in_order(session, after=expected_seq - 1):
        if prev_hash is None:  # a window's first row: linked to what it names
            prev_hash = entry.prev_hash
        if entry.seq != expected_seq:
            result.add(
                "missing",
                _(
                    "seq {first}..{last} missing (before row id={id})",
                    first=expected_seq,
                    last=entry.seq - 1,
                    id=entry.id,
                ),
                seq=expected_seq,
            )
        else:
            try:
                key = keyring.get("audit", entry.key_id or "?")
            except keys.KeyringError:
                key = None
            sealed_at = entry.sealed_at or entry.occurred_at
            if (
                key is None
                or entry.prev_hash != prev_hash
                or entry.hash
                != entry_hash(entry, entry.seq, entry.prev_hash, key, entry.key_id, sealed_at)
            ):
                result.add(
                    "rewritten",
                    _(
                        "seq {seq} (row id={id}) was rewritten: its HMAC does not match",
                        seq=entry.seq,
                        id=entry.id,
                    )
                    if key
                    else _(
                        "seq {seq} (row id={id}) was rewritten: its HMAC does not match (no "
                        "audit key {key_id!r})",
                        seq=entry.seq,
                        id=entry.id,
                        key_id=entry.key_id,
                    ),
                    seq=entry.seq,
                    entry_id=entry.id,
                )
        if entry.sealed_at and entry.sealed_at - entry.occurred_at > tolerance:
            result.add(
                "inserted",
                _(
                    "seq {seq} (row id={id}) claims {occurred} UTC but was sealed {sealed} UTC: "
                    "inserted late (backdated)",
                    seq=entry.seq,
                    id=entry.id,
                    occurred=entry.occurred_at.strftime(_MINUTE),
                    sealed=entry.sealed_at.strftime(_MINUTE),
                ),
                seq=entry.seq,
                entry_id=entry.id,
            )
        if entry.sealed_at and entry.occurred_at - entry.sealed_at > FUTURE_SKEW:
            result.add(
                "inserted",
                _(
                    "seq {seq} (row id={id}) claims {occurred} UTC, after it was sealed "
                    "({sealed} UTC): forward-dated",
                    seq=entry.seq,
                    id=entry.id,
                    occurred=entry.occurred_at.strftime(_MINUTE),
                    sealed=entry.sealed_at.strftime(_MINUTE),
                ),
                seq=entry.seq,
                entry_id=entry.id,
            )
        cp = wanted.get(entry.seq)
        if cp is not None and cp.hash != entry.hash:
            result.add(
                "rewritten",
                _(
                    "seq {seq} differs from the checkpoint of {at}: the chain up to it was "
                    "rewritten",
                    seq=entry.seq,
                    at=cp.at,
                ),
                seq=entry.seq,
                entry_id=entry.id,
            )
        prev_hash, last_hash = entry.hash, entry.hash
        expected_seq = entry.seq + 1
        result.checked += 1
    last_seq = expected_seq - 1
    top = book.highest()
    if top is not None and top.seq > last_seq:
        if last_seq == 0:
            result.add(
                "truncated",
                _(
                    "all rows deleted: the checkpoint of {at} covered seq 1..{last}, the trail "
                    "holds none",
                    at=top.at,
                    last=top.seq,
                ),
                seq=1,
            )
        else:
            result.add(
                "truncated",
                _(
                    "seq {first}..{last} missing at the end: the checkpoint of {at} covered "
                    "them, the trail ends at seq {end}",
                    first=last_seq + 1,
                    last=top.seq,
                    at=top.at,
                    end=last_seq,
                ),
                seq=last_seq + 1,
            )
    if top is None and result.checked:
        result.add(
            "checkpoint",
            _(
                "no checkpoint covers the {count} sealed rows: the checkpoint file is missing, "
                "emptied or replaced",
                count=result.checked,
            ),
        )
    head = session.get(AuditChainHead, 1)
    if head is None and result.checked:
        result.add("head", _("the chain head is missing: sealing cannot go on"))
    elif head is not None and head.last_seq > last_seq:
        result.add(
            "truncated",
            _(
                "seq {first}..{last} missing at the end (the chain head says {last})",
                first=last_seq + 1,
                last=head.last_seq,
            ),
            seq=last_seq + 1,
        )
    elif head is not None and head.last_seq < last_seq:
        result.add(
            "head",
            _(
                "the chain head was moved back to seq {head} behind the chain's {last}: "
                "sealing is blocked",
                head=head.last_seq,
                last=last_seq,
            ),
            seq=head.last_seq,
        )
    elif head is not None and last_hash not in (None, head.last_hash):
        result.add(
            "rewritten", _("the last row (seq {seq}) differs from the chain head", seq=last_seq)
        )
    # Rows outside the chain's numbering are not part of it, whatever they claim.
    for entry_id, seq in session.execute(
        select(AuditEntry.id, AuditEntry.seq).where(AuditEntry.seq < 1)
    ):
        result.add(
            "inserted",
            _("row id={id} carries seq {seq}, outside the chain: inserted", id=entry_id, seq=seq),
            entry_id=entry_id,
        )
    # An unsealed row older than a seal that would have taken it was put in afterwards; one
    # older than the tolerance means sealing has stalled (rows outside the chain can still be
    # changed unnoticed): both are findings. Only signed checkpoints date a seal.
    unsealed = session.execute(
        select(AuditEntry.id, AuditEntry.occurred_at).where(AuditEntry.seq.is_(None))
    ).all()
    result.unsealed = len(unsealed)
    newest_seal = top.at_time if top is not None else None
    now = now_utc()
    for entry_id, occurred_at in unsealed:
        if newest_seal is not None and occurred_at < newest_seal - tolerance:
            result.add(
                "inserted",
                _(
                    "unsealed row id={id} claims {occurred} UTC, before a seal of {sealed} UTC "
                    "that would have taken it: inserted late (backdated)",
                    id=entry_id,
                    occurred=occurred_at.strftime(_MINUTE),
                    sealed=newest_seal.strftime(_MINUTE),
                ),
                entry_id=entry_id,
            )
        elif occurred_at < now - tolerance:
            result.add(
                "stalled",
                _(
                    "row id={id} of {occurred} UTC is still unsealed: sealing has stalled (is "
                    "the scheduler running? corrections audit seal)",
                    id=entry_id,
                    occurred=occurred_at.strftime(_MINUTE),
                ),
                entry_id=entry_id,
            )
    return result


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
        # A row naming several persons names them in subject_ids (",12,15,").
        stmt = stmt.where(
            or_(
                AuditEntry.subject_id == subject_id,
                AuditEntry.subject_ids.like(f"%,{subject_id},%"),
            )
        )
    if juvenile is not None:
        stmt = stmt.where(AuditEntry.juvenile.is_(juvenile))
    if since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    rows, total = paginate(session, stmt, AuditEntry.id.desc(), page=page, page_size=page_size)
    record(session, actor=actor, action="audit.list", detail={"count": len(rows)})
    return rows, total
