"""the alert change log without its foreign key to alerts: a change row is written only from
the RETURNING of the statement that raised, resolved or changed that alert (alerts are never
deleted), and its per-row check was an eighth of the obligation sweep's time at 100,000
persons (issue 18: the sweep within 2x of hand-written SQL); the index on alert_id stays

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-09 12:00:00
"""
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alert_changes', schema=None) as batch_op:
        batch_op.drop_constraint('fk_alert_changes_alert_id_alerts', type_='foreignkey')


def downgrade():
    with op.batch_alter_table('alert_changes', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_alert_changes_alert_id_alerts', 'alerts', ['alert_id'], ['id']
        )
