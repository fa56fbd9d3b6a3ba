"""Backup and restore (容灾备份): a backup restores into an emptied database with the same rows
and an intact audit trail (SQLite here, PostgreSQL when the suite runs on it); a changed
backup is refused; a non-empty target needs --force; retention keeps the newest of each day
and month; the drill is a recorded job run whose failure shows; the health check reports the
newest backup's age."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from corrections.backup import dialects, service
from corrections.config import DEFAULTS
from corrections.core import keys
from corrections.core.db import db
from corrections.persons.models import Person
from corrections.scheduler import service as scheduler
from corrections.scheduler.models import JobRun
from corrections.scheduler.triggers import parse
from tests.conftest import DEMO_PASSWORD, TEST_NOW
from tests.factories import person_payload

TTL = timedelta(seconds=90)


def _run(app, job: str, **options):
    with app.app_context():
        run = scheduler.run_job(
            db.session, job, holder="test", lease_ttl=TTL, require_lease=False, options=options
        )
        view = scheduler.run_view(run)
        db.session.remove()
    return view


def _facts(app) -> dialects.Facts:
    with app.app_context():
        with db.engine.connect() as conn:
            facts = dialects.read_facts(conn)
        db.session.remove()
    return facts


def _people(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Person.id, Person.status, Person.office_id, Person.term_end).order_by(Person.id)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def _backup(app, tmp_path) -> Path:
    run = _run(app, "backup", out=str(tmp_path / "backups"), prune=False)
    assert run["status"] == "succeeded", run
    return Path(run["counts"]["directory"])


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _resign(app, path: Path, manifest: dict) -> None:
    """Rewrite a manifest and sign it with the instance's key (what only a keyholder can)."""
    with app.app_context():
        manifest["signature"] = service._sign(manifest, keys.current())
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


# --- the acceptance test -----------------------------------------------------------


