"""A Last-Event-ID past the newest alert change (the change log restarted, as after a database
restore) is not accepted silently, which left the client waiting for ids that would not come
for a long time and missing everything meanwhile: the stream says so first (``event:
restart``, its id the newest change, as the process's listener follows a restarted log from
its newest) and replays the reader's live alerts, then streams on from the newest change."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from corrections.alerts.models import LIVE_STATUSES, Alert, AlertChange
from corrections.core.db import db
from corrections.persons.models import Person
from tests.alerts.test_alerts import DAY_AFTER_REPORT_DUE


def _stream(api, last_event_id):
    resp = api.get(
        "/api/v1/alerts/stream",
        headers={"Last-Event-ID": str(last_event_id)},
        query_string={"timeout": 1},
    )
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    blocks = [b for b in resp.get_data(as_text=True).split("\n\n") if b.strip()]
    return blocks


def _events(blocks, kind="alert"):
    """(id, data) of each ``kind`` event."""
    out = []
    for block in blocks:
        lines = block.splitlines()
        if f"event: {kind}" not in lines:
            continue
        event_id = next(int(ln[4:]) for ln in lines if ln.startswith("id: "))
        data = json.loads("".join(ln[6:] for ln in lines if ln.startswith("data: ")))
        out.append((event_id, data))
    return out


def _live_in_district(app, district_code: str) -> dict[int, int]:
    """Live alerts of the district's persons: alert id -> its latest change id."""
    with app.app_context():
        from corrections.org.models import Unit

        district = db.session.scalar(select(Unit.id).where(Unit.code == district_code))
        rows = db.session.execute(
            select(Alert.id, func.max(AlertChange.id))
            .join(AlertChange, AlertChange.alert_id == Alert.id)
            .join(Person, Person.id == Alert.person_id)
            .where(Alert.status.in_(LIVE_STATUSES), Person.district_id == district)
            .group_by(Alert.id)
        ).all()
        db.session.remove()
    return dict(rows)


def _newest(app) -> int:
    with app.app_context():
        newest = db.session.scalar(select(func.max(AlertChange.id)))
        db.session.remove()
    return newest


def test_a_last_event_id_past_the_newest_change_replays_the_live_alerts(
    app, login, active, run_job
):
    app.config["ALERT_STREAM_POLL_SECONDS"] = 0.05
    active(), active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    commander = login("commander-dongcheng")
    alerts = commander.get("/api/v1/alerts", query_string={"page_size": 50}).get_json()["items"]
    assert len(alerts) >= 3
    acknowledged, dismissed = alerts[0]["id"], alerts[1]["id"]
    assert commander.post(f"/api/v1/alerts/{acknowledged}/acknowledge", json={}).status_code == 200
    resp = commander.post(f"/api/v1/alerts/{dismissed}/dismiss", json={"note": "误报"})
    assert resp.status_code == 200
    newest = _newest(app)
    live = _live_in_district(app, "329901")
    assert dismissed not in live and acknowledged in live

    blocks = _stream(commander, newest + 1000)
    # The first message says what happened, and where the count starts again.
    first = blocks[0].splitlines()
    assert first[:2] == ["retry: 1000", f": stream of alert changes after {newest}"]
    assert (
        f": Last-Event-ID {newest + 1000} is past the newest change ({newest}): the " in (first[2])
    )
    assert first[3:5] == [f"id: {newest}", "event: restart"]
    assert json.loads(first[5][6:]) == {
        "reason": "change_log_restarted",
        "last_event_id": newest + 1000,
        "newest_change_id": newest,
    }
    # Then every live alert of the reader's, once, as its latest change, oldest first.
    replayed = _events(blocks)
    assert {data["id"]: event_id for event_id, data in replayed} == live
    assert [event_id for event_id, _data in replayed] == sorted(live.values())
    changes = {data["id"]: data["change"] for _id, data in replayed}
    assert changes[acknowledged] == "acknowledged"

    # Resuming from the restart's id: only what changed since.
    resp = commander.post(f"/api/v1/alerts/{acknowledged}/resolve", json={"note": "已处理"})
    assert resp.status_code == 200
    resumed = _stream(commander, newest)
    assert "event: restart" not in "".join(resumed)
    assert [(data["id"], data["change"]) for _id, data in _events(resumed)] == [
        (acknowledged, "resolved")
    ]

    # Another district's command centre is told of the restart, and sees none of these.
    other = _stream(login("commander-xicheng"), newest + 1000)
    assert _events(other, "restart") and _events(other) == []


def test_a_last_event_id_at_the_newest_change_is_no_restart(app, login, active, run_job):
    active()
    run_job("sweep_obligations", at=DAY_AFTER_REPORT_DUE)
    blocks = _stream(login("commander-dongcheng"), _newest(app))
    assert "restart" not in "".join(blocks) and _events(blocks) == []


def test_a_last_event_id_of_non_ascii_digits_is_refused_not_a_crash(login):
    """Hostile re-check: "²" passes str.isdigit() and then failed int() with a 500."""
    commander = login("commander-dongcheng")
    resp = commander.get(
        "/api/v1/alerts/stream", headers={"Last-Event-ID": "²"}, query_string={"timeout": 1}
    )
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
