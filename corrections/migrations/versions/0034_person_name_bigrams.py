"""a name search reads an index on PostgreSQL: the name's two-character pieces (bigrams) in a
GIN index, which a search of two characters or more narrows by before the LIKE (a Chinese
name is two to four characters; pg_trgm's trigrams cannot serve a two-character search). The
LIKE still decides; SQLite keeps its scan (issue 18: a name search at 100,000 persons)

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-30 10:00:00
"""
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

# IMMUTABLE (an index expression must be), STRICT, and with FROM in its body, so the planner
# does not inline it and the query's expression is the index's, word for word.
BIGRAMS = """
CREATE FUNCTION name_bigrams(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(name, i, 2)), '{}')
    FROM generate_series(1, char_length(name) - 1) AS i
$$
"""


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(BIGRAMS)
    # fastupdate off: GIN's default keeps new entries in an unsorted pending list that every
    # search reads whole until a vacuum, so searches slowed past the scan they replace as
    # persons were written (hostile review: 1.7 ms after a vacuum, 17.6 ms with the list
    # full). A person's name changes rarely; each write computes its bigrams at once.
    # Built while writes to persons wait: about 3 s per 100,000 persons, with the ANALYZE.
    op.execute(
        'CREATE INDEX ix_persons_name_bigrams ON persons USING gin (name_bigrams(name)) '
        'WITH (fastupdate = off)'
    )
    # The planner's statistics of the new expression: without them it guesses how many names
    # a bigram finds, and also reads the whole district's index to intersect with.
    op.execute('ANALYZE persons')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP INDEX ix_persons_name_bigrams')
    op.execute('DROP FUNCTION name_bigrams(text)')
