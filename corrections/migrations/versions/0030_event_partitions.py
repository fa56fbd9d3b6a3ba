"""the event log partitioned by month of recording on PostgreSQL (issue 18, province scale);
its unique keys as claims in two small tables, written by a trigger on the event insert

PostgreSQL: supervision_events becomes a table partitioned by range of recorded_at (one
partition per Asia/Shanghai month, in the schema event_partitions, plus a default partition),
primary key (id, recorded_at). A unique index of a partitioned table must hold the partition
key, so (recorded_by_id, idempotency_key) and "one correction per event" could only be unique
within a month: they become the primary keys of supervision_event_keys and
supervision_event_corrections, which a trigger on the event insert fills in the insert's own
statement. Foreign keys to supervision_events.id (its corrects_id, sanction_decisions.event_id,
obligations.fulfilled_by_event_id) go: the id alone is no key of a partitioned table, and an
archived month is detached.

SQLite keeps one plain table; the same claims tables and triggers, the same foreign keys gone.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-09 12:00:00
"""
import sqlalchemy as sa
from alembic import op

import corrections.core.types

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
AHEAD_MONTHS = 3

_PG_CLAIMS = """
CREATE FUNCTION supervision_event_claims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.idempotency_key IS NOT NULL AND NEW.recorded_by_id IS NOT NULL THEN
        INSERT INTO supervision_event_keys (recorded_by_id, idempotency_key, event_id, recorded_at)
        VALUES (NEW.recorded_by_id, NEW.idempotency_key, NEW.id, NEW.recorded_at);
    END IF;
    IF NEW.corrects_id IS NOT NULL THEN
        INSERT INTO supervision_event_corrections (corrects_id, event_id, recorded_at)
        VALUES (NEW.corrects_id, NEW.id, NEW.recorded_at);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER supervision_event_claims AFTER INSERT ON supervision_events FOR EACH ROW
WHEN (NEW.idempotency_key IS NOT NULL AND NEW.recorded_by_id IS NOT NULL
      OR NEW.corrects_id IS NOT NULL)
EXECUTE FUNCTION supervision_event_claims();
"""

_SQLITE_CLAIMS = (
    """CREATE TRIGGER supervision_event_key_claim AFTER INSERT ON supervision_events
    WHEN NEW.idempotency_key IS NOT NULL AND NEW.recorded_by_id IS NOT NULL
    BEGIN
        INSERT INTO supervision_event_keys (recorded_by_id, idempotency_key, event_id, recorded_at)
        VALUES (NEW.recorded_by_id, NEW.idempotency_key, NEW.id, NEW.recorded_at);
    END""",
    """CREATE TRIGGER supervision_event_correction_claim AFTER INSERT ON supervision_events
    WHEN NEW.corrects_id IS NOT NULL
    BEGIN
        INSERT INTO supervision_event_corrections (corrects_id, event_id, recorded_at)
        VALUES (NEW.corrects_id, NEW.id, NEW.recorded_at);
    END""",
)

_FKS = (
    ('obligations', 'fk_obligations_fulfilled_by_event_id_supervision_events', 'fulfilled_by_event_id'),
    ('sanction_decisions', 'fk_sanction_decisions_event_id_supervision_events', 'event_id'),
    ('supervision_events', 'fk_supervision_events_corrects_id_supervision_events', 'corrects_id'),
)


