"""the sweep's work list index holds the kind: open obligations by (due_on, kind). Each of the
sweep's passes marks some kinds (interval, periodic, hour and once windows) and the index still
points at the rows the pass before it marked (until a vacuum): with the kind in the index the
other kinds are passed over there instead of visited in the table (issue 18: the sweep within
2x of hand-written SQL at 100,000 persons)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-09 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade():
    op.drop_index('ix_obligations_open_due', table_name='obligations')
    op.create_index(
        'ix_obligations_open_due', 'obligations', ['due_on', 'kind'], unique=False,
        postgresql_where=OPEN, sqlite_where=OPEN,
    )


def downgrade():
    op.drop_index('ix_obligations_open_due', table_name='obligations')
    op.create_index(
        'ix_obligations_open_due', 'obligations', ['due_on'], unique=False,
        postgresql_where=OPEN, sqlite_where=OPEN,
    )
