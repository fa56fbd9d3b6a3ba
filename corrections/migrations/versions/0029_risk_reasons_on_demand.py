"""a low risk score's reasons are computed when the person is opened, not at night
(risk_scores.reasons nullable: None, not computed; issue 18, nightly scoring in 20 s)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('risk_scores', schema=None) as batch_op:
        batch_op.alter_column('reasons', existing_type=sa.JSON(), nullable=True)


def downgrade():
    op.execute("UPDATE risk_scores SET reasons = '[]' WHERE reasons IS NULL")
    with op.batch_alter_table('risk_scores', schema=None) as batch_op:
        batch_op.alter_column('reasons', existing_type=sa.JSON(), nullable=False)
