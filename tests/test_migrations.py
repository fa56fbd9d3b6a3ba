"""The Alembic migrations build exactly the schema the models describe (on this database)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from corrections.core.db import db


# SQLite cannot reflect an expression index: alembic leaves the PostgreSQL-only name index
# (ix_persons_name_bigrams, migration 0034) out of the comparison there, with this warning.
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index "
    "'ix_persons_name_bigrams'"
)
def test_migrations_match_models(app):
    # The session fixture built the schema with `upgrade()`, not create_all().
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.session.remove()
    assert diff == []


def test_single_migration_head(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    with app.app_context():
        directory = app.extensions["migrate"].directory
        config = Config()
        config.set_main_option("script_location", directory)
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1
