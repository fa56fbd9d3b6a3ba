"""live alert streams: open streams counted per user (alert_streams); on PostgreSQL every
insert into alert_changes notifies channel alert_changes, which one listener per process
fans out to its open streams

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# One notification per statement (PostgreSQL folds identical ones of a transaction into one,
# delivered at commit): listeners fetch what is new themselves, so no payload is needed.
NOTIFY_FUNCTION = """
CREATE FUNCTION alert_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alert_changes', '');
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER alert_changes_notify AFTER INSERT ON alert_changes
FOR EACH STATEMENT EXECUTE FUNCTION alert_changes_notify()
"""


def upgrade():
    op.create_table('alert_streams',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('user_id', ID, nullable=False),
    sa.Column('token_id', sa.BigInteger(), nullable=True),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('opened_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seen_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_streams_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_streams'))
    )
    with op.batch_alter_table('alert_streams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_streams_holder'), ['holder'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_streams_user_id'), ['user_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS alert_changes_notify ON alert_changes')
        op.execute('DROP FUNCTION IF EXISTS alert_changes_notify()')
    with op.batch_alter_table('alert_streams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_streams_user_id'))
        batch_op.drop_index(batch_op.f('ix_alert_streams_holder'))
    op.drop_table('alert_streams')
