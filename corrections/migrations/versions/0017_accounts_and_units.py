"""accounts and units for a real bureau: units can be inactive and carry a version (If-Match);
office moves are recorded (unit_moves); users carry a version and when their password last
changed; one-time password reset codes, stored hashed

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 02:30:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('updated_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_changed_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))

    op.create_table('unit_moves',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('unit_id', ID, nullable=False),
    sa.Column('from_parent_id', ID, nullable=False),
    sa.Column('to_parent_id', ID, nullable=False),
    sa.Column('moved_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('moved_by', sa.String(length=64), nullable=False),
    sa.Column('persons_moved', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_moves_unit_id_units')),
    sa.ForeignKeyConstraint(['from_parent_id'], ['units.id'], name=op.f('fk_unit_moves_from_parent_id_units')),
    sa.ForeignKeyConstraint(['to_parent_id'], ['units.id'], name=op.f('fk_unit_moves_to_parent_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_moves'))
    )
    with op.batch_alter_table('unit_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_moves_unit_id'), ['unit_id'], unique=False)

    op.create_table('password_reset_codes',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('user_id', ID, nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=64), nullable=False),
    sa.Column('used_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_reset_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_password_reset_codes_code_hash'))
    )
    with op.batch_alter_table('password_reset_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_reset_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('password_reset_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_reset_codes_user_id'))

    op.drop_table('password_reset_codes')
    with op.batch_alter_table('unit_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_moves_unit_id'))

    op.drop_table('unit_moves')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('password_changed_at')

    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('version')
        batch_op.drop_column('active')
