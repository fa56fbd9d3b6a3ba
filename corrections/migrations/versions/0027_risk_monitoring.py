"""the risk model's monthly monitoring on the service's own outcomes (risk_monitoring): the
realised AUC, Brier and calibration of the scores whose 90-day window has closed, and the
population stability index of each feature and of the score (issue 19, point 5)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

UTC = corrections.core.types.UTCDateTime(timezone=True)


def upgrade():
    op.create_table('risk_monitoring',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('run_at', UTC, nullable=False),
    sa.Column('rules_version', sa.String(length=40), nullable=False),
    sa.Column('window_start', UTC, nullable=True),
    sa.Column('window_end', UTC, nullable=True),
    sa.Column('scores', sa.Integer(), nullable=False),
    sa.Column('positives', sa.Integer(), nullable=False),
    sa.Column('auc', sa.Float(), nullable=True),
    sa.Column('brier', sa.Float(), nullable=True),
    sa.Column('calibration_slope', sa.Float(), nullable=True),
    sa.Column('calibration_intercept', sa.Float(), nullable=True),
    sa.Column('calibration_bins', sa.JSON(), nullable=False),
    sa.Column('holdout_auc', sa.Float(), nullable=True),
    sa.Column('holdout_brier', sa.Float(), nullable=True),
    sa.Column('psi_at', UTC, nullable=True),
    sa.Column('reference_at', UTC, nullable=True),
    sa.Column('psi_score', sa.Float(), nullable=True),
    sa.Column('psi', sa.JSON(), nullable=False),
    sa.Column('reference', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('crossed', sa.JSON(), nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['model_version'], ['risk_models.version'], name=op.f('fk_risk_monitoring_model_version_risk_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_monitoring')),
    sa.UniqueConstraint('month', 'model_version', name=op.f('uq_risk_monitoring_month_model_version'))
    )


def downgrade():
    op.drop_table('risk_monitoring')
