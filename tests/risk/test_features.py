"""Point-in-time features: what they count, and that nothing after the as-of time counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import insert, select

from corrections.core.db import db
from corrections.demo.generator import build_persons
from corrections.incidents.models import Incident
from corrections.persons.models import Person
from corrections.risk import features
from corrections.supervision.models import Obligation, SupervisionEvent, TravelPermit
from tests.conftest import TEST_NOW
from tests.supervision.conftest import event


def _copy_rows(model, rows, after, columns: tuple[str, ...]):
    """Copies of ``rows`` moved, all by one shift, so that every copy lies after ``after``
    (``after`` None: not moved)."""
    out = []
    shift = timedelta(0)
    if after is not None and rows:
        first = min(
            v if isinstance(v, datetime) else datetime.combine(v, datetime.min.time(), UTC)
            for r in rows
            for c in columns
            if (v := getattr(r, c)) is not None
        )
        shift = timedelta(days=(after - first).days + 2)
    for row in rows:
        data = {c.name: getattr(row, c.name) for c in model.__table__.columns if c.name != "id"}
        for col in columns:
            if data.get(col) is not None:
                data[col] = data[col] + shift
        out.append(data)
    return out


def test_events_after_the_as_of_time_change_no_feature(app, city):
    """A generated city's features at T; then every kind of row is added again after T (and
    events that happened before T but were recorded after it): the features at T are equal,
    while the same rows do change the features at a later time."""
    with app.app_context():
        build_persons(db.session, count=60, seed=5, now=TEST_NOW, history_months=8)
        db.session.commit()
        as_of = TEST_NOW - timedelta(days=70)
        before = features.compute(db.session, features.active_at(as_of), as_of)
        assert len(before) > 20
        assert before["failed_checks_180d"].sum() > 0  # the history is not empty

        shift = as_of  # every copied row lands after T
        events = db.session.scalars(
            select(SupervisionEvent).where(SupervisionEvent.occurred_at < as_of)
        ).all()
        db.session.execute(
            insert(SupervisionEvent),
            _copy_rows(SupervisionEvent, events, shift, ("occurred_at", "recorded_at")),
        )
        # happened before T, recorded after T (a late entry): not known at T
        late = _copy_rows(SupervisionEvent, events[:200], None, ())
        for row in late:
            row["recorded_at"] = as_of + timedelta(hours=1)
        db.session.execute(insert(SupervisionEvent), late)
        incidents = db.session.scalars(select(Incident)).all()
        rows = _copy_rows(
            Incident,
            incidents,
            shift,
            (
                "overdue_since",
                "opened_at",
                "lost_contact_at",
                "updated_at",
                "closed_at",
                "absconded_at",
            ),
        )
        for r in rows:  # one open episode per person at most: copy them closed
            r["state"], r["closed_at"] = "closed", r["closed_at"] or r["opened_at"]
        db.session.execute(insert(Incident), rows)
        missed = db.session.scalars(select(Obligation).where(Obligation.missed_at.is_not(None)))
        db.session.execute(
            insert(Obligation),
            _copy_rows(
                Obligation,
                missed.all(),
                shift,
                ("opens_on", "due_on", "missed_at", "created_at", "updated_at"),
            ),
        )
        permits = db.session.scalars(select(TravelPermit)).all()
        db.session.execute(
            insert(TravelPermit),
            _copy_rows(
                TravelPermit,
                permits,
                shift,
                (
                    "start_date",
                    "end_date",
                    "requested_at",
                    "decided_at",
                    "departed_at",
                    "returned_at",
                ),
            ),
        )
        db.session.commit()

        after = features.compute(db.session, features.active_at(as_of), as_of)
        pd.testing.assert_frame_equal(before, after)
        later = TEST_NOW + timedelta(days=800)
        moved = features.compute(db.session, features.active_at(as_of), later)
        assert (moved["prior_lost_contact"] != before["prior_lost_contact"]).any()
        db.session.remove()


def test_behaviour_counts_by_window(app, active, officer, clock):
    person = active()
    pid = person["id"]
    for days_ago, type_, payload, channel in (
        (3, "report", {"late": True}, "in_person"),
        (20, "report", {"late": True}, "in_person"),
        (22, "report", {"late": False}, "in_person"),
        (5, "location_check", {"success": False, "within_area": False}, "app"),
        (6, "phone_check", {"success": True}, "phone"),
        (8, "contact_attempt_failed", {"method": "phone", "reason": "关机"}, None),
        (20, "address_change", {"new_address": "滨江市东城区新华路8号"}, None),
    ):
        at = (TEST_NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
        fields = {"channel": channel} if channel else {}
        resp = event(officer, pid, type_, occurred_at=at, payload=payload, **fields)
        assert resp.status_code == 201, resp.get_json()
    with app.app_context():
        row = features.compute(db.session, features.active_now(), TEST_NOW + timedelta(hours=1))
        row = row[row["person_id"] == pid].iloc[0]
        assert row["late_reports_30d"] == 2 and row["late_reports_90d"] == 2
        assert row["failed_checks_30d"] == 2  # the failed check and the failed contact attempt
        assert row["address_changes_30d"] == 1 and row["job_changes_30d"] == 0
        assert row["days_since_report_problem"] == 3
        assert row["days_since_failed_contact"] == 5
        assert row["grade"] == "tight"
        assert row["age_band"] == "35-44"
        assert row["gender_group"] == "male" and row["juvenile"] == 0
        person_row = db.session.get(Person, pid)
        assert row["district"] == person_row.district_id
        db.session.remove()


def test_active_at_follows_the_status_history(app, active, officer, clock):
    person = active()
    with app.app_context():
        then = datetime(2026, 10, 1, tzinfo=UTC)
        assert person["id"] not in set(db.session.scalars(features.active_at(then)).all())
        assert person["id"] in set(
            db.session.scalars(features.active_at(TEST_NOW + timedelta(seconds=1))).all()
        )
        db.session.remove()


def test_the_nightly_events_read_uses_the_index_of_counted_events(app):
    """The features read only the events some count counts, through the partial index
    ix_supervision_events_counted (issue 18: 100,000 active persons scored in 20 s). Its
    predicate is written twice (the model's COUNTED_EVENTS, the features' conditions): if they
    drift apart, PostgreSQL no longer sees that the index holds every event the conditions
    select, and this fails. Asked for those events in time order with sorting and whole-table
    reads off, only that index (of each month's partition) can answer."""
    import pytest
    from sqlalchemy import or_, text

    ev = SupervisionEvent
    stmt = (
        select(ev.id).where(or_(*features.counted_conditions().values())).order_by(ev.occurred_at)
    )
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip(
                "the partial index's use is PostgreSQL's planner's (SQLite renders JSON apart)"
            )
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        db.session.execute(text("SET LOCAL enable_sort = off"))
        plan = "\n".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")).all())
        # The index of each month's partition, which PostgreSQL names after the partition.
        names = db.session.scalars(
            text(
                "SELECT c.relname FROM pg_partition_tree('ix_supervision_events_counted') t "
                "JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf"
            )
        ).all()
        db.session.rollback()
        db.session.remove()
    assert names and all(name in plan for name in names), plan
