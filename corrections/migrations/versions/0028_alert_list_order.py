"""the alert list from an index: alerts carry their severity's rank and their person's office
and district (alerts.severity_rank, office_id, district_id), indexed in the list's order per
scope (issue 18: a district's page at a million alerts)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
LIVE = "status IN ('open', 'acknowledged')"
ESCALATED = "escalation_level >= 1"


def upgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('severity_rank', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('office_id', ID, nullable=True))
        batch_op.add_column(sa.Column('district_id', ID, nullable=True))
    # rules.SEVERITY_RANK as it stands at this revision
    op.execute(
        "UPDATE alerts SET severity_rank = CASE severity WHEN 'critical' THEN 0 "
        "WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "UPDATE alerts SET office_id = p.office_id, district_id = p.district_id "
            "FROM persons p WHERE p.id = alerts.person_id"
        )
    else:
        op.execute(
            "UPDATE alerts SET "
            "office_id = (SELECT office_id FROM persons WHERE persons.id = alerts.person_id), "
            "district_id = (SELECT district_id FROM persons WHERE persons.id = alerts.person_id) "
            "WHERE person_id IS NOT NULL"
        )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('severity_rank', existing_type=sa.SmallInteger(), nullable=False)
        # (office_id, district_id: copies of the person's, without foreign keys of their own)
        for scope in ('district', 'office'):
            columns = [f'{scope}_id', 'severity_rank', 'raised_at', 'id']
            batch_op.create_index(f'ix_alerts_{scope}_order', columns, unique=False)
        batch_op.create_index(
            'ix_alerts_district_order_live',
            ['district_id', 'severity_rank', 'raised_at', 'id'], unique=False,
            postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE),
        )
        batch_op.create_index(
            'ix_alerts_escalated_order', ['severity_rank', 'raised_at', 'id'], unique=False,
            postgresql_where=sa.text(ESCALATED), sqlite_where=sa.text(ESCALATED),
        )
    # (outside the batch: SQLite's batch mode takes column names only, not DESC)
    op.create_index(
        'ix_alerts_district_newest_live', 'alerts',
        ['district_id', 'severity_rank', sa.text('raised_at DESC'), sa.text('id DESC')],
        unique=False, postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE),
    )


def downgrade():
    op.drop_index('ix_alerts_district_newest_live', table_name='alerts')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_escalated_order')
        batch_op.drop_index('ix_alerts_district_order_live')
        for scope in ('office', 'district'):
            batch_op.drop_index(f'ix_alerts_{scope}_order')
        batch_op.drop_column('district_id')
        batch_op.drop_column('office_id')
        batch_op.drop_column('severity_rank')
