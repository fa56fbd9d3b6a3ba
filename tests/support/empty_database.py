"""An app on a database that was never migrated (no table at all): a new SQLite file, or a new
PostgreSQL database on the suite's server (``CORRECTIONS_TEST_DATABASE_URL``), dropped after."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from corrections import create_app
from corrections.core.db import db


@contextmanager
def app_on_empty_database(tmp_path: Path, **config) -> Iterator:
    """The app (``config`` added to its settings) on an empty database, removed afterwards."""
    server = os.environ.get("CORRECTIONS_TEST_DATABASE_URL")
    admin = name = None
    if server:
        name = f"corrections_empty_{secrets.token_hex(4)}"
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url, **config})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