def _claims_tables():
    op.create_table('supervision_event_keys',
    sa.Column('recorded_by_id', BigId, autoincrement=False, nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('event_id', BigId, nullable=False),
    sa.Column('recorded_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('recorded_by_id', 'idempotency_key', name=op.f('pk_supervision_event_keys'))
    )
    op.create_table('supervision_event_corrections',
    sa.Column('corrects_id', BigId, autoincrement=False, nullable=False),
    sa.Column('event_id', BigId, nullable=False),
    sa.Column('recorded_at', corrections.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('corrects_id', name=op.f('pk_supervision_event_corrections'))
    )
    op.execute(
        "INSERT INTO supervision_event_keys (recorded_by_id, idempotency_key, event_id, recorded_at) "
        "SELECT recorded_by_id, idempotency_key, id, recorded_at FROM supervision_events "
        "WHERE idempotency_key IS NOT NULL AND recorded_by_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO supervision_event_corrections (corrects_id, event_id, recorded_at) "
        "SELECT corrects_id, id, recorded_at FROM supervision_events WHERE corrects_id IS NOT NULL"
    )


def upgrade():
    _claims_tables()
    if op.get_bind().dialect.name != 'postgresql':
        for table, name, _column in _FKS[:2]:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_constraint(name, type_='foreignkey')
        with op.batch_alter_table('supervision_events', schema=None) as batch_op:
            batch_op.drop_constraint(_FKS[2][1], type_='foreignkey')
            batch_op.drop_constraint('uq_supervision_events_recorded_by_id_idempotency_key', type_='unique')
            batch_op.drop_index('uq_supervision_events_corrects', sqlite_where=sa.text('corrects_id IS NOT NULL'))
            batch_op.create_index('ix_supervision_events_corrects', ['corrects_id'], unique=False, postgresql_where=sa.text('corrects_id IS NOT NULL'), sqlite_where=sa.text('corrects_id IS NOT NULL'))
        # After the batches: a batch that rebuilds the table drops its triggers.
        for statement in _SQLITE_CLAIMS:
            op.execute(statement)
        return
    for table, name, _column in _FKS:
        op.drop_constraint(name, table, type_='foreignkey')
    op.execute("ALTER TABLE supervision_events DROP CONSTRAINT uq_supervision_events_recorded_by_id_idempotency_key")
    op.execute("DROP INDEX uq_supervision_events_corrects")
    op.execute("ALTER TABLE supervision_events RENAME TO supervision_events_plain")
    op.execute("ALTER TABLE supervision_events_plain RENAME CONSTRAINT pk_supervision_events TO pk_supervision_events_plain")
    op.execute("ALTER TABLE supervision_events_plain RENAME CONSTRAINT fk_supervision_events_person_id_persons TO fk_supervision_events_plain_person_id")
    op.execute("ALTER INDEX ix_supervision_events_person_occurred RENAME TO ix_supervision_events_plain_person_occurred")
    # The same columns in the same order, the id's default (its sequence) with them.
    op.execute(
        "CREATE TABLE supervision_events (LIKE supervision_events_plain INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (recorded_at)"
    )
    op.execute("ALTER SEQUENCE supervision_events_id_seq OWNED BY supervision_events.id")
    op.execute("ALTER TABLE supervision_events ADD CONSTRAINT pk_supervision_events PRIMARY KEY (id, recorded_at)")
    op.execute(
        "ALTER TABLE supervision_events ADD CONSTRAINT fk_supervision_events_person_id_persons "
        "FOREIGN KEY (person_id) REFERENCES persons (id)"
    )
    op.execute("CREATE SCHEMA IF NOT EXISTS event_partitions")
    op.execute("CREATE TABLE event_partitions.supervision_events_default PARTITION OF supervision_events DEFAULT")
    # Every month that has rows, to a few months ahead (Asia/Shanghai months).
    months = op.get_bind().execute(sa.text(
        "SELECT to_char(m, 'YYYY_MM'), to_char(m, 'YYYY-MM-DD'), to_char(m + interval '1 month', 'YYYY-MM-DD') "
        "FROM generate_series("
        " date_trunc('month', COALESCE((SELECT min(recorded_at) FROM supervision_events_plain), now()) AT TIME ZONE 'Asia/Shanghai'),"
        " date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') + make_interval(months => :ahead),"
        " interval '1 month') AS m"
    ), {'ahead': AHEAD_MONTHS}).all()
    for suffix, lo, hi in months:
        op.execute(
            f"CREATE TABLE event_partitions.supervision_events_{suffix} PARTITION OF supervision_events "
            f"FOR VALUES FROM ('{lo} 00:00:00+08') TO ('{hi} 00:00:00+08')"
        )
    op.execute("INSERT INTO supervision_events SELECT * FROM supervision_events_plain")
    op.execute("DROP TABLE supervision_events_plain")
    op.execute("CREATE INDEX ix_supervision_events_person_occurred ON supervision_events (person_id, occurred_at)")
    op.execute("CREATE INDEX ix_supervision_events_corrects ON supervision_events (corrects_id) WHERE corrects_id IS NOT NULL")
    op.execute(_PG_CLAIMS)
    op.execute("ANALYZE supervision_events")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS supervision_event_key_claim")
        op.execute("DROP TRIGGER IF EXISTS supervision_event_correction_claim")
        with op.batch_alter_table('supervision_events', schema=None) as batch_op:
            batch_op.drop_index('ix_supervision_events_corrects', sqlite_where=sa.text('corrects_id IS NOT NULL'))
            batch_op.create_index('uq_supervision_events_corrects', ['corrects_id'], unique=True, postgresql_where=sa.text('corrects_id IS NOT NULL'), sqlite_where=sa.text('corrects_id IS NOT NULL'))
            batch_op.create_unique_constraint('uq_supervision_events_recorded_by_id_idempotency_key', ['recorded_by_id', 'idempotency_key'])
            batch_op.create_foreign_key(_FKS[2][1], 'supervision_events', ['corrects_id'], ['id'])
        for table, name, column in _FKS[:2]:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.create_foreign_key(name, 'supervision_events', [column], ['id'])
    else:
        op.execute("DROP TRIGGER supervision_event_claims ON supervision_events")
        op.execute("DROP FUNCTION supervision_event_claims()")
        op.execute("ALTER TABLE supervision_events RENAME TO supervision_events_partitioned")
        op.execute("ALTER TABLE supervision_events_partitioned RENAME CONSTRAINT pk_supervision_events TO pk_supervision_events_partitioned")
        op.execute("ALTER INDEX ix_supervision_events_person_occurred RENAME TO ix_supervision_events_partitioned_person_occurred")
        op.execute("CREATE TABLE supervision_events (LIKE supervision_events_partitioned INCLUDING DEFAULTS)")
        op.execute("ALTER SEQUENCE supervision_events_id_seq OWNED BY supervision_events.id")
        # What a detached (archived) month held is not brought back.
        op.execute("INSERT INTO supervision_events SELECT * FROM supervision_events_partitioned")
        op.execute("DROP TABLE supervision_events_partitioned")
        op.execute("DROP SCHEMA IF EXISTS event_partitions")
        op.execute("ALTER TABLE supervision_events ADD CONSTRAINT pk_supervision_events PRIMARY KEY (id)")
        op.execute(
            "ALTER TABLE supervision_events ADD CONSTRAINT fk_supervision_events_person_id_persons "
            "FOREIGN KEY (person_id) REFERENCES persons (id)"
        )
        op.execute("CREATE INDEX ix_supervision_events_person_occurred ON supervision_events (person_id, occurred_at)")
        op.execute("CREATE UNIQUE INDEX uq_supervision_events_corrects ON supervision_events (corrects_id) WHERE corrects_id IS NOT NULL")
        op.execute(
            "ALTER TABLE supervision_events ADD CONSTRAINT uq_supervision_events_recorded_by_id_idempotency_key "
            "UNIQUE (recorded_by_id, idempotency_key)"
        )
        for table, name, column in _FKS:
            op.create_foreign_key(name, table, 'supervision_events', [column], ['id'])
    op.drop_table('supervision_event_corrections')
    op.drop_table('supervision_event_keys')
