from __future__ import annotations

from sqlalchemy import func, select

from corrections.core.db import db
from corrections.org.models import Unit, UnitKind, User
from corrections.persons.models import Person


def _summary(app, runner, seed):
    result = runner.invoke(args=["demo", "seed", "--persons", "120", "--seed", str(seed)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        persons = db.session.execute(
            select(
                Person.name,
                Person.id_number,
                Person.category,
                Person.term_end,
                Person.juvenile,
                Person.status,
            ).order_by(Person.id)
        ).all()
        db.session.remove()
    return result.output, [tuple(p) for p in persons]


def _empty(app):
    from tests.conftest import _truncate_all

    with app.app_context():
        _truncate_all()
        db.session.remove()


def test_demo_seed_builds_a_realistic_city_deterministically(app, runner):
    _empty(app)
    output, first = _summary(app, runner, 7)
    assert "demo-password" not in output or app.config["DEMO_PASSWORD"] in output
    assert app.config["DEMO_PASSWORD"] in output  # the password is printed with the accounts
    with app.app_context():
        districts = db.session.scalars(select(Unit).where(Unit.kind == UnitKind.DISTRICT)).all()
        assert len(districts) >= 5
        for d in districts:
            n = db.session.scalar(select(func.count()).where(Unit.parent_id == d.id))
            assert 3 <= n <= 6
            assert (
                db.session.scalar(
                    select(func.count()).where(User.unit_id == d.id, User.role == "commander")
                )
                == 1
            )
        offices = db.session.scalars(select(Unit.id).where(Unit.kind == UnitKind.OFFICE)).all()
        for office_id in offices:
            assert (
                db.session.scalar(
                    select(func.count()).where(User.unit_id == office_id, User.role == "officer")
                )
                == 1
            )
        roles = set(db.session.scalars(select(User.role)))
        assert roles == {
            "officer",
            "commander",
            "city",
            "analyst",
            "auditor",
            "admin",
            "procurator",
            "partner",
        }
        # The partner agencies' accounts belong to their agencies (DEMO_AGENCIES).
        from corrections.exchange.models import Agency

        bound = db.session.execute(
            select(User.username, Agency.kind).join(Agency, Agency.id == User.agency_id)
        ).all()
        assert sorted(bound) == [
            ("court-dongcheng", "court"),
            ("police-dongcheng", "police"),
            ("procurator-city", "procuratorate"),
        ]
        db.session.remove()
    assert len(first) == 120
    categories = {p[2] for p in first}
    assert {"suspended_sentence", "parole"} <= categories
    assert any(p[4] for p in first), "a few juveniles"
    assert sum(p[4] for p in first) < 12
    assert {"active", "pending_intake"} <= {p[5] for p in first}

    _empty(app)
    _, again = _summary(app, runner, 7)
    assert again == first
    _empty(app)
    _, other = _summary(app, runner, 8)
    assert other != first


def test_demo_seed_refuses_a_non_empty_database(runner):
    result = runner.invoke(args=["demo", "seed", "--persons", "1"])
    assert result.exit_code != 0
    assert "empty" in result.output


def test_demo_persons_are_valid_intakes(app, runner, login):
    """Every generated person passes the same validation an intake does."""
    from datetime import date

    from corrections.persons.service import FACT_FIELDS, validate_facts

    _empty(app)
    _summary(app, runner, 11)
    with app.app_context():
        for person in db.session.scalars(select(Person)):
            facts = {k: getattr(person, k) for k in FACT_FIELDS}
            errors, juvenile = validate_facts(facts, date(2026, 11, 27))
            assert errors == {}, (person.id, errors)
            assert juvenile == person.juvenile
        db.session.remove()
