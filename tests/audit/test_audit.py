"""The audit trail: what is recorded, and that tampering is detected."""

from __future__ import annotations

from sqlalchemy import delete, func, select, text, update

from corrections.audit.models import AuditEntry
from corrections.audit.service import seal_pending, verify
from corrections.core.db import db


def _entries(app):
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_writes_and_reads_of_personal_data_are_recorded_with_context(app, officer, intake):
    person = intake(officer)
    resp = officer.get(f"/api/v1/persons/{person['id']}", headers={"X-Request-ID": "req-42"})
    rows = [r for r in _entries(app) if r.subject_type == "person"]
    create = next(r for r in rows if r.action == "person.create")
    read = next(r for r in rows if r.action == "person.read")
    assert create.actor_username == "officer-dongcheng-1" and create.actor_role == "officer"
    assert read.subject_id == str(person["id"])
    assert read.request_id == resp.headers["X-Request-ID"]
    assert read.client_addr == "127.0.0.1"
    assert read.occurred_at.tzinfo is not None
    # Sealed after the request: chained with an HMAC under the audit key.
    assert read.seq is not None and len(read.hash) == 64 and read.key_id.startswith("audit-")
    # No personal data in the trail.
    blob = " ".join(str(r.detail) for r in rows)
    assert person["name"] not in blob and person["id_number"] not in blob


def test_chain_verifies_when_untouched(app, officer, intake):
    for _ in range(3):
        intake(officer)
    with app.app_context():
        seal_pending(db.session)
        db.session.commit()
        result = verify(db.session)
        db.session.remove()
    assert result.ok and result.checked == 7  # one sign-in; three intakes, each with its grade


def _tamper(app, statement) -> None:
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()
        db.session.remove()


def _seeded_trail(app, officer, intake) -> list[AuditEntry]:
    for _ in range(3):
        intake(officer)
    return [r for r in _entries(app) if r.seq is not None]


