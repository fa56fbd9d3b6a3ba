"""Migration 0007: the unkeyed chain of earlier versions is verified, then re-keyed."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from corrections.audit.legacy import GENESIS_HASH, _old_hash, rechain_legacy
from corrections.audit.models import AuditChainHead, AuditEntry
from corrections.audit.service import seal_pending, verify
from corrections.core.db import db


def _seal_the_old_way(session) -> None:
    """Chain every row with the pre-0007 SHA-256 (no key), as an old version did."""
    prev, seq = GENESIS_HASH, 0
    session.execute(update(AuditEntry).values(seq=None, prev_hash=None, hash=None))
    session.execute(AuditChainHead.__table__.delete())
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all():
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        session.flush()
        entry.hash = _old_hash(entry, prev)
        prev = entry.hash
    session.add(AuditChainHead(id=1, last_seq=seq, last_hash=prev, updated_at=entry.occurred_at))
    session.commit()


def test_an_intact_old_chain_is_rekeyed_and_then_verifies(app, officer, intake):
    for _ in range(2):
        intake(officer)
    with app.app_context():
        _seal_the_old_way(db.session)
        n = db.session.scalar(select(AuditChainHead.last_seq))
        assert rechain_legacy(db.session.connection()) == n
        db.session.commit()
        assert seal_pending(db.session) == n
        db.session.commit()
        assert verify(db.session).ok
        db.session.remove()


def test_a_broken_old_chain_stops_the_upgrade(app, officer, intake):
    intake(officer)
    with app.app_context():
        _seal_the_old_way(db.session)
        db.session.execute(
            update(AuditEntry).where(AuditEntry.seq == 2).values(action="person.nothing")
        )
        db.session.commit()
        with pytest.raises(RuntimeError, match="broken at seq 2"):
            rechain_legacy(db.session.connection())
        db.session.rollback()
        db.session.remove()
