"""A name search finds the names that contain what was typed, on both databases; on
PostgreSQL a search of two characters or more can be served by the names' bigram index
(migration 0034), and the LIKE still decides among what the index finds."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

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


AWKWARD = [
    "王王王",  # a repeated bigram
    "王王",
    "阿卜杜·热合曼",  # a middle dot
    "Zoë Mäkelä",  # precomposed letters
    "Zoe\u0308",  # a combining diaeresis
    "李\\明",  # the LIKE escape character
    "张 三",  # a space
    "张\u3000三",  # an ideographic space
    "𠀋𠀌明",  # characters beyond the basic plane
    "Ｗａｎｇ",  # full-width letters
    "ann lee",
    "明",
]


def test_on_postgresql_the_index_finds_what_the_like_alone_finds(app, officer, intake):
    """Every two-character piece of a name's text is one of the name's: the index narrows
    and never drops one. The service's condition against the LIKE alone, over awkward names
    and every piece of them of two to four characters (and a few that are in none)."""
    from corrections.persons.models import Person
    from corrections.persons.service import _escape_like, _identity_match

    for name in AWKWARD:
        intake(officer, name=name)
    queries = {n[i : i + k] for n in AWKWARD for k in (2, 3, 4) for i in range(len(n) - k + 1)}
    queries |= {"王王王王", "明王", "Zoë", "ANN", "三张", "\\明"}
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL enable_seqscan = off"))  # the index, not a scan
        for q in sorted(queries):
            service = set(
                db.session.scalars(
                    select(Person.name).where(_identity_match(db.session, select(Person), q))
                )
            )
            like = set(
                db.session.scalars(
                    select(Person.name).where(Person.name.like(f"%{_escape_like(q)}%", escape="\\"))
                )
            )
            assert service == like, q
            assert {n for n in AWKWARD if q in n} <= service, q
        db.session.rollback()
        db.session.remove()


def test_a_one_character_search_does_not_ask_the_index(app):
    """A single character has no bigram: asking the index for names holding none would read
    all of it; the LIKE scans alone."""
    from corrections.persons.models import Person
    from corrections.persons.service import _identity_match

    with app.app_context():
        one = str(select(Person.id).where(_identity_match(db.session, select(Person), "明")))
        two = str(select(Person.id).where(_identity_match(db.session, select(Person), "小明")))
        postgres = db.engine.dialect.name == "postgresql"
        db.session.remove()
    assert "name_bigrams" not in one
    assert ("name_bigrams" in two) == postgres
