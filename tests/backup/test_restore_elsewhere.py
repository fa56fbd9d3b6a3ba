"""A restore into another database leaves this instance's audit checkpoints alone (new-user
review): acknowledging it in this instance's checkpoint file would count this instance's later
checkpoints as lost in a restore that never happened to its database, so a real truncation of
it would pass ``audit verify``. Only a restore onto the configured database (however its URL is
spelled) acknowledges itself there."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from corrections.backup import dialects
from corrections.core.db import db
from corrections.scheduler import service as scheduler
from tests.backup.conftest import Database, _server_url
from tests.conftest import DEMO_PASSWORD, TEST_NOW

TTL = timedelta(seconds=90)


@pytest.fixture
def other_database(tmp_path):
    """A second empty database of the suite's kind: not the instance's."""
    server = _server_url()
    if server:
        name = f"corrections_other_{secrets.token_hex(4)}"
        database = Database(make_url(server).set(database=name).render_as_string(False), server)
    else:
        database = Database(f"sqlite:///{tmp_path / 'other.db'}", None)
    database.create()
    yield database
    database.drop()


def _city_with_a_backup(app, tmp_path) -> Path:
    from corrections.demo.generator import build_units_and_users

    with app.app_context():
        build_units_and_users(db.session, password=DEMO_PASSWORD)
        db.session.commit()
        run = scheduler.run_job(
            db.session,
            "backup",
            holder="test",
            lease_ttl=TTL,
            require_lease=False,
            options={"out": str(tmp_path / "backups"), "prune": False},
        )
        assert run.status == "succeeded", run.errors
        directory = Path(run.counts["directory"])
        # Sealed after the copy: the instance's checkpoints now reach past the backup.
        scheduler.run_job(db.session, "audit_seal", holder="test", lease_ttl=TTL)
        db.session.remove()
    return directory


def _instance_state(app) -> tuple[bytes, dict[str, int]]:
    """The instance's checkpoint file and what its own database holds."""
    checkpoints = Path(app.config["AUDIT_CHECKPOINT_PATH"]).read_bytes()
    with app.app_context():
        with db.engine.connect() as conn:
            tables = dialects.read_facts(conn).tables
        db.session.remove()
    return checkpoints, tables


def test_a_restore_into_another_database_touches_nothing_of_this_instance(
    fresh_app, other_database, clock, tmp_path
):
    clock.set(TEST_NOW)
    app = fresh_app
    backup = _city_with_a_backup(app, tmp_path)
    before = _instance_state(app)
    assert b'"type": "seal"' in before[0]

    result = app.test_cli_runner().invoke(
        args=["backup", "restore", str(backup), "--to", other_database.url]
    )
    assert result.exit_code == 0, result.output
    assert "本实例的审计检查点未作改动" in result.output
    assert "acknowledge-restore" in result.output  # what the serving instance runs
    # Neither the checkpoint file (no restore line, no seal) nor the instance's database.
    assert _instance_state(app) == before
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "restore acknowledged" not in verified.output