def test_altering_a_row_breaks_verify_and_names_it(app, runner, officer, intake):
    rows = _seeded_trail(app, officer, intake)
    victim = rows[len(rows) // 2]
    _tamper(
        app,
        update(AuditEntry).where(AuditEntry.id == victim.id).values(actor_username="someone-else"),
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"序号 {victim.seq}（行 id={victim.id}）被改写" in result.output  # was rewritten


def test_deleting_a_middle_row_breaks_verify(app, runner, officer, intake):
    rows = _seeded_trail(app, officer, intake)
    victim = rows[2]
    _tamper(app, delete(AuditEntry).where(AuditEntry.id == victim.id))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"missing: 缺少序号 {victim.seq}..{victim.seq}（在行 id={rows[3].id} 之前）" in (
        result.output
    )


def test_deleting_the_last_rows_breaks_verify(app, runner, officer, intake):
    rows = _seeded_trail(app, officer, intake)
    _tamper(app, delete(AuditEntry).where(AuditEntry.id == rows[-1].id))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"末尾缺少序号 {rows[-1].seq}..{rows[-1].seq}" in result.output  # missing at the end


def test_verify_passes_on_clean_trail(runner, officer, intake):
    intake(officer)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "审计记录完好" in result.output  # intact


def test_sealing_twice_seals_nothing_new_and_late_rows_join_the_chain(app, city):
    """A row whose transaction commits after a higher id was sealed still joins the chain."""
    from corrections.audit import service
    from corrections.core.auth import SYSTEM

    with app.app_context():
        service.record(db.session, actor=SYSTEM, action="test.one")
        db.session.commit()
        assert seal_pending(db.session) == 1
        db.session.commit()
        assert seal_pending(db.session) == 0
        first_id = db.session.scalar(select(AuditEntry.id))
        # Simulate a concurrent writer that drew a lower id but committed later.
        db.session.execute(
            AuditEntry.__table__.insert().values(
                id=first_id - 1,
                occurred_at=app.extensions["corrections.clock"].now(),
                actor_username="system",
                action="test.late",
                juvenile=False,
            )
        )
        db.session.commit()
        assert seal_pending(db.session) == 1
        db.session.commit()
        rows = db.session.execute(
            select(AuditEntry.action, AuditEntry.seq).order_by(AuditEntry.seq)
        ).all()
        assert [tuple(r) for r in rows] == [("test.one", 1), ("test.late", 2)]
        assert verify(db.session).ok
        db.session.remove()


def test_auditor_reads_and_filters_the_trail(login, officer, intake):
    person = intake(officer)
    officer.get(f"/api/v1/persons/{person['id']}")
    auditor = login("auditor")
    page = auditor.get(f"/api/v1/audit?subject_type=person&subject_id={person['id']}").get_json()
    assert {e["action"] for e in page["items"]} == {"person.create", "grade.intake", "person.read"}
    by_actor = auditor.get("/api/v1/audit?actor=officer-dongcheng-1&action=person.read").get_json()
    assert by_actor["total"] == 1
    assert auditor.get("/api/v1/audit?since=2026-11-28T00:00:00Z").get_json()["total"] == 0
    assert auditor.get("/api/v1/audit?since=yesterday").status_code == 422
    # Naive times are refused: every time in this API carries its zone.
    assert auditor.get("/api/v1/audit?since=2026-11-27T00:00:00").status_code == 422


def test_only_auditors_read_the_trail(login):
    for username in ("officer-dongcheng-1", "commander-dongcheng", "city", "analyst", "admin"):
        assert login(username).get("/api/v1/audit").status_code == 403, username


def test_failed_login_is_audited_and_kept(app, client):
    client.post("/api/v1/auth/token", json={"username": "city", "password": "wrong-password"})
    with app.app_context():
        n = db.session.scalar(select(func.count()).where(AuditEntry.action == "auth.login_failed"))
        db.session.execute(text("SELECT 1"))
        db.session.remove()
    assert n == 1


# --- finding 10: the request id in an audit row is the server's --------------------------


def test_finding_10_client_request_ids_are_kept_apart_from_the_servers(app, officer, intake):
    person = intake(officer)
    resp = officer.get(f"/api/v1/persons/{person['id']}", headers={"X-Request-ID": "req-42"})
    read = next(r for r in _entries(app) if r.action == "person.read")
    assert read.request_id != "req-42" and len(read.request_id) == 32
    assert read.request_id == resp.headers["X-Request-ID"]
    assert read.client_request_id == "req-42"
    assert resp.headers["X-Client-Request-ID"] == "req-42"
    # Two requests claiming one id are still two requests in the trail.
    officer.get(f"/api/v1/persons/{person['id']}", headers={"X-Request-ID": "req-42"})
    reads = [r for r in _entries(app) if r.action == "person.read"]
    assert len({r.request_id for r in reads}) == 2


# --- finding 6: a keyed chain anchored outside the database ------------------------------


def _verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


def _sealed(app):
    return [r for r in _entries(app) if r.seq is not None]


def test_finding_6_rewritten_rows_rechained_without_the_key_are_found(app, runner, officer, intake):
    """The attacker changes a row and recomputes every later link the old (keyless) way."""
    import hashlib
    import json

    from corrections.audit.models import AuditChainHead

    rows = _seeded_trail(app, officer, intake)
    victim = rows[2]
    with app.app_context():
        prev = victim.prev_hash
        for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.seq >= victim.seq).order_by(AuditEntry.seq)
        ):
            if entry.id == victim.id:
                entry.actor_username = "someone-else"
            blob = json.dumps({"id": entry.id, "prev": prev, "action": entry.action})
            entry.prev_hash, entry.hash = prev, hashlib.sha256(blob.encode()).hexdigest()
            prev = entry.hash
        head = db.session.get(AuditChainHead, 1)
        head.last_hash = prev
        db.session.commit()
        db.session.remove()
    result = _verify(runner)
    assert result.exit_code == 1
    for row in rows[2:]:
        assert f"序号 {row.seq}（行 id={row.id}）被改写" in result.output
    assert f"序号 {rows[1].seq}（行 id={rows[1].id}）被改写" not in result.output


def test_finding_6_newest_rows_deleted_and_head_moved_back_are_found(app, runner, officer, intake):
    from corrections.audit.models import AuditChainHead

    rows = _seeded_trail(app, officer, intake)
    keep = rows[-3]
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq > keep.seq))
        head = db.session.get(AuditChainHead, 1)
        head.last_seq, head.last_hash = keep.seq, keep.hash
        db.session.commit()
        db.session.remove()
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"truncated: 末尾缺少序号 {keep.seq + 1}..{rows[-1].seq}" in result.output