def test_a_city_backed_up_restores_into_the_emptied_database_with_its_rows_and_trail(
    fresh_app, empty_database, clock, tmp_path
):
    """From an empty database: migrations, an org, persons with events, a backup; the
    database dropped and created empty; restore; the same rows and audit verify passes."""
    from corrections.demo.generator import build_persons, build_units_and_users

    clock.set(TEST_NOW)
    app = fresh_app
    with app.app_context():
        build_units_and_users(db.session, password=DEMO_PASSWORD)
        build_persons(db.session, count=12, seed=7, now=TEST_NOW, history_months=1)
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "officer-dongcheng-1", "password": DEMO_PASSWORD}
    ).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    person = client.post("/api/v1/persons", json=person_payload(), headers=auth).get_json()
    activated = client.post(
        f"/api/v1/persons/{person['id']}/status-changes",
        json={"to_status": "active", "reason": "按期报到"},
        headers=auth,
    )
    assert activated.status_code == 201, activated.get_json()
    event = {"type": "report", "occurred_at": "2026-11-27T01:00:00Z", "channel": "in_person"}
    resp = client.post(f"/api/v1/persons/{person['id']}/events", json=event, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    people = _people(app)
    assert len(people) == 13

    backup = _backup(app, tmp_path)
    manifest = _manifest(backup)
    assert manifest["database"]["kind"] == empty_database.kind
    assert manifest["tables"]["persons"] == 13 and manifest["tables"]["supervision_events"] > 13
    with app.app_context():
        assert manifest["migration_head"] == service.code_head()
    assert manifest["audit"]["head_seq"] > 0 and manifest["audit"]["unsealed"] == 0
    # The audit key signs the manifest; the database URL is there without any password.
    assert manifest["signature"]["key_id"].startswith("audit-")

    with app.app_context():  # the database is lost
        db.session.remove()
        db.engine.dispose()
    empty_database.drop()
    empty_database.create()
    runner = app.test_cli_runner()
    # Into this instance's own database: restored, checked, and acknowledged in the trail.
    restored = runner.invoke(args=["backup", "restore", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert "与备份清单相符" in restored.output  # "as the manifest says"
    assert "已在审计检查点中确认恢复" in restored.output  # "restore acknowledged"

    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "审计记录完好" in verified.output  # "audit trail intact"
    assert _people(app) == people
    after = _facts(app).tables
    # Every table as the backup held it, but for the restore's own audit row.
    assert after["audit_entries"] == manifest["tables"]["audit_entries"] + 1
    assert {**after, "audit_entries": 0} == {**manifest["tables"], "audit_entries": 0}


def test_without_the_acknowledgement_the_lost_tail_shows_as_truncation(
    fresh_app, empty_database, clock, tmp_path
):
    """A restore into another database says what to run there; until it runs, audit verify
    on the restored copy reports the checkpoints the backup never saw."""
    clock.set(TEST_NOW)
    app = fresh_app
    from corrections.demo.generator import build_units_and_users

    with app.app_context():
        build_units_and_users(db.session, password=DEMO_PASSWORD)
        db.session.commit()
        db.session.remove()
    backup = _backup(app, tmp_path)
    _run(app, "audit_seal")  # the backup's own audit row, sealed after the copy was made
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    empty_database.drop()
    empty_database.create()
    with app.app_context():
        restored = service.restore_backup(backup, to=empty_database.url)
        assert restored.facts.tables == _manifest(backup)["tables"]
        from corrections.audit.service import verify

        result = verify(db.session)
        db.session.remove()
    assert result.counts == {"truncated": 1}


# --- verify ------------------------------------------------------------------------------


def test_verify_finds_a_changed_byte_and_a_changed_manifest(app, city, tmp_path, monkeypatch):
    backup = _backup(app, tmp_path)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["backup", "verify", str(backup)])
    assert ok.exit_code == 0, ok.output
    assert f"备份 {backup.name} 完好" in ok.output  # "intact"

    data = next(p for p in backup.iterdir() if p.name.startswith("database."))
    original = data.read_bytes()
    middle = len(original) // 2
    data.write_bytes(original[:middle] + bytes([original[middle] ^ 0xFF]) + original[middle + 1 :])
    with app.app_context():
        report = service.verify_backup(backup)
    # The checksum finds it first; where the byte fell (the dump's table of contents or a
    # table's rows) may add what pg_restore then reads differently.
    assert report.findings and report.findings[0].kind == "checksum"
    bad = runner.invoke(args=["backup", "verify", str(backup)])
    assert bad.exit_code == 1 and "checksum" in bad.output

    # Someone who can write the backup but has no key fixes the checksum in the manifest.
    manifest = _manifest(backup)
    manifest["files"][data.name]["sha256"] = dialects.sha256_of(data)
    (backup / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with app.app_context():
        report = service.verify_backup(backup)
    assert "signature" in {f.kind for f in report.findings}


def test_a_truncated_copy_is_not_readable(app, city, tmp_path):
    """With a manifest re-signed by a keyholder, the copy itself must still read."""
    backup = _backup(app, tmp_path)
    manifest = _manifest(backup)
    data = backup / next(iter(manifest["files"]))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    manifest["files"][data.name] = {
        "sha256": dialects.sha256_of(data),
        "bytes": data.stat().st_size,
    }
    _resign(app, backup, manifest)
    with app.app_context():
        report = service.verify_backup(backup)
    assert [f.kind for f in report.findings] == ["contents"], report.findings


# --- restore -----------------------------------------------------------------------------


def test_restore_refuses_a_non_empty_target_unless_forced(app, city, active, tmp_path):
    active()
    backup = _backup(app, tmp_path)
    people = _people(app)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["backup", "restore", str(backup)])  # this very database
    assert refused.exit_code == 1
    assert "不为空" in refused.output and "--force" in refused.output
    assert _people(app) == people  # nothing was touched

    if app.config["DATABASE_URL"].startswith("postgresql"):
        server = make_url(app.config["DATABASE_URL"])
        with dialects.pg_scratch(server, TEST_NOW) as scratch:
            _restore_twice(app, backup, scratch)
    else:
        _restore_twice(app, backup, make_url(f"sqlite:///{tmp_path / 'other.db'}"))


def _restore_twice(app, backup: Path, target) -> None:
    with app.app_context():
        first = service.restore_backup(backup, to=target)
        assert first.facts.tables["persons"] == 1
        with pytest.raises(service.TargetNotEmpty):
            service.restore_backup(backup, to=target)
        again = service.restore_backup(backup, to=target, force=True)
        assert again.facts.tables == first.facts.tables


def test_a_forced_restore_that_fails_leaves_the_target_as_it_was(
    app, city, active, tmp_path, monkeypatch
):
    """Replacing a database is one transaction: a failure half-way changes nothing."""
    active()
    backup = _backup(app, tmp_path)
    active()  # the target will hold one person more than the backup

    def attempt(target) -> None:
        with app.app_context():
            engine = dialects.scratch_engine(target)
            with engine.connect() as conn:
                before = dialects.read_facts(conn)
            with pytest.raises(dialects.ToolFailed):
                service.restore_backup(backup, to=target, force=True)
            with engine.connect() as conn:
                assert dialects.read_facts(conn) == before
            engine.dispose()

    if app.config["DATABASE_URL"].startswith("postgresql"):
        server = make_url(app.config["DATABASE_URL"])
        with dialects.pg_scratch(server, TEST_NOW) as scratch:
            second = _backup(app, tmp_path)
            with app.app_context():
                service.restore_backup(second, to=scratch)
            real = dialects.pg_drop_statements
            # Everything is dropped but the units table, whose creation then fails.
            monkeypatch.setattr(
                dialects,
                "pg_drop_statements",
                lambda engine, schema: [
                    s for s in real(engine, schema) if '"units"' not in s and ".units " not in s
                ],
            )
            attempt(scratch)
    else:
        target = tmp_path / "target.db"
        second = _backup(app, tmp_path)
        with app.app_context():
            service.restore_backup(second, to=f"sqlite:///{target}")
        # The service still runs and writes: the restore cannot take the file.
        monkeypatch.setattr(dialects, "SQLITE_BUSY_MS", 200)
        writer = sqlite3.connect(target)
        writer.execute("BEGIN IMMEDIATE")
        try:
            attempt(make_url(f"sqlite:///{target}"))
        finally:
            writer.rollback()
            writer.close()


def test_a_changed_backup_is_not_restored(app, city, tmp_path):
    backup = _backup(app, tmp_path)
    manifest = _manifest(backup)
    manifest["tables"]["persons"] += 1
    (backup / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'never.db'}"
    with app.app_context(), pytest.raises(service.BackupInvalid) as refused:
        service.restore_backup(backup, to=target)
    assert "signature" in refused.value.errors
    assert not (tmp_path / "never.db").exists()


# --- retention ---------------------------------------------------------------------------


def _fake_backup(root: Path, at: datetime, *, signed: bool = True) -> str:
    """A backup directory with only its manifest, signed under the current keyring (what
    the retention reads), or not (a planted one)."""
    from corrections.core import keys

    name = at.strftime("%Y%m%dT%H%M%SZ")
    (root / name).mkdir(parents=True)
    manifest = {"format": service.FORMAT, "id": name, "created_at": at.isoformat()}
    if signed:
        manifest["signature"] = service._sign(manifest, keys.current())
    (root / name / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return name


def test_planted_unsigned_backups_change_nothing_in_the_retention(app, tmp_path):
    """Hostile review: manifests of the right format dated 2099 (no signature) counted as
    the newest backups and made prune delete the real ones."""
    root = tmp_path / "backups"
    now = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
    with app.app_context():
        real = _fake_backup(root, datetime(2026, 11, 26, 17, 0, tzinfo=UTC))
        planted = [
            _fake_backup(root, datetime(2099, m, 1, tzinfo=UTC), signed=False) for m in range(1, 13)
        ]
        assert [p.name for p, _m in service.list_backups(root)] == [real]
        pruned = service.prune(root, now=now, keep_daily=1, keep_monthly=1)
    assert pruned.kept == [real] and pruned.deleted == []
    assert sorted(p.name for p in root.iterdir()) == sorted([real, *planted])


def test_retention_keeps_the_newest_of_each_of_the_last_days_and_months(app, tmp_path):
    root = tmp_path / "backups"
    ctx = app.app_context()
    ctx.push()
    now = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)  # 01:30 on 28 November in Shanghai
    made = {}
    # Nightly at 01:00 Shanghai (17:00 UTC the day before) from 20 August to 28 November,
    # and a second, later one by hand on 27 November.
    day = datetime(2026, 8, 19, 17, 0, tzinfo=UTC)
    while day <= now:
        made[day] = _fake_backup(root, day)
        day += timedelta(days=1)
    by_hand = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    made[by_hand] = _fake_backup(root, by_hand)
    (root / "notes").mkdir()  # not a backup: never touched
    (root / ".partial-20261125T170000Z-x1").mkdir()  # a crash two days ago
    (root / ".partial-20261127T170000Z-x2").mkdir()  # a backup being written now

    pruned = service.prune(root, now=now, keep_daily=3, keep_monthly=3)

    kept = sorted(p.name for p in root.iterdir())
    expected = [
        made[datetime(2026, 9, 29, 17, 0, tzinfo=UTC)],  # 30 September: September's newest
        made[datetime(2026, 10, 30, 17, 0, tzinfo=UTC)],  # 31 October: October's newest
        made[datetime(2026, 11, 25, 17, 0, tzinfo=UTC)],  # 26 November
        made[by_hand],  # 27 November's newest (17:00 Shanghai), not that night's 01:00
        made[datetime(2026, 11, 27, 17, 0, tzinfo=UTC)],  # 28 November: also November's
    ]
    assert kept == sorted([*expected, ".partial-20261127T170000Z-x2", "notes"])
    assert sorted(pruned.kept) == sorted(expected)
    assert len(pruned.deleted) == len(made) - len(expected)
    ctx.pop()


def test_the_nightly_job_prunes_backup_dir(app, city, clock, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "nightly"))
    monkeypatch.setitem(app.config, "BACKUP_KEEP_DAILY", 2)
    monkeypatch.setitem(app.config, "BACKUP_KEEP_MONTHLY", 1)
    nights = [datetime(2026, 11, d, 17, 0, tzinfo=UTC) for d in (24, 25, 26)]
    ids = []
    for night in nights:
        clock.set(night)
        run = _run(app, "backup")
        assert run["status"] == "succeeded", run
        ids.append(run["counts"]["backup"])
    assert run["counts"]["deleted"] == 1 and run["counts"]["kept"] == 2
    left = sorted(p.name for p in (tmp_path / "nightly").iterdir())
    assert left == ids[1:]
    # A manual backup elsewhere counts as the newest backup, and deletes nothing.
    out = _run(app, "backup", out=str(tmp_path / "elsewhere"), prune=False)
    assert out["status"] == "succeeded" and "deleted" not in out["counts"]


# --- the drill ---------------------------------------------------------------------------


def test_the_drill_restores_the_newest_backup_and_is_a_recorded_run(
    app, city, active, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    active()
    backup = _backup(app, tmp_path)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", "drill"])
    assert result.exit_code == 0, result.output
    assert f"恢复演练通过：备份 {backup.name}" in result.output  # "drill passed"
    with app.app_context():
        runs = db.session.scalars(select(JobRun).where(JobRun.job == "backup_drill")).all()
        db.session.remove()
    assert [r.status for r in runs] == ["succeeded"]
    assert runs[0].counts["backup"] == backup.name and runs[0].counts["rows"] > 0
    if app.config["DATABASE_URL"].startswith("postgresql"):
        assert _scratch_databases(app) == []  # the scratch database was dropped
    else:  # nor is anything left of the scratch copy
        assert not [p for p in Path(app.instance_path).iterdir() if p.name.startswith(".drill")]


def _scratch_databases(app) -> list[str]:
    from sqlalchemy import text

    with app.app_context():
        names = db.session.scalars(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'corrections_drill_%'")
        ).all()
        db.session.remove()
    return names


def test_a_failed_drill_is_a_failed_run_a_degraded_health_check_and_an_error_line(
    app, city, client, tmp_path, monkeypatch, caplog
):
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    backup = _backup(app, tmp_path)
    # A keyholder's manifest that promises a row the copy does not have: restoring finds it.
    manifest = _manifest(backup)
    manifest["tables"]["units"] += 1
    manifest["rows"] += 1
    _resign(app, backup, manifest)
    with caplog.at_level(logging.ERROR, logger="corrections.backup.jobs"):
        run = _run(app, "backup_drill")
    assert run["status"] == "failed"
    assert "units: " in run["errors"]["rows"]
    assert any(
        r.levelno == logging.ERROR and "backup_drill failed" in r.getMessage()
        for r in caplog.records
    )
    body = client.get("/healthz?deep=1").get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["backup"]["drill"]["status"] == "failed"
    failed = app.test_cli_runner().invoke(args=["backup", "drill"])
    assert failed.exit_code == 1 and "rows" in failed.output


def test_a_backup_that_cannot_be_made_is_a_failed_run(app, city, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="corrections.backup.jobs"):
        run = _run(app, "backup", out=str(blocker / "backups"))
    assert run["status"] == "failed"
    assert run["error"].startswith(("FileExistsError", "NotADirectoryError")), run["error"]
    assert any("backup failed" in r.getMessage() for r in caplog.records)


# --- health --------------------------------------------------------------------------------


def test_deep_health_reports_the_newest_backups_age(app, city, client, clock, tmp_path):
    with app.app_context():  # a live scheduler, so only the backup decides
        scheduler.acquire_lease(db.session, holder="s", ttl=timedelta(days=9), now=TEST_NOW)
        db.session.remove()
    body = client.get("/healthz?deep=1").get_json()
    assert body["status"] == "ok"  # no backup yet: the first nightly run comes
    assert body["checks"]["backup"] == {
        "status": "none",
        "last_backup_at": None,
        "age_hours": None,
        "last_run_status": None,
        "drill": {"status": "none", "last_drill_at": None},
    }
    _backup(app, tmp_path)
    clock.set(TEST_NOW + timedelta(hours=25))
    backup = client.get("/healthz?deep=1").get_json()["checks"]["backup"]
    assert (backup["status"], backup["age_hours"]) == ("ok", 25.0)
    assert backup["last_backup_at"] == TEST_NOW.isoformat()
    clock.set(TEST_NOW + timedelta(hours=26, minutes=1))
    stale = client.get("/healthz?deep=1")
    assert stale.status_code == 200
    assert stale.get_json()["status"] == "degraded"
    assert stale.get_json()["checks"]["backup"]["status"] == "stale"
    # A failed run is reported at once, not a day later.
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    clock.set(TEST_NOW + timedelta(hours=1))
    _backup(app, tmp_path)
    assert client.get("/healthz?deep=1").get_json()["checks"]["backup"]["status"] == "ok"
    _run(app, "backup", out=str(blocker / "x"))
    body = client.get("/healthz?deep=1").get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["backup"]["status"] == "failed"
    assert body["checks"]["backup"]["last_run_status"] == "failed"


# --- secrets, schedule ---------------------------------------------------------------------


def test_a_database_password_reaches_neither_arguments_manifest_nor_messages():
    url = make_url("postgresql+psycopg://corr:s3cr3t-pw@db.example:5433/city?sslmode=require")
    conninfo, env = dialects.libpq(url)
    assert "s3cr3t" not in conninfo and env["PGPASSWORD"] == "s3cr3t-pw"
    assert conninfo == "host=db.example port=5433 user=corr dbname=city sslmode=require"
    assert "s3cr3t" not in dialects.masked(url) and "***" in dialects.masked(url)
    in_query = make_url("postgresql://corr@db.example/city?password=s3cr3t-pw")
    assert "s3cr3t" not in dialects.masked(in_query)
    conninfo, env = dialects.libpq(in_query)
    assert "s3cr3t" not in conninfo and env["PGPASSWORD"] == "s3cr3t-pw"
    with pytest.raises(dialects.ToolFailed) as bad:
        dialects.parse_url("postgresql:/corr:s3cr3t-pw@nowhere")
    assert "s3cr3t" not in bad.value.detail
    refused = subprocess.CompletedProcess(
        ["pg_restore"],
        1,
        stdout="",
        stderr='pg_restore: error: COPY failed for table "persons": ERROR:  invalid input '
        'syntax for type integer: "张伟"\nCONTEXT:  COPY persons, line 1: "1\t张伟"\n',
    )
    message = dialects._tool_message("pg_restore", refused)
    assert "张伟" not in message and 'for table "persons"' in message


def test_the_backup_jobs_are_scheduled_nightly_and_weekly():
    assert scheduler.JOBS["backup"].label_zh == "数据库备份"
    assert scheduler.JOBS["backup_drill"].label_zh == "备份恢复演练"
    friday = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    nightly = parse(DEFAULTS["SCHEDULER_TRIGGERS"]["backup"]).get_next_fire_time(None, friday)
    weekly = parse(DEFAULTS["SCHEDULER_TRIGGERS"]["backup_drill"]).get_next_fire_time(None, friday)
    assert nightly.isoformat() == "2026-11-28T01:00:00+08:00"
    assert weekly.isoformat() == "2026-11-29T05:00:00+08:00"  # Sunday


def test_a_pg_restore_that_dies_half_way_leaves_the_forced_target_as_it_was(
    app, city, active, tmp_path
):
    """Hostile review: pg_restore piped into psql --single-transaction; psql committed at the
    end of its input although pg_restore had failed, leaving the target emptied."""
    import shutil

    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("pg_restore and psql are PostgreSQL's tools")
    active()
    backup = _backup(app, tmp_path)
    fake = tmp_path / "fakebin"
    fake.mkdir()
    real_restore = shutil.which("pg_restore")
    for tool in ("psql", "pg_dump"):
        (fake / tool).symlink_to(shutil.which(tool))
    # Writes the first lines of the dump's SQL (the drops' replacements start), then dies.
    (fake / "pg_restore").write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in --file=*) out="${a#--file=}";; esac; done\n'
        f'[ -z "$out" ] && exec "{real_restore}" "$@"\n'
        f'"{real_restore}" "$@" && head -n 200 "$out" > "$out.part" && mv "$out.part" "$out"\n'
        "echo 'pg_restore: error: could not read input file' >&2\nexit 1\n",
        encoding="utf-8",
    )
    (fake / "pg_restore").chmod(0o755)
    server = make_url(app.config["DATABASE_URL"])
    with dialects.pg_scratch(server, TEST_NOW) as scratch, app.app_context():
        service.restore_backup(_backup(app, tmp_path), to=scratch)
        engine = dialects.scratch_engine(scratch)
        with engine.connect() as conn:
            before = dialects.read_facts(conn)
        app.config["BACKUP_PG_BIN_DIR"] = str(fake)
        try:
            with pytest.raises(dialects.ToolFailed, match="pg_restore"):
                service.restore_backup(backup, to=scratch, force=True)
        finally:
            app.config["BACKUP_PG_BIN_DIR"] = None
        with engine.connect() as conn:
            assert dialects.read_facts(conn) == before
        engine.dispose()


