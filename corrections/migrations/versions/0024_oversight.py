"""procuratorate oversight (检察监督): a procuratorate's 纠正意见 and 检察建议 to the bureau with
their reply deadline and the written reply (oversight_opinions)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = corrections.core.types.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('oversight_opinions',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('agency_id', ID, nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('received_at', UTC, nullable=False),
    sa.Column('district_id', ID, nullable=False),
    sa.Column('office_id', ID, nullable=True),
    sa.Column('person_id', ID, nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('reply_due_on', sa.Date(), nullable=False),
    sa.Column('article', sa.String(length=200), nullable=False),
    sa.Column('rules_version', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_by', sa.String(length=64), nullable=True),
    sa.Column('replied_at', UTC, nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('overdue_alerted_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_oversight_opinions_agency_id_agencies')),
    sa.ForeignKeyConstraint(['district_id'], ['units.id'], name=op.f('fk_oversight_opinions_district_id_units')),
    sa.ForeignKeyConstraint(['office_id'], ['units.id'], name=op.f('fk_oversight_opinions_office_id_units')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_oversight_opinions_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_opinions')),
    sa.UniqueConstraint('agency_id', 'document_number', name=op.f('uq_oversight_opinions_agency_id_document_number'))
    )
    with op.batch_alter_table('oversight_opinions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oversight_opinions_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oversight_opinions_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oversight_opinions_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_oversight_opinions_status_received', ['status', 'received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('oversight_opinions', schema=None) as batch_op:
        batch_op.drop_index('ix_oversight_opinions_status_received')
        batch_op.drop_index(batch_op.f('ix_oversight_opinions_person_id'))
        batch_op.drop_index(batch_op.f('ix_oversight_opinions_district_id'))
        batch_op.drop_index(batch_op.f('ix_oversight_opinions_agency_id'))

    op.drop_table('oversight_opinions')
