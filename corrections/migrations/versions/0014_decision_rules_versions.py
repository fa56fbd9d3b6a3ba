"""rules version on every decision: monitoring periods, transfers, term ends and flags record
the versions of the rules files they were decided under (the sanction decisions, travel
permits, grade decisions and proposals already did)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 00:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

TABLES = ('monitoring_periods', 'person_transfers', 'term_ends', 'flags')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('rules_version', sa.String(length=100), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('rules_version')
