"""What an operator meets with backups after an upgrade (new-operator review): the drill says
the backup predates the upgrade instead of asking for a db upgrade already run; a role without
CREATEDB is named as such; the retention keeps the rollback point; a dry-run prune deletes and
logs nothing; the list has headings; a failure prints its reason, never a class and a line
number."""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from corrections.backup import dialects, service
from corrections.core import keys
from corrections.core.db import db
from corrections.core.i18n import _
from corrections.scheduler import service as scheduler

TTL = timedelta(seconds=90)


def _run(app, job: str, **options):
    with app.app_context():
        run = scheduler.run_job(
            db.session, job, holder="test", lease_ttl=TTL, require_lease=False, options=options
        )
        view = scheduler.run_view(run)
        db.session.remove()
    return view


def _fake_backup(root: Path, at: datetime, head: str | None) -> str:
    """A backup directory with only its signed manifest (what the retention reads)."""
    name = at.strftime("%Y%m%dT%H%M%SZ")
    (root / name).mkdir(parents=True)
    manifest = {"format": service.FORMAT, "id": name, "created_at": at.isoformat()}
    if head:
        manifest["migration_head"] = head
    manifest["signature"] = service._sign(manifest, keys.current())
    (root / name / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return name


# --- the drill after an upgrade --------------------------------------------------------------


def test_a_drill_of_a_backup_older_than_the_upgrade_asks_for_a_new_backup(fresh_app, tmp_path):
    """New-operator review: after `db upgrade` the drill said the restored schema needed
    `corrections db upgrade`; the backup, not the database, is behind."""
    from flask_migrate import downgrade, upgrade

    app = fresh_app
    with app.app_context():
        head = service.code_head()
        downgrade(revision="-1")
        db.session.remove()
    backup = _run(app, "backup", prune=False)
    assert backup["status"] == "succeeded", backup
    runner = app.test_cli_runner()
    # Not yet upgraded: the database is behind too, and db upgrade is what to run.
    behind = runner.invoke(args=["backup", "drill"])
    assert behind.exit_code == 1
    assert "corrections db upgrade" in behind.output and "备份早于本次升级" not in behind.output
    with app.app_context():
        upgrade()
        db.session.remove()
    after = runner.invoke(args=["backup", "drill"])
    assert after.exit_code == 1
    assert "备份早于本次升级" in after.output, after.output
    assert f"本代码为 {head}）：请先创建新备份（corrections backup create）再演练" in after.output
    assert "db upgrade" not in after.output
    # The advice works: a new backup drills.
    assert _run(app, "backup", prune=False)["status"] == "succeeded"
    passed = runner.invoke(args=["backup", "drill"])
    assert passed.exit_code == 0, passed.output


@pytest.mark.skipif(
    not os.environ.get("CORRECTIONS_TEST_DATABASE_URL"), reason="PostgreSQL's CREATEDB"
)
def test_a_drill_role_without_createdb_is_told_so():
    """New-operator review: "ProgrammingError at cursor.py:117"."""
    server = os.environ["CORRECTIONS_TEST_DATABASE_URL"]
    role = f"corrections_nocreatedb_{secrets.token_hex(3)}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOCREATEDB'))
    try:
        url = dialects.parse_url(make_url(server).set(username=role, password=None))
        with (
            pytest.raises(dialects.ToolFailed) as refused,
            dialects.pg_scratch(url, datetime.now(UTC)),
        ):
            pass
        assert refused.value.detail.render("zh") == (
            "演练需要可建库的数据库角色（CREATEDB），"
            "或设置 BACKUP_DRILL_URL 指向该角色可建库的服务器"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


# --- retention ---------------------------------------------------------------------------------


def test_the_retention_keeps_the_newest_backup_from_before_the_upgrade(app, tmp_path):
    root = tmp_path / "backups"
    now = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
    with app.app_context():
        head = service.code_head()
        older = sorted(service._older_revisions(head))
        first = datetime(2026, 9, 1, 17, 0, tzinfo=UTC)
        before = [  # nightly at an older migration, the last on 30 September
            _fake_backup(root, first + timedelta(days=n), older[-1]) for n in range(29)
        ]
        ancient = _fake_backup(root, first - timedelta(days=40), older[0])
        after = [  # upgraded on 1 October, nightly since
            _fake_backup(root, datetime(2026, 10, 1, 17, 0, tzinfo=UTC) + timedelta(days=n), head)
            for n in range(50)
        ]
        pruned = service.prune(root, now=now, keep_daily=3, keep_monthly=0)
    # The three newest, and the rollback point: the newest made before the upgrade.
    assert sorted(pruned.kept) == sorted([*after[-3:], before[-1]])
    assert ancient in pruned.deleted


def test_a_dry_run_prune_deletes_nothing_and_logs_no_deletion(
    app, runner, tmp_path, caplog, monkeypatch
):
    root = tmp_path / "backups"
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(root))
    monkeypatch.setitem(app.config, "BACKUP_KEEP_DAILY", 1)
    monkeypatch.setitem(app.config, "BACKUP_KEEP_MONTHLY", 0)
    with app.app_context():
        head = service.code_head()
        made = [
            _fake_backup(root, datetime(2026, 11, d, 17, 0, tzinfo=UTC), head) for d in (20, 21, 22)
        ]
    with caplog.at_level(logging.INFO, logger="corrections.backup.service"):
        result = runner.invoke(args=["backup", "prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "保留 1 个；将删除 2 个"
    assert sorted(p.name for p in root.iterdir()) == sorted(made)
    assert not [r for r in caplog.records if "pruned" in r.getMessage()]
    with caplog.at_level(logging.INFO, logger="corrections.backup.service"):
        assert runner.invoke(args=["backup", "prune"]).exit_code == 0
    assert [p.name for p in root.iterdir()] == [made[-1]]
    assert [r for r in caplog.records if "backups pruned: 2 deleted" in r.getMessage()]


# --- list and failures -------------------------------------------------------------------------


def test_the_backup_list_has_column_headings(app, runner, tmp_path, monkeypatch):
    root = tmp_path / "backups"
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(root))
    empty = runner.invoke(args=["backup", "list"])
    assert empty.exit_code == 0 and empty.output == f"{root} 中没有备份\n"
    with app.app_context():
        head = service.code_head()
        name = _fake_backup(root, datetime(2026, 11, 20, 17, 0, tzinfo=UTC), head)
    result = runner.invoke(args=["backup", "list"])
    assert result.exit_code == 0, result.output
    heading, row = result.output.splitlines()
    assert heading.split() == ["备份", "数据库", "迁移版本", "行数", "字节数"]
    assert row.split()[0] == name and row.split()[2] == head


def test_a_failed_backup_prints_its_reason_not_where_it_was_raised(
    app, runner, tmp_path, monkeypatch
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    unexpected = runner.invoke(args=["backup", "create", "--out", str(blocker / "backups")])
    assert unexpected.exit_code == 1
    (line,) = unexpected.output.strip().splitlines()
    assert line.startswith("备份失败：意外错误；错误类别及出错位置见日志（任务运行 ")
    assert ".py:" not in line and "Error" not in line

    def tool_fails(*args, **kwargs):
        raise dialects.ToolFailed(
            _("unsupported database {backend}: sqlite or postgresql", backend="x")
        )

    monkeypatch.setattr(service, "create_backup", tool_fails)
    known = runner.invoke(args=["backup", "create"])
    assert known.exit_code == 1
    assert known.output.startswith("备份失败：backup-tool-failed: "), known.output
    assert "ToolFailed" not in known.output and ".py:" not in known.output
