"""intake and discharge procedures: announcements (入矫/解矫宣告), the correction team (矫正小组,
member names and phones encrypted), correction plans (矫正方案) with versions and review marks,
the investigation assessment (调查评估) and the exit ban (不准出境) with its lifting

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 23:00:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types  # noqa: F401  (UTCDateTime)

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
CURRENT_PLAN = "status = 'current'"


def _utc():
    return corrections.core.types.UTCDateTime(timezone=True)


def _id():
    return sa.Column('id', BIGID, autoincrement=True, nullable=False)


def _person(table):
    return [
        sa.Column('person_id', BIGID, nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f(f'fk_{table}_person_id_persons')),
    ]


def upgrade():
    op.create_table('procedure_announcements',
    _id(),
    *_person('procedure_announcements'),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('held_at', _utc(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('presided_by', sa.String(length=100), nullable=False),
    sa.Column('attendees', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', BIGID, nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', _utc(), nullable=False),
    sa.Column('updated_at', _utc(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procedure_announcements'))
    )
    with op.batch_alter_table('procedure_announcements', schema=None) as batch_op:
        batch_op.create_index('uq_procedure_announcements_person_kind', ['person_id', 'kind'], unique=True)

    op.create_table('correction_team_members',
    _id(),
    *_person('correction_team_members'),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('gender', sa.String(length=8), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('added_at', _utc(), nullable=False),
    sa.Column('updated_at', _utc(), nullable=False),
    sa.Column('removed_at', _utc(), nullable=True),
    sa.Column('removed_by', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction_team_members'))
    )
    with op.batch_alter_table('correction_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correction_team_members_person_id'), ['person_id'], unique=False)

    op.create_table('correction_plans',
    _id(),
    *_person('correction_plans'),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('needs', sa.Text(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=True),
    sa.Column('next_review_on', sa.Date(), nullable=False),
    sa.Column('review_due_kind', sa.String(length=24), nullable=True),
    sa.Column('review_due_since', _utc(), nullable=True),
    sa.Column('review_due_inputs', sa.JSON(), nullable=True),
    sa.Column('created_by_id', BIGID, nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', _utc(), nullable=False),
    sa.Column('superseded_at', _utc(), nullable=True),
    sa.Column('superseded_by_id', BIGID, nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['correction_plans.id'], name=op.f('fk_correction_plans_superseded_by_id_correction_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction_plans'))
    )
    with op.batch_alter_table('correction_plans', schema=None) as batch_op:
        batch_op.create_index('uq_correction_plans_person_number', ['person_id', 'number'], unique=True)
        batch_op.create_index('uq_correction_plans_current', ['person_id'], unique=True, postgresql_where=sa.text(CURRENT_PLAN), sqlite_where=sa.text(CURRENT_PLAN))

    op.create_table('investigation_assessments',
    _id(),
    *_person('investigation_assessments'),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requesting_document', sa.String(length=64), nullable=False),
    sa.Column('requested_on', sa.Date(), nullable=True),
    sa.Column('conclusion', sa.String(length=16), nullable=True),
    sa.Column('finished_on', sa.Date(), nullable=True),
    sa.Column('submitted_to', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', _utc(), nullable=False),
    sa.Column('updated_at', _utc(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigation_assessments')),
    sa.UniqueConstraint('person_id', name=op.f('uq_investigation_assessments_person_id'))
    )

    op.create_table('exit_bans',
    _id(),
    *_person('exit_bans'),
    sa.Column('filed_on', sa.Date(), nullable=False),
    sa.Column('filed_with', sa.String(length=200), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', _utc(), nullable=False),
    sa.Column('lift_due_kind', sa.String(length=24), nullable=True),
    sa.Column('lift_due_since', _utc(), nullable=True),
    sa.Column('lifted_on', sa.Date(), nullable=True),
    sa.Column('lift_document_number', sa.String(length=64), nullable=True),
    sa.Column('lifted_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', _utc(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exit_bans')),
    sa.UniqueConstraint('person_id', name=op.f('uq_exit_bans_person_id'))
    )


def downgrade():
    op.drop_table('exit_bans')
    op.drop_table('investigation_assessments')
    with op.batch_alter_table('correction_plans', schema=None) as batch_op:
        batch_op.drop_index('uq_correction_plans_current', postgresql_where=sa.text(CURRENT_PLAN), sqlite_where=sa.text(CURRENT_PLAN))
        batch_op.drop_index('uq_correction_plans_person_number')
    op.drop_table('correction_plans')
    with op.batch_alter_table('correction_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correction_team_members_person_id'))
    op.drop_table('correction_team_members')
    with op.batch_alter_table('procedure_announcements', schema=None) as batch_op:
        batch_op.drop_index('uq_procedure_announcements_person_kind')
    op.drop_table('procedure_announcements')
