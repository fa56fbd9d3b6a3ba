"""system alerts: an alert without a person (a backup or its drill failed), for the city and
the administrators; one live alert per (kind, subject) of those, by a partial unique index of
their own (NULL person ids are distinct in the index of the persons' alerts)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
SYSTEM_LIVE = "person_id IS NULL AND status IN ('open', 'acknowledged')"


def upgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('person_id', existing_type=ID, nullable=True)
        batch_op.create_index('uq_alerts_live_system_cause', ['kind', 'subject_type', 'subject_id'], unique=True, postgresql_where=sa.text(SYSTEM_LIVE), sqlite_where=sa.text(SYSTEM_LIVE))

    with op.batch_alter_table('alert_changes', schema=None) as batch_op:
        batch_op.alter_column('person_id', existing_type=sa.BigInteger(), nullable=True)


def downgrade():
    # The system's alerts have no person to keep them under: they go, with their changes.
    op.execute("DELETE FROM alert_changes WHERE person_id IS NULL OR alert_id IN (SELECT id FROM alerts WHERE person_id IS NULL)")
    op.execute("DELETE FROM alerts WHERE person_id IS NULL")
    with op.batch_alter_table('alert_changes', schema=None) as batch_op:
        batch_op.alter_column('person_id', existing_type=sa.BigInteger(), nullable=False)

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_live_system_cause', postgresql_where=sa.text(SYSTEM_LIVE), sqlite_where=sa.text(SYSTEM_LIVE))
        batch_op.alter_column('person_id', existing_type=ID, nullable=False)
