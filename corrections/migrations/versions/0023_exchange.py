"""inter-agency exchange (信息共享、抄送通报): partner agencies (agencies), the transactional
outbox of CloudEvents messages to them (outbox_messages, the envelope encrypted at rest), their
receipts (exchange_receipts, 回执), and a partner account's agency (users.agency_id)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.crypto
import corrections.core.types

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = corrections.core.types.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('agencies',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('unit_id', ID, nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_agencies_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
    sa.UniqueConstraint('code', name=op.f('uq_agencies_code'))
    )
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agencies_unit_id'), ['unit_id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('agency_id', ID, nullable=True),
    sa.Column('receiver_kind', sa.String(length=16), nullable=False),
    sa.Column('district_id', ID, nullable=True),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=True),
    sa.Column('person_id', ID, nullable=True),
    sa.Column('juvenile', sa.Boolean(), nullable=False),
    sa.Column('envelope', corrections.core.crypto.EncryptedString('outbox_messages.envelope'), nullable=False),
    sa.Column('document_hash', sa.String(length=71), nullable=True),
    sa.Column('article', sa.String(length=200), nullable=True),
    sa.Column('rules_version', sa.String(length=80), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTC, nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('published_at', UTC, nullable=True),
    sa.Column('acknowledged_at', UTC, nullable=True),
    sa.Column('overdue_alerted_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_outbox_messages_agency_id_agencies')),
    sa.ForeignKeyConstraint(['district_id'], ['units.id'], name=op.f('fk_outbox_messages_district_id_units')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_outbox_messages_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_messages_event_id'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_agency_id_id', ['agency_id', 'id'], unique=False)
        batch_op.create_index('ix_outbox_messages_state_id', ['state', 'id'], unique=False)
        batch_op.create_index('ix_outbox_messages_person_id', ['person_id'], unique=False)

    op.create_table('exchange_receipts',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('message_id', ID, nullable=False),
    sa.Column('agency_id', ID, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_at', UTC, nullable=False),
    sa.Column('received_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_exchange_receipts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_exchange_receipts_message_id_outbox_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_receipts')),
    sa.UniqueConstraint('message_id', name=op.f('uq_exchange_receipts_message_id'))
    )
    with op.batch_alter_table('exchange_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_receipts_agency_id'), ['agency_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_id', ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_users_agency_id_agencies'), 'agencies', ['agency_id'], ['id'])


def downgrade():
    # Partner accounts have no meaning without their agencies, and their trail refers to them:
    # a downgrade with any is refused rather than deleting or re-roling an account.
    if op.get_bind().execute(sa.text("SELECT 1 FROM users WHERE role = 'partner' LIMIT 1")).first():
        raise RuntimeError("partner accounts exist: the exchange cannot be downgraded away")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_agency_id_agencies'), type_='foreignkey')
        batch_op.drop_column('agency_id')
    with op.batch_alter_table('exchange_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_receipts_agency_id'))
    op.drop_table('exchange_receipts')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_person_id')
        batch_op.drop_index('ix_outbox_messages_state_id')
        batch_op.drop_index('ix_outbox_messages_agency_id_id')
    op.drop_table('outbox_messages')
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agencies_unit_id'))
    op.drop_table('agencies')