def test_finding_6_a_wiped_trail_is_found(app, runner, officer, intake):
    from corrections.audit.models import AuditChainHead

    rows = _seeded_trail(app, officer, intake)
    _tamper(app, delete(AuditEntry))
    _tamper(app, delete(AuditChainHead))
    result = _verify(runner)
    assert result.exit_code == 1
    assert "全部记录被删除：" in result.output  # all rows deleted
    assert f"的检查点覆盖序号 1..{rows[-1].seq}" in result.output


def test_finding_6_a_backdated_forged_row_is_found_before_and_after_sealing(
    app, runner, clock, officer, intake
):
    from datetime import timedelta

    rows = _seeded_trail(app, officer, intake)
    with app.app_context():
        db.session.execute(
            AuditEntry.__table__.insert().values(
                occurred_at=clock.now() - timedelta(days=2),
                actor_username="officer-dongcheng-1",
                actor_role="officer",
                action="person.read",
                subject_type="person",
                subject_id="1",
                juvenile=False,
            )
        )
        db.session.commit()
        forged = db.session.scalar(select(func.max(AuditEntry.id)))
        db.session.remove()
    before = _verify(runner)
    assert before.exit_code == 1
    assert f"未上链的行 id={forged} 自称发生于" in before.output and "系事后插入" in before.output
    # verify sealed nothing: the forged row is still outside the chain.
    assert all(r.seq is None for r in _entries(app) if r.id == forged)
    # The honest sealer takes it, and verify still names it.
    assert runner.invoke(args=["audit", "seal"]).exit_code == 0
    after = _verify(runner)
    assert after.exit_code == 1
    assert f"序号 {rows[-1].seq + 1}（行 id={forged}）自称发生于" in after.output


def test_finding_6_verify_never_seals(app, runner, officer, intake):
    from corrections.audit import service
    from corrections.core.auth import SYSTEM

    intake(officer)
    with app.app_context():
        service.record(db.session, actor=SYSTEM, action="test.pending")
        db.session.commit()
        db.session.remove()
    assert _verify(runner).exit_code == 0
    assert [r.seq for r in _entries(app) if r.action == "test.pending"] == [None]


def test_finding_6_every_seal_appends_a_signed_checkpoint(app, runner, officer, intake):
    import json
    from pathlib import Path

    rows = _seeded_trail(app, officer, intake)
    lines = Path(app.config["AUDIT_CHECKPOINT_PATH"]).read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["seq"] == rows[-1].seq and last["hash"] == rows[-1].hash
    assert last["rows"] == rows[-1].seq and last["sig"] and last["at"]
    printed = runner.invoke(args=["audit", "checkpoint"])
    assert printed.exit_code == 0 and json.loads(printed.output)["sig"] == last["sig"]
    # A forged checkpoint (signed without the key) is reported, not trusted.
    forged = {**last, "seq": last["seq"] + 100, "sig": "0" * 64}
    with open(app.config["AUDIT_CHECKPOINT_PATH"], "a") as fh:
        fh.write(json.dumps(forged) + "\n")
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"检查点文件第 {len(lines) + 1} 行的签名无效" in result.output  # not validly signed
    assert "truncated" not in result.output


def test_finding_6_a_seal_that_rolls_back_writes_no_checkpoint(app, officer, intake):
    from pathlib import Path

    from corrections.audit import service
    from corrections.core.auth import SYSTEM

    intake(officer)
    path = Path(app.config["AUDIT_CHECKPOINT_PATH"])
    before = path.read_text()
    with app.app_context():
        service.record(db.session, actor=SYSTEM, action="test.pending")
        db.session.commit()
        assert service.seal_pending(db.session) == 1
        db.session.rollback()
        db.session.remove()
    assert path.read_text() == before


def test_verify_passes_after_an_audit_key_rotation(app, runner, officer, intake):
    from corrections.core import keys

    intake(officer)
    old = keys.current().active_id("audit")
    with app.app_context():
        new = keys.current().rotate("audit")
    intake(officer)
    used = {r.key_id for r in _sealed(app)}
    assert used == {old, new}
    result = _verify(runner)
    assert result.exit_code == 0, result.output


