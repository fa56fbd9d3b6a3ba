"""sign-in limits counted atomically: login_counters holds one row per (username, address)
pair, per username and per address, each counted by a single upsert that refuses at the limit

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 15:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_counters',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('client_addr', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('window_start', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_success_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', 'client_addr', name=op.f('pk_login_counters'))
    )


def downgrade():
    op.drop_table('login_counters')
