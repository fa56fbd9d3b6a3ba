"""field encryption: identity fields encrypted at rest, blind indexes for lookups

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 10:00:00

ID number, phone, address and family contact of every person, and the new address in
address_change events, are encrypted under the keyring's field key (AES-256-GCM); ID number,
its last four characters and the phone get keyed blind indexes (HMAC under the index key), and
the one-open-record rule moves to the ID number's index. Existing rows are encrypted here, in
batches, with the keyring of the app running the migration: keep that keyring, the data cannot
be read without it. The downgrade decrypts them back.
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OPEN = "status IN ('pending_intake', 'active', 'lost_contact', 'absconded')"
# (column, its length before this revision)
FIELDS = (
    ('id_number', 18),
    ('phone', 20),
    ('address', 200),
    ('family_contact_name', 50),
    ('family_contact_phone', 20),
)


def _specs():
    # Spelled out here rather than read from the models, so later model changes do not change
    # what this revision does.
    from corrections.core.rotation import ProtectedTable
    from corrections.persons.models import id_number_index, id_tail_index, phone_index

    return [
        ProtectedTable(
            'persons',
            fields=tuple((name, f'persons.{name}') for name, _ in FIELDS),
            indexes=(
                ('id_number_bidx', 'id_number', id_number_index),
                ('id_tail_bidx', 'id_number', id_tail_index),
                ('phone_bidx', 'phone', phone_index),
            ),
        ),
        ProtectedTable(
            'supervision_events',
            json_members=(('payload', 'supervision_events.payload', ('new_address',)),),
        ),
    ]


def upgrade():
    from corrections.core import keys, rotation

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index('uq_persons_open_id_number', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index('ix_persons_id_number')
        for name, length in FIELDS:
            batch_op.alter_column(name, existing_type=sa.String(length=length), type_=sa.Text(), existing_nullable=name != 'id_number')
        batch_op.add_column(sa.Column('id_number_bidx', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('id_tail_bidx', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('phone_bidx', sa.String(length=80), nullable=True))

    rotation.run(op.get_bind, _specs(), keys.current(), fields=True, indexes=True, batch=2000)

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.alter_column('id_number_bidx', existing_type=sa.String(length=80), nullable=False)
        batch_op.alter_column('id_tail_bidx', existing_type=sa.String(length=80), nullable=False)
        batch_op.create_index('ix_persons_id_number', ['id_number_bidx'], unique=False)
        batch_op.create_index('uq_persons_open_id_number', ['id_number_bidx'], unique=True, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.create_index(batch_op.f('ix_persons_id_tail_bidx'), ['id_tail_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_persons_phone_bidx'), ['phone_bidx'], unique=False)


def _decrypt_all(conn):
    from corrections.core import crypto, keys

    ring = keys.current()
    persons = sa.table('persons', sa.column('id', sa.BigInteger), *(sa.column(n, sa.Text) for n, _ in FIELDS))
    last = 0
    while True:
        rows = conn.execute(sa.select(persons).where(persons.c.id > last).order_by(persons.c.id).limit(2000)).mappings().all()
        if not rows:
            break
        params = [
            {'b_id': r['id'], **{n: crypto.decrypt(r[n], f'persons.{n}', ring) if crypto.is_encrypted(r[n]) else r[n] for n, _ in FIELDS}}
            for r in rows
        ]
        conn.execute(persons.update().where(persons.c.id == sa.bindparam('b_id')).values({n: sa.bindparam(n) for n, _ in FIELDS}), params)
        last = rows[-1]['id']
    events = sa.table('supervision_events', sa.column('id', sa.BigInteger), sa.column('payload', sa.JSON))
    last = 0
    while True:
        rows = conn.execute(sa.select(events).where(events.c.id > last, events.c.payload['new_address'].as_string().like('e1:%')).order_by(events.c.id).limit(2000)).mappings().all()
        if not rows:
            break
        params = []
        for r in rows:
            payload = dict(r['payload'])
            payload['new_address'] = crypto.decrypt(payload['new_address'], 'supervision_events.payload.new_address', ring)
            params.append({'b_id': r['id'], 'payload': payload})
        conn.execute(events.update().where(events.c.id == sa.bindparam('b_id')).values(payload=sa.bindparam('payload', type_=sa.JSON)), params)
        last = rows[-1]['id']


def downgrade():
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_phone_bidx'))
        batch_op.drop_index(batch_op.f('ix_persons_id_tail_bidx'))
        batch_op.drop_index('uq_persons_open_id_number', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index('ix_persons_id_number')
        batch_op.drop_column('phone_bidx')
        batch_op.drop_column('id_tail_bidx')
        batch_op.drop_column('id_number_bidx')

    _decrypt_all(op.get_bind())

    with op.batch_alter_table('persons', schema=None) as batch_op:
        for name, length in FIELDS:
            batch_op.alter_column(name, existing_type=sa.Text(), type_=sa.String(length=length), existing_nullable=name != 'id_number')
        batch_op.create_index('ix_persons_id_number', ['id_number'], unique=False)
        batch_op.create_index('uq_persons_open_id_number', ['id_number'], unique=True, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
