"""sanction proposals a judicial office makes (经司法所调查核实): who proposed one
(incident_proposals.proposed_by; NULL: the rules, the nightly job or an episode's close)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('incident_proposals') as batch:
        batch.add_column(sa.Column('proposed_by', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('incident_proposals') as batch:
        batch.drop_column('proposed_by')
