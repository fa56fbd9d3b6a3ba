"""Bringing stored values under the active keys, in batches: after a key rotation, and once
at migration 0008 for the values that were still plain text.

A batch selects the rows that still have a value not under the active key ("pending"), turns
each value back into plain text (decrypting what is encrypted), writes it again under the
active key and recomputes the blind indexes from it. What a batch wrote is no longer pending,
so an interrupted run simply continues where it stopped. A row changed by someone else between
the batch's read and its write is left alone (the write is guarded by the values read) and, if
it is still pending, taken by the next batch.

Which columns are protected is read from the models (:func:`tables_from_metadata`): every
:class:`~corrections.core.crypto.EncryptedString` column, every JSON column with encrypted
members, and every column whose ``info`` names it the blind index of another.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from corrections.core import crypto, keys

# bidx column -> (source column, index function (plain, keyring) -> index or None)
IndexFn = Callable[[str, keys.Keyring], str | None]


@dataclass(frozen=True)
class ProtectedTable:
    """The protected columns of one table (its primary key must be ``id``)."""

    name: str
    fields: tuple[tuple[str, str], ...] = ()  # (column, label)
    json_members: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (column, label, keys)
    indexes: tuple[tuple[str, str, IndexFn], ...] = ()  # (bidx column, source column, fn)

    @functools.cached_property
    def table(self) -> sa.TableClause:
        columns = [sa.column("id", sa.BigInteger)]
        columns += [sa.column(c, sa.Text) for c, _ in self.fields]
        columns += [sa.column(c, sa.JSON) for c, _, _ in self.json_members]
        columns += [sa.column(c, sa.Text) for c, _, _ in self.indexes]
        return sa.table(self.name, *columns)


def tables_from_metadata(metadata: sa.MetaData) -> list[ProtectedTable]:
    """The protected columns the models declare, table by table."""
    out = []
    for table in metadata.sorted_tables:
        fields, members, indexes = [], [], []
        for column in table.columns:
            if isinstance(column.type, crypto.EncryptedString):
                fields.append((column.name, column.type.label))
            elif isinstance(column.type, crypto.JSONWithEncryptedKeys):
                members.append((column.name, column.type.label, column.type.keys))
            if "blind_index_of" in column.info:
                source, fn = column.info["blind_index_of"]
                indexes.append((column.name, source, fn))
        if fields or members or indexes:
            out.append(ProtectedTable(table.name, tuple(fields), tuple(members), tuple(indexes)))
    return out


def _prefix_pattern(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _not_under(expr, prefix: str):
    return sa.and_(expr.is_not(None), ~expr.like(_prefix_pattern(prefix), escape="\\"))


def pending(spec: ProtectedTable, *, field_key: str | None, index_key: str | None):
    """SQL condition: the row has a value not under ``field_key`` (encrypted values) or an
    index not under ``index_key``; None where the table has nothing of that kind."""
    t = spec.table
    conditions = []
    if field_key is not None:
        prefix = f"{crypto.SCHEME}:{field_key}:"
        conditions += [_not_under(t.c[c], prefix) for c, _ in spec.fields]
        for c, _, members in spec.json_members:
            conditions += [_not_under(t.c[c][k].as_string(), prefix) for k in members]
    if index_key is not None:
        # An index is written with its value (by the model, or here with the encryption), so
        # one that is missing is not pending: there is nothing to index.
        conditions += [_not_under(t.c[c], f"{index_key}:") for c, _, _ in spec.indexes]
    return sa.or_(*conditions) if conditions else None


def _plain(value: Any, label: str, row_id: Any, ring: keys.Keyring) -> Any:
    if not crypto.is_encrypted(value):
        return value
    try:
        return crypto.decrypt(value, label, ring)
    except crypto.DecryptionError as exc:
        raise crypto.DecryptionError(f"row {row_id}: {exc}") from None


def process_batch(
    conn: Connection,
    spec: ProtectedTable,
    ring: keys.Keyring,
    *,
    fields: bool,
    indexes: bool,
    batch: int = 1000,
    after_id: Any = None,
) -> tuple[int, Any]:
    """Bring one batch of pending rows of ``spec`` (with ids above ``after_id``) under the
    active keys (``fields``: the encrypted values, ``indexes``: the blind indexes); returns
    (rows read, the last id read). 0 rows: none left. The caller commits."""
    field_key = ring.active_id("field") if fields else None
    index_key = ring.active_id("index") if indexes else None
    where = pending(spec, field_key=field_key, index_key=index_key)
    if where is None:
        return 0, after_id
    t = spec.table
    if after_id is not None:
        where = sa.and_(t.c.id > after_id, where)
    json_cols = [c for c, _, _ in spec.json_members]
    text_cols = [c for c, _ in spec.fields] + [c for c, _, _ in spec.indexes]
    # JSON is read (and guarded) as its text: PostgreSQL's json has no equality.
    select = sa.select(
        t.c.id,
        *(t.c[c] for c in text_cols),
        *(sa.cast(t.c[c], sa.Text).label(f"{c}__text") for c in json_cols),
        *(t.c[c] for c in json_cols),
    )
    rows = conn.execute(select.where(where).order_by(t.c.id).limit(batch)).mappings().all()
    if not rows:
        return 0, after_id
    changes = []
    for row in rows:
        plain = {c: _plain(row[c], label, row["id"], ring) for c, label in spec.fields}
        new: dict[str, Any] = {}
        if fields:
            for c, label in spec.fields:
                value = plain[c]
                new[c] = None if value is None else crypto.encrypt(value, label, ring)
            for c, label, members in spec.json_members:
                doc = row[c]
                if isinstance(doc, dict) and any(doc.get(k) is not None for k in members):
                    doc = dict(doc)
                    for k in members:
                        if doc.get(k) is not None:
                            value = _plain(doc[k], f"{label}.{k}", row["id"], ring)
                            doc[k] = crypto.encrypt(str(value), f"{label}.{k}", ring)
                    new[c] = doc
        if indexes:
            for c, source, fn in spec.indexes:
                value = plain.get(source, row.get(source))
                new[c] = None if value is None else fn(value, ring)
        guard = {f"old_{c}": row[c] for c in text_cols}
        guard.update({f"old_{c}": row[f"{c}__text"] for c in json_cols})
        changes.append((new, guard, row["id"]))
    _write(conn, spec, changes, text_cols, json_cols)
    return len(rows), rows[-1]["id"]


def _write(conn, spec, changes, text_cols, json_cols) -> None:
    t = spec.table
    by_shape: dict[tuple, list[dict]] = {}
    for new, guard, row_id in changes:
        if not new:
            continue
        params = {"b_id": row_id, **guard, **{f"new_{c}": v for c, v in new.items()}}
        by_shape.setdefault(tuple(sorted(new)), []).append(params)
    for shape, params in by_shape.items():
        stmt = (
            sa.update(t)
            .where(t.c.id == sa.bindparam("b_id"))
            .where(*(t.c[c].is_not_distinct_from(sa.bindparam(f"old_{c}")) for c in text_cols))
            .where(
                *(
                    sa.cast(t.c[c], sa.Text).is_not_distinct_from(sa.bindparam(f"old_{c}"))
                    for c in json_cols
                )
            )
            .values({c: sa.bindparam(f"new_{c}", type_=t.c[c].type) for c in shape})
        )
        conn.execute(stmt, params)


def count_pending(
    conn: Connection, spec: ProtectedTable, *, field_key: str | None, index_key: str | None
) -> int:
    where = pending(spec, field_key=field_key, index_key=index_key)
    if where is None:
        return 0
    return conn.execute(sa.select(sa.func.count()).select_from(spec.table).where(where)).scalar()


def run(
    connection: Callable[[], Connection],
    specs: list[ProtectedTable],
    ring: keys.Keyring,
    *,
    fields: bool,
    indexes: bool,
    batch: int = 1000,
    commit: Callable[[], None] | None = None,
    progress: Callable[[str, int], None] | None = None,
    max_batches: int | None = None,
) -> int:
    """One pass over ``specs`` in id order, batch by batch, on ``connection()`` (asked
    anew for every batch, as a commit may release it), calling ``commit`` after each (or
    stopping after ``max_batches``). Returns the rows processed. Rows that a concurrent writer
    left pending are for the next run (see :func:`count_pending`)."""
    done = batches = 0
    for spec in specs:
        after = None
        while max_batches is None or batches < max_batches:
            n, after = process_batch(
                connection(),
                spec,
                ring,
                fields=fields,
                indexes=indexes,
                batch=batch,
                after_id=after,
            )
            if n == 0:
                break
            batches += 1
            done += n
            if commit is not None:
                commit()
            if progress is not None:
                progress(spec.name, n)
    return done
