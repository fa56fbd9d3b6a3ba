"""juvenile record sealing: the sealed flag on persons, the seals, the unseal requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 23:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('person_seals',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('person_id', ID, nullable=False),
    sa.Column('ground', sa.String(length=20), nullable=False),
    sa.Column('sealed_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sealed_by_id', ID, nullable=True),
    sa.Column('sealed_by', sa.String(length=64), nullable=False),
    sa.Column('rules_version', sa.String(length=40), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_person_seals_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_seals')),
    sa.UniqueConstraint('person_id', name=op.f('uq_person_seals_person_id'))
    )

    op.create_table('unseal_requests',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('person_id', ID, nullable=False),
    sa.Column('legal_basis', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', ID, nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', ID, nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('expires_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rules_version', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_unseal_requests_person_id_persons')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_unseal_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unseal_requests'))
    )
    with op.batch_alter_table('unseal_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unseal_requests_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unseal_requests_requested_by_id'), ['requested_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unseal_requests_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('unseal_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unseal_requests_status'))
        batch_op.drop_index(batch_op.f('ix_unseal_requests_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_unseal_requests_person_id'))

    op.drop_table('unseal_requests')
    op.drop_table('person_seals')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('sealed')
