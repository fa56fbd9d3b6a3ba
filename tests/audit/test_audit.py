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
    officer.get(f"/api/v1/persons/{person['id']}", headers={"X-Request-ID": "req-42"})
    rows = [r for r in _entries(app) if r.subject_type == "person"]
    create = next(r for r in rows if r.action == "person.create")
    read = next(r for r in rows if r.action == "person.read")
    assert create.actor_username == "officer-dongcheng-1" and create.actor_role == "officer"
    assert read.subject_id == str(person["id"]) and read.request_id == "req-42"
    assert read.client_addr == "127.0.0.1"
    assert read.occurred_at.tzinfo is not None
    # Sealed after the request: chained with a SHA-256.
    assert read.seq is not None and len(read.hash) == 64
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
    assert f"id={victim.id}" in result.output and "altered" in result.output


def test_deleting_a_middle_row_breaks_verify(app, runner, officer, intake):
    rows = _seeded_trail(app, officer, intake)
    victim = rows[2]
    _tamper(app, delete(AuditEntry).where(AuditEntry.id == victim.id))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "deleted" in result.output and f"id={rows[3].id}" in result.output


def test_deleting_the_last_rows_breaks_verify(app, runner, officer, intake):
    rows = _seeded_trail(app, officer, intake)
    _tamper(app, delete(AuditEntry).where(AuditEntry.id == rows[-1].id))
    result = runner.invoke(args=["audit", "verify", "--no-seal"])
    assert result.exit_code == 1
    assert "end" in result.output


def test_rewriting_a_row_with_a_fresh_hash_still_breaks_the_next_link(app, runner, officer, intake):
    from corrections.audit.service import entry_hash

    rows = _seeded_trail(app, officer, intake)
    victim = rows[1]
    with app.app_context():
        entry = db.session.get(AuditEntry, victim.id)
        entry.action = "person.nothing"
        entry.hash = entry_hash(entry, entry.seq, entry.prev_hash)
        db.session.commit()
        db.session.remove()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"id={rows[2].id}" in result.output


def test_verify_passes_on_clean_trail(runner, officer, intake):
    intake(officer)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


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
