"""A name search finds the names that contain what was typed, on both databases; on
PostgreSQL a search of two characters or more can be served by the names' bigram index
(migration 0034), and the LIKE still decides among what the index finds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from corrections.core.db import db

SEARCH = "/api/v1/persons/search"
NAMES = ["欧阳小明", "欧阳", "小明王", "王五王六", "李%明", "张_三", "Ann Lee"]


def _names(api, q: str) -> set[str]:
    resp = api.post(SEARCH, json={"q": q, "page_size": 100})
    assert resp.status_code == 200, resp.get_json()
    return {p["name"] for p in resp.get_json()["items"]}


@pytest.fixture
def people(officer, intake):
    return [intake(officer, name=name) for name in NAMES]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("欧阳", {"欧阳小明", "欧阳"}),
        ("小明", {"欧阳小明", "小明王"}),
        ("明", {"欧阳小明", "小明王", "李%明"}),  # one character: no bigram, the LIKE alone
        ("阳小明", {"欧阳小明"}),
        ("欧阳小明", {"欧阳小明"}),
        ("五王五", set()),  # its bigrams (五王, 王五) are all in 王五王六; the LIKE says no
        ("%明", {"李%明"}),  # LIKE's wildcards are typed characters
        ("_三", {"张_三"}),
        ("n L", {"Ann Lee"}),
        ("王五六", set()),
    ],
)
def test_a_name_search_finds_the_names_that_contain_it(officer, people, q, found):
    assert _names(officer, q) == found


def test_on_postgresql_the_bigram_index_can_serve_the_search(app, officer, people):
    """The service's own name condition, planned with sequential scans priced out, reads the
    bigram index: its expression is the index's (for a few rows the planner would otherwise
    scan the table)."""
    from corrections.persons.models import Person
    from corrections.persons.service import _identity_match

    with app.app_context():
        within = select(Person)
        stmt = select(Person.id).where(_identity_match(db.session, within, "欧阳"))
        found = set(db.session.scalars(stmt))
        assert len(found) == 2
        if db.engine.dialect.name == "postgresql":
            compiled = stmt.compile(dialect=db.engine.dialect)
            conn = db.session.connection()
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars()
            assert "ix_persons_name_bigrams" in "\n".join(plan)
        db.session.rollback()
        db.session.remove()
