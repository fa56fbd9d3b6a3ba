"""Fixtures for the backup tests: an empty database of the suite's kind (a SQLite file, or a
new PostgreSQL database on the test server, dropped afterwards) and an app of its own on it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from corrections import create_app
from corrections.core.db import db
from tests.conftest import DEMO_PASSWORD


def _server_url() -> str | None:
    return os.environ.get("CORRECTIONS_TEST_DATABASE_URL")


class Database:
    """A database the test may drop and create again: ``drop()`` leaves nothing behind,
    ``create()`` makes it anew, empty."""

    def __init__(self, url: str, server: str | None):
        self.url, self.server = url, server

    @property
    def kind(self) -> str:
        return "postgresql" if self.server else "sqlite"

    def _admin(self, sql: str) -> None:
        engine = create_engine(self.server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    def create(self) -> None:
        if self.server:
            self._admin(f'CREATE DATABASE "{make_url(self.url).database}"')

    def drop(self) -> None:
        if self.server:
            self._admin(f'DROP DATABASE IF EXISTS "{make_url(self.url).database}" WITH (FORCE)')
            return
        path = make_url(self.url).database
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)


@pytest.fixture
def empty_database(tmp_path) -> Iterator[Database]:
    server = _server_url()
    if server:
        name = f"corrections_bk_{secrets.token_hex(4)}"
        database = Database(make_url(server).set(database=name).render_as_string(False), server)
    else:
        database = Database(f"sqlite:///{tmp_path / 'city.db'}", None)
    database.create()
    yield database
    database.drop()


@pytest.fixture
def fresh_app(empty_database, clock, tmp_path):
    """An app of its own on the empty database, migrated; its instance folder (keyring,
    audit checkpoints) and backup folder under ``tmp_path``."""
    from flask_migrate import upgrade

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": empty_database.url,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "CLOCK": clock,
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_KIB": 8,
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "AUDIT_SEAL_INTERVAL_SECONDS": 0,
            "BACKUP_DIR": str(tmp_path / "backups"),
        }
    )
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
