"""GET /api/v1/audit/verification: the auditor's page checks the trail now, read-only, and
names what it finds in Chinese; a bounded window reads only the newest rows."""

from __future__ import annotations

from sqlalchemy import select, update

from corrections.audit import views as audit_views
from corrections.audit.models import AuditEntry
from corrections.core.db import db


def _sealed(app) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_an_untouched_trail_verifies_and_the_check_is_itself_audited(app, login, officer, intake):
    intake(officer)
    auditor = login("auditor")
    sealed = _sealed(app)
    resp = auditor.get("/api/v1/audit/verification")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ok"] is True and body["complete"] is True and body["first_seq"] == 1
    assert body["checked"] == len(sealed) and body["checkpoints"] >= 1
    assert body["findings"] == [] and body["counts"] == {}
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "audit.verify")
        ).all()
        db.session.remove()
    assert actions == ["audit.verify"]


def test_a_rewritten_row_is_named_in_chinese(app, login, officer, intake):
    intake(officer)
    intake(officer)
    victim = _sealed(app)[2]
    with app.app_context():
        db.session.execute(
            update(AuditEntry).where(AuditEntry.id == victim.id).values(action="person.nothing")
        )
        db.session.commit()
        db.session.remove()
    body = login("auditor").get("/api/v1/audit/verification").get_json()
    assert body["ok"] is False and body["counts"]["rewritten"] >= 1
    finding = next(f for f in body["findings"] if f["entry_id"] == victim.id)
    assert finding["kind"] == "rewritten" and finding["kind_label_zh"] == "被改写"
    assert f"序号 {victim.seq}（行 id={victim.id}）被改写" in finding["text"]


def test_a_window_reads_only_the_newest_rows(app, login, officer, intake, monkeypatch):
    for _ in range(3):
        intake(officer)
    rows = _sealed(app)
    # A rewritten row before the window is not read: the bounded check says it is partial.
    with app.app_context():
        db.session.execute(
            update(AuditEntry).where(AuditEntry.id == rows[0].id).values(action="x.y")
        )
        db.session.commit()
        db.session.remove()
    monkeypatch.setattr(audit_views, "VERIFY_WINDOW", 3)
    auditor = login("auditor")
    newest = _sealed(app)[-1].seq
    body = auditor.get("/api/v1/audit/verification").get_json()
    assert body["complete"] is False and body["checked"] == 3
    assert body["first_seq"] == newest - 2
    assert body["ok"] is True
    monkeypatch.setattr(audit_views, "VERIFY_WINDOW", 20_000)
    full = auditor.get("/api/v1/audit/verification").get_json()
    assert full["complete"] is True and full["ok"] is False


def test_only_auditors_verify(login):
    for username in ("officer-dongcheng-1", "commander-dongcheng", "analyst", "admin"):
        resp = login(username).get("/api/v1/audit/verification")
        assert resp.status_code == 403, username
