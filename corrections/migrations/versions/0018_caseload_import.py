"""caseload import: one row per stored import (the file's sha256, counts, who) and one per file
row that created a person, so a re-run of the same file is recognised and changes nothing

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 02:30:00
"""
from alembic import op
import sqlalchemy as sa

import corrections.core.types

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('caseload_imports',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_format', sa.String(length=8), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('actor_id', ID, nullable=True),
    sa.Column('actor_username', sa.String(length=64), nullable=False),
    sa.Column('imported_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caseload_imports'))
    )
    with op.batch_alter_table('caseload_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caseload_imports_file_sha256'), ['file_sha256'], unique=False)

    op.create_table('caseload_import_rows',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('import_id', ID, nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('person_id', ID, nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['caseload_imports.id'], name=op.f('fk_caseload_import_rows_import_id_caseload_imports')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_caseload_import_rows_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caseload_import_rows')),
    sa.UniqueConstraint('file_sha256', 'row_number', name=op.f('uq_caseload_import_rows_file_sha256_row_number')),
    sa.UniqueConstraint('person_id', name=op.f('uq_caseload_import_rows_person_id'))
    )
    with op.batch_alter_table('caseload_import_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caseload_import_rows_import_id'), ['import_id'], unique=False)


def downgrade():
    with op.batch_alter_table('caseload_import_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caseload_import_rows_import_id'))

    op.drop_table('caseload_import_rows')
    with op.batch_alter_table('caseload_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caseload_imports_file_sha256'))

    op.drop_table('caseload_imports')
