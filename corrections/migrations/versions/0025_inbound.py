"""documents partner agencies send in (inbound_messages): a court's judgment notice, a police
notice of detention; once per sender's message id

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = corrections.core.types.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('inbound_messages',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('agency_id', ID, nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('sent_at', UTC, nullable=True),
    sa.Column('received_at', UTC, nullable=False),
    sa.Column('received_by', sa.String(length=64), nullable=False),
    sa.Column('person_id', ID, nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_inbound_messages_agency_id_agencies')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_inbound_messages_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('agency_id', 'event_id', name=op.f('uq_inbound_messages_agency_id_event_id'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_person_id'), ['person_id'], unique=False)


def downgrade():
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_person_id'))
    op.drop_table('inbound_messages')
