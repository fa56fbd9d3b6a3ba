"""a court's ruling on an accepted revocation / return-to-custody proposal, as its notice came
in through the exchange (incident_proposals.court_*); the number of the document an accepted
proposal went to the court with (incident_proposals.decision_document_number)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

UTC = corrections.core.types.UTCDateTime(timezone=True)


def upgrade():
    with op.batch_alter_table('incident_proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_document_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('court_ruling', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('court_ruled_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('court_document_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('court_recorded_at', UTC, nullable=True))


def downgrade():
    with op.batch_alter_table('incident_proposals', schema=None) as batch_op:
        batch_op.drop_column('court_recorded_at')
        batch_op.drop_column('court_document_number')
        batch_op.drop_column('court_ruled_on')
        batch_op.drop_column('court_ruling')
        batch_op.drop_column('decision_document_number')
