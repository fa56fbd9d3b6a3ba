"""travel and supervision decisions: the travel decision's conditions, reasons and rules
version on the permit; article, rules version and procuratorate copy on sanction decisions; the
grounding document of a termination and of a transfer

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('travel_permits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conditions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('decision_reasons', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('rules_version', sa.String(length=100), nullable=True))
    with op.batch_alter_table('sanction_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('article', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('rules_version', sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                'notify_procuratorate', sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table('term_ends', schema=None) as batch_op:
        batch_op.add_column(sa.Column('document_number', sa.String(length=64), nullable=True))
    with op.batch_alter_table('person_transfers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('document_number', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('person_transfers', schema=None) as batch_op:
        batch_op.drop_column('document_number')
    with op.batch_alter_table('term_ends', schema=None) as batch_op:
        batch_op.drop_column('document_number')
    with op.batch_alter_table('sanction_decisions', schema=None) as batch_op:
        batch_op.drop_column('notify_procuratorate')
        batch_op.drop_column('rules_version')
        batch_op.drop_column('article')
    with op.batch_alter_table('travel_permits', schema=None) as batch_op:
        batch_op.drop_column('rules_version')
        batch_op.drop_column('decision_reasons')
        batch_op.drop_column('conditions')