def test_a_restore_onto_the_configured_database_spelled_otherwise_acknowledges_itself(
    fresh_app, empty_database, clock, tmp_path
):
    clock.set(TEST_NOW)
    app = fresh_app
    backup = _city_with_a_backup(app, tmp_path)
    with app.app_context():  # the database is lost
        db.session.remove()
        db.engine.dispose()
    empty_database.drop()
    empty_database.create()
    url = make_url(empty_database.url)
    # The same database by another spelling: psycopg's driver name left out, the default port
    # written out, "localhost" for 127.0.0.1 (PostgreSQL: asked of the server, hostile review
    # of issue 16); a path through a "." (SQLite).
    if url.get_backend_name() == "postgresql":
        host = "localhost" if url.host in ("127.0.0.1", "::1") else url.host
        spelled = url.set(drivername="postgresql", port=url.port or 5432, host=host)
        to = spelled.render_as_string(hide_password=False)
    else:
        path = Path(url.database)
        to = f"sqlite:///{path.parent}/./{path.name}"
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(backup), "--to", to])
    assert result.exit_code == 0, result.output
    assert "本实例的审计检查点未作改动" not in result.output
    lines = Path(app.config["AUDIT_CHECKPOINT_PATH"]).read_text(encoding="utf-8").splitlines()
    assert '"type": "restore"' in lines[-2]  # then the seal of the restore's own audit row
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_acknowledge_restore_names_the_checkpoint_file_and_the_database_it_is_for(fresh_app, clock):
    """So an operator sees at once when the file is one instance's and the database
    another's (CORRECTIONS_DATABASE_URL changed for one command)."""
    clock.set(TEST_NOW)
    result = fresh_app.test_cli_runner().invoke(
        args=["audit", "acknowledge-restore", "--reason", "test"]
    )
    assert result.exit_code == 0, result.output
    assert f"记录于检查点文件 {fresh_app.config['AUDIT_CHECKPOINT_PATH']}" in result.output
    assert dialects.masked(fresh_app.config["DATABASE_URL"]) in result.output


def test_whether_two_urls_are_one_database_is_asked_of_the_servers(
    empty_database, other_database, tmp_path
):
    """Hostile review (issue 16): localhost for 127.0.0.1, a Unix socket, a symlinked folder
    were "another database", and a restore of the instance's own skipped its acknowledgement.
    When a server does not answer, a URL spelled otherwise is undecided (None)."""
    url = make_url(empty_database.url)
    same = dialects.same_database
    assert same(empty_database.url, other_database.url) is False
    if url.get_backend_name() == "postgresql":
        local = url.set(host="localhost").render_as_string(hide_password=False)
        assert same(empty_database.url, local) is True
        if Path("/var/run/postgresql").is_dir():
            socket = url.set(host=None, query={"host": "/var/run/postgresql"})
            assert same(empty_database.url, socket.render_as_string(hide_password=False)) is True
        dead = url.set(port=1).render_as_string(hide_password=False)
        assert same(dead, dead) is True  # unanswered, but written alike
        assert same(dead, local) is None
        return
    path = Path(url.database)
    path.touch()  # an empty file is an empty SQLite database
    link = tmp_path / "linked"
    link.symlink_to(path.parent, target_is_directory=True)
    assert same(empty_database.url, f"sqlite:///{link / path.name}") is True
    hard = tmp_path / "hard.db"
    os.link(path, hard)
    assert same(empty_database.url, f"sqlite:///{hard}") is True


def test_a_restore_that_cannot_tell_whose_database_it_is_asks_for_elsewhere(
    fresh_app, other_database, clock, tmp_path, monkeypatch
):
    """The instance's server does not answer and the target is spelled otherwise: nothing is
    restored until the operator says --elsewhere (then its checkpoints are left alone)."""
    if other_database.kind != "postgresql":
        pytest.skip("a SQLite file is always told apart by its path")
    clock.set(TEST_NOW)
    app = fresh_app
    backup = _city_with_a_backup(app, tmp_path)
    before = Path(app.config["AUDIT_CHECKPOINT_PATH"]).read_bytes()
    dead = make_url(app.config["DATABASE_URL"]).set(port=1)
    monkeypatch.setitem(app.config, "DATABASE_URL", dead.render_as_string(hide_password=False))
    args = ["backup", "restore", str(backup), "--to", other_database.url]
    refused = app.test_cli_runner().invoke(args=args)
    assert refused.exit_code == 1, refused.output
    assert "--elsewhere" in refused.output and "Traceback" not in refused.output
    with create_engine(other_database.url, poolclass=NullPool).connect() as conn:
        assert dialects.read_facts(conn).tables == {}  # nothing restored
    done = app.test_cli_runner().invoke(args=[*args, "--elsewhere"])
    assert done.exit_code == 0, done.output
    assert "本实例的审计检查点未作改动" in done.output
    assert Path(app.config["AUDIT_CHECKPOINT_PATH"]).read_bytes() == before
