"""Shared fixtures: an app on SQLite (default) or PostgreSQL, a frozen clock, a demo city.

Set ``CORRECTIONS_TEST_DATABASE_URL`` to run the suite against PostgreSQL. The schema is built
by the Alembic migrations (not ``create_all``), once per session; every test starts from
emptied tables and a freshly seeded small city.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from corrections import create_app
from corrections.core.clock import FrozenClock
from corrections.core.db import db
from tests.factories import person_payload

# Every log line of the run is scanned for personal data (tests/log_scan.py).
pytest_plugins = ["tests.log_scan"]

# Commands print in Chinese unless the operator's locale asks for English (core/i18n.py,
# cli_locale): the suite checks that default whatever LANG the machine running it has.
os.environ["CORRECTIONS_LANG"] = "zh"

TEST_NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
DEMO_PASSWORD = "test-password-123"


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("CORRECTIONS_TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def clock() -> FrozenClock:
    return FrozenClock(TEST_NOW)


@pytest.fixture(scope="session")
def app(database_url, clock, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    if database_url.startswith("postgresql"):
        # An earlier run that stopped half-way may have left records written under its own
        # keyring, which this run's new keyring would be refused for (corrections/__init__.py
        # _check_keyring): start from an empty schema.
        from sqlalchemy import create_engine

        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "CLOCK": clock,
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_KIB": 8,
            "DEMO_PASSWORD": DEMO_PASSWORD,
            # Seal after every request, so tests can look at the chain right away.
            "AUDIT_SEAL_INTERVAL_SECONDS": 0,
            # The demo's Dongcheng commander heads that district's justice bureau (Art. 29).
            "DISTRICT_HEADS": ["commander-dongcheng"],
        }
    )
    with app.app_context():
        from flask_migrate import downgrade, upgrade

        _drop_everything()
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        if "CORRECTIONS_TEST_DATABASE_URL" in os.environ:
            downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()


def _drop_everything() -> None:
    """Leave no tables from an earlier run, so the migrations build the whole schema."""
    engine = db.engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            db.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _truncate_all() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            if _has_sqlite_sequence(conn):
                conn.execute(text("DELETE FROM sqlite_sequence"))


def _has_sqlite_sequence(conn) -> bool:
    return (
        conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first()
        is not None
    )


@pytest.fixture(scope="session")
def _city_snapshot(app):
    """Build the demo units and accounts once; later tests copy the rows back in."""
    from corrections.demo.generator import build_units_and_users
    from corrections.org.models import Unit, User

    with app.app_context():
        _truncate_all()
        accounts = build_units_and_users(db.session, password=DEMO_PASSWORD)
        db.session.commit()
        units = [dict(r._mapping) for r in db.session.execute(Unit.__table__.select())]
        users = [dict(r._mapping) for r in db.session.execute(User.__table__.select())]
        db.session.remove()
    return accounts, units, users


@pytest.fixture
def city(app, _city_snapshot, clock):
    """A clean database holding the demo city's units and accounts; the clock reset."""
    from corrections.org.models import Unit, User

    accounts, units, users = _city_snapshot
    clock.set(TEST_NOW)
    # The audit checkpoints live outside the database: a new trail starts a new file.
    Path(app.config["AUDIT_CHECKPOINT_PATH"]).unlink(missing_ok=True)
    with app.app_context():
        _truncate_all()
        with db.engine.begin() as conn:
            # Parents before children: insert in id order.
            conn.execute(Unit.__table__.insert(), sorted(units, key=lambda u: u["id"]))
            conn.execute(User.__table__.insert(), users)
            if db.engine.dialect.name == "postgresql":
                for table in ("units", "users"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT MAX(id) FROM {table}))"
                        )
                    )
        db.session.remove()
    return accounts


@pytest.fixture
def client(app, city):
    return app.test_client()


@pytest.fixture
def runner(app, city):
    return app.test_cli_runner()


class Api:
    """A signed-in test client: ``api.get(path)`` with the user's bearer token."""

    def __init__(self, client, token: str, username: str):
        self.client, self.token, self.username = client, token, username

    def _headers(self, extra):
        headers = {"Authorization": f"Bearer {self.token}"}
        headers.update(extra or {})
        return headers

    def get(self, path, headers=None, **kw):
        return self.client.get(path, headers=self._headers(headers), **kw)

    def post(self, path, headers=None, **kw):
        return self.client.post(path, headers=self._headers(headers), **kw)

    def patch(self, path, headers=None, **kw):
        return self.client.patch(path, headers=self._headers(headers), **kw)

    def delete(self, path, headers=None, **kw):
        return self.client.delete(path, headers=self._headers(headers), **kw)


@pytest.fixture
def login(client):
    def _login(username: str) -> Api:
        resp = client.post(
            "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert resp.status_code == 201, resp.get_json()
        return Api(client, resp.get_json()["access_token"], username)

    return _login


@pytest.fixture
def officer(login) -> Api:
    """Officer of office 32990101 (东城区城关司法所), district 329901."""
    return login("officer-dongcheng-1")


@pytest.fixture
def intake(login):
    """Register a person through the API as the given user; returns the JSON body."""

    def _intake(api: Api | None = None, **overrides):
        api = api or login("officer-dongcheng-1")
        resp = api.post("/api/v1/persons", json=person_payload(**overrides))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    return _intake


@pytest.fixture
def active(officer):
    """An activated (reported for intake) person of officer-dongcheng-1, grade tight."""

    def _active(api=None, **overrides):
        api = api or officer
        resp = api.post("/api/v1/persons", json=person_payload(**overrides))
        assert resp.status_code == 201, resp.get_json()
        person = resp.get_json()
        done = api.post(
            f"/api/v1/persons/{person['id']}/status-changes",
            json={"to_status": "active", "reason": "按期报到"},
        )
        assert done.status_code == 201, done.get_json()
        return person

    return _active


def count_rows(app, model) -> int:
    from sqlalchemy import func, select

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
        return n


@pytest.fixture
def run_job(app, clock):
    """Run one scheduled job as scheduler ``holder`` (at ``at`` if given); returns its run."""
    from datetime import timedelta

    from corrections.scheduler import service

    def _run(name: str, at: datetime | None = None, holder: str = "test-scheduler"):
        if at is not None:
            clock.set(at)
        with app.app_context():
            run = service.run_job(db.session, name, holder=holder, lease_ttl=timedelta(seconds=90))
            view = service.run_view(run)
            db.session.remove()
        return view

    return _run