def _dump_trail(app):
    from corrections.audit.models import AuditChainHead

    with app.app_context():
        rows = [dict(r._mapping) for r in db.session.execute(AuditEntry.__table__.select())]
        head = [dict(r._mapping) for r in db.session.execute(AuditChainHead.__table__.select())]
        db.session.remove()
    return rows, head


def _restore_trail(app, dump):
    from corrections.audit.models import AuditChainHead

    rows, head = dump
    with app.app_context():
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(AuditChainHead))
        db.session.execute(AuditEntry.__table__.insert(), rows)
        db.session.execute(AuditChainHead.__table__.insert(), head)
        db.session.commit()
        db.session.remove()


def test_verify_passes_after_a_backup_is_restored(app, runner, officer, intake):
    intake(officer)
    _restore_trail(app, _dump_trail(app))
    result = _verify(runner)
    assert result.exit_code == 0, result.output


def test_an_older_backup_restored_is_truncation_until_an_operator_acknowledges_it(
    app, runner, officer, intake
):
    intake(officer)
    backup = _dump_trail(app)
    intake(officer)  # rows written after the backup, then lost with the restore
    _restore_trail(app, backup)
    lost = _verify(runner)
    assert lost.exit_code == 1 and "truncated" in lost.output
    ack = runner.invoke(args=["audit", "acknowledge-restore", "--reason", "nightly backup"])
    assert ack.exit_code == 0, ack.output
    intake(officer)  # the trail goes on from the restored head
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "已确认恢复" in result.output and "nightly backup" in result.output


# --- finding 1: refused requests leave their audit rows ------------------------------------


def test_finding_1_an_out_of_scope_probe_is_audited_in_a_transaction_of_its_own(
    app, login, officer, intake
):
    person = intake(officer)
    other = login("officer-xicheng-1")
    assert other.get(f"/api/v1/persons/{person['id']}").status_code == 404
    refused = [r for r in _entries(app) if r.actor_username == "officer-xicheng-1"]
    probe = next(r for r in refused if r.subject_id == str(person["id"]))
    assert probe.detail["outcome"] == 404 and probe.seq is not None


def test_finding_1_a_stale_if_match_is_audited(app, officer, intake):
    person = intake(officer)
    resp = officer.patch(
        f"/api/v1/persons/{person['id']}", json={"address": "别处"}, headers={"If-Match": '"99"'}
    )
    assert resp.status_code == 412
    rows = [r for r in _entries(app) if r.request_id == resp.headers["X-Request-ID"]]
    assert [r.subject_id for r in rows] == [str(person["id"])]
    assert rows[0].detail["outcome"] == 412


def test_finding_6_a_row_numbered_outside_the_chain_is_found(app, runner, clock, officer, intake):
    """A forged row given seq -1 (or 0) is read by auditors: verify must account for it."""
    from datetime import timedelta

    _seeded_trail(app, officer, intake)
    with app.app_context():
        db.session.execute(
            AuditEntry.__table__.insert().values(
                occurred_at=clock.now() - timedelta(days=100),
                actor_username="commander-dongcheng",
                action="person.read",
                subject_type="person",
                subject_id="1",
                juvenile=False,
                seq=-1,
                hash="0" * 64,
            )
        )
        db.session.commit()
        forged = db.session.scalar(select(func.max(AuditEntry.id)))
        db.session.remove()
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"行 id={forged} 的序号为 -1，在链之外" in result.output  # outside the chain


def test_finding_6_a_head_moved_back_or_removed_is_found(app, runner, officer, intake):
    """Moving the head behind the chain blocks every later seal: verify must say so."""
    from corrections.audit.models import AuditChainHead

    rows = _seeded_trail(app, officer, intake)
    back = rows[-3]
    with app.app_context():
        head = db.session.get(AuditChainHead, 1)
        head.last_seq, head.last_hash = back.seq, back.hash
        db.session.commit()
        db.session.remove()
    moved = _verify(runner)
    assert moved.exit_code == 1 and f"链头被退回到序号 {back.seq}" in moved.output
    _tamper(app, delete(AuditChainHead))
    removed = _verify(runner)
    assert removed.exit_code == 1 and "链头缺失" in removed.output


