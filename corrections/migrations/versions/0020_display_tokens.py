"""wall displays (大屏): device tokens with read-only scope for one district, no expiry,
revocable and listed (display_tokens, only the secret's SHA-256 stored); an open live stream
belongs to a user or to a display (alert_streams.display_id, user_id nullable)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('display_tokens',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit_id', ID, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('last_used_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_display_tokens_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_display_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_display_tokens_token_hash'))
    )
    with op.batch_alter_table('display_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_display_tokens_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('alert_streams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_id', ID, nullable=True))
        batch_op.alter_column('user_id', existing_type=ID, nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_alert_streams_display_id_display_tokens'), 'display_tokens', ['display_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_alert_streams_display_id'), ['display_id'], unique=False)


def downgrade():
    # Open streams are rows of the moment (their processes renew them): the displays' go.
    op.execute("DELETE FROM alert_streams WHERE user_id IS NULL")
    with op.batch_alter_table('alert_streams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_streams_display_id'))
        batch_op.drop_constraint(batch_op.f('fk_alert_streams_display_id_display_tokens'), type_='foreignkey')
        batch_op.alter_column('user_id', existing_type=ID, nullable=False)
        batch_op.drop_column('display_id')

    with op.batch_alter_table('display_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_display_tokens_unit_id'))

    op.drop_table('display_tokens')
