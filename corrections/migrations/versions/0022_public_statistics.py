"""矫务公开: the complaints register (complaints: received and answered by a district; staff
only) and the cache of the published monthly figures (public_statistics: one row per month,
district or city, and metric; the value NULL when withheld)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('complaints',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('district_id', ID, nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('answer_note', sa.Text(), nullable=True),
    sa.Column('answered_by', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['units.id'], name=op.f('fk_complaints_district_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_district_received', ['district_id', 'received_on'], unique=False)
        batch_op.create_index('ix_complaints_district_answered', ['district_id', 'answered_on'], unique=False)

    op.create_table('public_statistics',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('district_id', ID, nullable=True),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Integer(), nullable=True),
    sa.Column('display', sa.String(length=16), nullable=False),
    sa.Column('suppressed', sa.String(length=16), nullable=True),
    sa.Column('rules_version', sa.String(length=80), nullable=False),
    sa.Column('computed_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['units.id'], name=op.f('fk_public_statistics_district_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_statistics'))
    )
    with op.batch_alter_table('public_statistics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_statistics_period'), ['period'], unique=False)


def downgrade():
    with op.batch_alter_table('public_statistics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_statistics_period'))

    op.drop_table('public_statistics')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_district_answered')
        batch_op.drop_index('ix_complaints_district_received')

    op.drop_table('complaints')
