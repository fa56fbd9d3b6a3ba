"""an index of only the events the risk model's features count (issue 18, nightly scoring in
20 s): late reports, failed contacts, sanctions, address and job changes and monitor alarms,
by when they occurred. The nightly features read them for every active person within 180
days; without it they were found among all of those days' events (most of them reports in
time and successful checks, which count for nothing), a heap visit each. The predicate is the
features' own (corrections/supervision/models.py COUNTED_EVENTS; a test proves the features'
statement uses the index on PostgreSQL)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-09 13:00:00
"""
from alembic import op
from sqlalchemy import text

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

COUNTED_EVENTS = (
    "type = 'report' AND CAST((payload ->> 'late') AS BOOLEAN) IS true"
    " OR type IN ('phone_check', 'location_check')"
    " AND CAST((payload ->> 'success') AS BOOLEAN) IS false"
    " OR type = 'contact_attempt_failed' OR type = 'admonition' OR type = 'warning'"
    " OR type = 'police_penalty' OR type = 'address_change' OR type = 'job_change'"
    " OR type = 'monitor_alarm'"
)
# SQLite: ->> needs 3.38 or later (Ubuntu 22.04 has 3.37), json_extract any.
COUNTED_EVENTS_SQLITE = (
    "type = 'report' AND CAST(json_extract(payload, '$.late') AS BOOLEAN) IS true"
    " OR type IN ('phone_check', 'location_check')"
    " AND CAST(json_extract(payload, '$.success') AS BOOLEAN) IS false"
    " OR type = 'contact_attempt_failed' OR type = 'admonition' OR type = 'warning'"
    " OR type = 'police_penalty' OR type = 'address_change' OR type = 'job_change'"
    " OR type = 'monitor_alarm'"
)


def upgrade():
    # Not a batch: on SQLite a batch would rebuild the table and lose its claim triggers.
    op.create_index(
        'ix_supervision_events_counted',
        'supervision_events',
        ['occurred_at'],
        unique=False,
        postgresql_where=text(COUNTED_EVENTS),
        sqlite_where=text(COUNTED_EVENTS_SQLITE),
    )


def downgrade():
    op.drop_index('ix_supervision_events_counted', table_name='supervision_events')
