"""temporary execution outside prison: medical obligations; detention pause

The chained obligations now include the monthly health report and the three-monthly
re-examination of 暂予监外执行, and the summary due before the term ends: one open at a time,
like the grade's intervals. A person held by another authority (拘留, 强制隔离戒毒, 刑事强制措施)
has a detention record; obligations pause while it is open.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 23:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_OLD_ONE_OPEN = "status = 'open' AND kind IN ('report', 'check', 'visit')"
_NEW_ONE_OPEN = (
    "status = 'open' AND kind IN "
    "('report', 'check', 'visit', 'health_report', 'medical_reexam', 'term_summary')"
)


def _one_open(batch_op, predicate):
    batch_op.create_index(
        'uq_obligations_one_open',
        ['person_id', 'kind'],
        unique=True,
        postgresql_where=sa.text(predicate),
        sqlite_where=sa.text(predicate),
    )


def upgrade():
    op.create_table('detentions',
    sa.Column('id', _BIG, autoincrement=True, nullable=False),
    sa.Column('person_id', _BIG, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('authority', sa.String(length=100), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', _BIG, nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.String(length=64), nullable=True),
    sa.Column('released_at', corrections.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('release_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_detentions_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_detentions'))
    )
    with op.batch_alter_table('detentions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_detentions_person_id'), ['person_id'], unique=False)
        batch_op.create_index(
            'uq_detentions_open_person',
            ['person_id'],
            unique=True,
            postgresql_where=sa.text('end_date IS NULL'),
            sqlite_where=sa.text('end_date IS NULL'),
        )
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_index('uq_obligations_one_open')
        _one_open(batch_op, _NEW_ONE_OPEN)


def downgrade():
    # The code before this revision knows no such kinds (it could not show them).
    op.execute(
        "DELETE FROM obligations WHERE kind IN ('health_report', 'medical_reexam', 'term_summary')"
    )
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_index('uq_obligations_one_open')
        _one_open(batch_op, _OLD_ONE_OPEN)
    with op.batch_alter_table('detentions', schema=None) as batch_op:
        batch_op.drop_index('uq_detentions_open_person')
        batch_op.drop_index(batch_op.f('ix_detentions_person_id'))
    op.drop_table('detentions')
