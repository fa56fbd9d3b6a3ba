"""keyed audit chain: HMAC key id, seal time, client request id, batched subjects

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 20:00:00

The chain was SHA-256 without a key, which anyone with write access to the database could
recompute. From here on it is an HMAC under a key outside the database. Rows sealed under the
old scheme are first verified under it (a broken old chain stops the upgrade: it must be
looked into, not laundered), then unsealed, so the next seal chains them under the key.
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types  # noqa: F401


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_ids', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('client_request_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('sealed_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True))

    from corrections.audit.legacy import rechain_legacy

    rechain_legacy(op.get_bind())


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('sealed_at')
        batch_op.drop_column('key_id')
        batch_op.drop_column('client_request_id')
        batch_op.drop_column('subject_ids')