def test_every_file_of_a_backup_is_private(app, city, tmp_path):
    """Hostile and new-user review: pg_dump's file was 0644 under a 022 umask."""
    old = os.umask(0o022)
    try:
        backup = _backup(app, tmp_path)
    finally:
        os.umask(old)
    assert backup.stat().st_mode & 0o077 == 0
    for path in backup.iterdir():
        assert path.stat().st_mode & 0o077 == 0, (path.name, oct(path.stat().st_mode))


def test_a_failed_backup_says_why(app, city, runner, tmp_path):
    """New-user review: `backup create` printed only "ToolFailed at dialects.py:158"."""
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("the client tools are PostgreSQL's")
    app.config["BACKUP_PG_BIN_DIR"] = str(tmp_path / "nowhere")
    try:
        result = runner.invoke(args=["backup", "create", "--out", str(tmp_path / "b")])
    finally:
        app.config["BACKUP_PG_BIN_DIR"] = None
    assert result.exit_code == 1
    assert "pg_dump" in result.output and "BACKUP_PG_BIN_DIR" in result.output, result.output


def test_a_drill_drops_the_scratch_databases_killed_drills_left(app, city, tmp_path):
    """Hostile review: a drill killed with SIGKILL left a full copy of the records behind,
    and no later drill removed it."""
    from datetime import timedelta

    from sqlalchemy import text

    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("scratch databases are PostgreSQL's")
    server = make_url(app.config["DATABASE_URL"])
    stale = f"corrections_drill_{TEST_NOW - timedelta(days=2):%Y%m%d%H%M%S}_abcdef"
    admin = dialects._admin_engine(server)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{stale}"'))
    try:
        with dialects.pg_scratch(server, TEST_NOW):
            pass
        with admin.connect() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": stale}
            ).scalar_one()
        assert left == 0
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{stale}"'))
        admin.dispose()
