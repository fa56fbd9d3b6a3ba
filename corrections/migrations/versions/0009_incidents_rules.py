"""incidents rules: out-of-supervision time, proposals with article, rules version, ground and
the person's statement; proposals without an episode (the sanction ladder)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BASIS = "basis IS NOT NULL"


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('out_of_supervision_since', corrections.core.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('incident_proposals', schema=None) as batch_op:
        batch_op.alter_column('incident_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
        batch_op.add_column(sa.Column('article', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('rules_version', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('basis', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('statement', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('statement_not_taken_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decision_rules_version', sa.String(length=80), nullable=True))
        batch_op.create_index('uq_incident_proposals_person_basis', ['person_id', 'basis'], unique=True, postgresql_where=sa.text(BASIS), sqlite_where=sa.text(BASIS))


def downgrade():
    op.execute("DELETE FROM incident_proposals WHERE incident_id IS NULL")
    with op.batch_alter_table('incident_proposals', schema=None) as batch_op:
        batch_op.drop_index('uq_incident_proposals_person_basis', postgresql_where=sa.text(BASIS), sqlite_where=sa.text(BASIS))
        batch_op.drop_column('decision_rules_version')
        batch_op.drop_column('statement_not_taken_reason')
        batch_op.drop_column('statement')
        batch_op.drop_column('basis')
        batch_op.drop_column('rules_version')
        batch_op.drop_column('article')
        batch_op.alter_column('incident_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False)

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('out_of_supervision_since')