def test_finding_6_a_forward_dated_row_is_found(app, runner, clock, officer, intake):
    from datetime import timedelta

    _seeded_trail(app, officer, intake)
    with app.app_context():
        db.session.execute(
            AuditEntry.__table__.insert().values(
                occurred_at=clock.now() + timedelta(days=400),
                actor_username="officer-dongcheng-1",
                action="person.read",
                juvenile=False,
            )
        )
        db.session.commit()
        db.session.remove()
    assert runner.invoke(args=["audit", "seal"]).exit_code == 0
    result = _verify(runner)
    assert result.exit_code == 1 and "日期被往后填" in result.output


def test_finding_6_stalled_sealing_and_a_missing_checkpoint_file_are_found(
    app, runner, clock, officer, intake
):
    from datetime import timedelta
    from pathlib import Path

    from corrections.audit import service
    from corrections.core.auth import SYSTEM

    _seeded_trail(app, officer, intake)
    with app.app_context():
        service.record(db.session, actor=SYSTEM, action="test.waiting")
        db.session.commit()
        db.session.remove()
    clock.set(clock.now() + timedelta(hours=1))  # nobody sealed it for an hour
    stalled = _verify(runner)
    assert stalled.exit_code == 1 and "上链已停滞" in stalled.output
    # Sealed an hour late, it can no longer be told from a row put in later: still named.
    assert runner.invoke(args=["audit", "seal"]).exit_code == 0
    late = _verify(runner)
    assert late.exit_code == 1 and "系事后插入" in late.output
    Path(app.config["AUDIT_CHECKPOINT_PATH"]).unlink()
    result = _verify(runner)
    assert result.exit_code == 1 and "没有检查点覆盖已上链的" in result.output


def test_a_command_that_writes_audit_rows_seals_them_when_it_ends(app, runner, city):
    from corrections.audit import service
    from corrections.core.auth import SYSTEM

    with app.app_context():
        service.record(db.session, actor=SYSTEM, action="test.command")
        db.session.commit()
    rows = _entries(app)
    assert [r.action for r in rows] == ["test.command"] and rows[0].seq == 1


def test_a_burst_is_sealed_by_one_statement_per_batch_in_id_order(app, clock, city):
    """Sealing 250 rows in batches of 100 sends one UPDATE per batch. On PostgreSQL it is one
    statement from arrays, not an executemany (one statement per row: under gevent each one's
    answer yielded to the worker's other requests, and a reader's list waited 2-10 s for the
    seal that ran after it, bench/lists.py)."""
    from sqlalchemy import event as sa_event

    from corrections.audit import service
    from corrections.audit.models import AuditChainHead
    from corrections.core import keys
    from corrections.core.auth import SYSTEM

    with app.app_context():
        for i in range(250):
            service.record(db.session, actor=SYSTEM, action="test.burst", subject_id=str(i))
        db.session.commit()
        # Sealed later than written (to the microsecond), so the seal's own time must be
        # written: verify() would take the row's time for a missing one.
        sealed_at = clock.advance(seconds=3, microseconds=456_789)
        updates = []

        def seen(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("UPDATE AUDIT_ENTRIES"):
                updates.append(executemany)

        sa_event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert service.seal_pending(db.session, batch=100) == 250
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", seen)
        db.session.commit()
        assert len(updates) == 3
        if db.engine.dialect.name == "postgresql":
            assert updates == [False, False, False]
        rows = db.session.execute(
            select(AuditEntry.id, AuditEntry.seq).order_by(AuditEntry.id)
        ).all()
        assert [seq for _, seq in rows] == list(range(rows[0].seq, rows[0].seq + len(rows)))
        burst = db.session.execute(
            select(AuditEntry.sealed_at, AuditEntry.key_id).where(AuditEntry.action == "test.burst")
        ).all()
        assert len(burst) == 250
        assert {tuple(r) for r in burst} == {(sealed_at, keys.current().active_id("audit"))}
        assert db.session.get(AuditChainHead, 1).updated_at == sealed_at
        assert verify(db.session).ok
        db.session.remove()
