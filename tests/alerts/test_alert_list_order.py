"""The alert list at scale (issue 18): the order comes from the alerts' own columns (severity
rank, waiting time), the scope from the district they carry, and the total is counted only up
to a limit, saying so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from corrections.alerts import service as alerts
from corrections.core.db import db

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
# kind -> severity as rules/alerts.yaml has them
KINDS = (("term_ending", "info"), ("obligation_missed", "warning"), ("lost_contact", "critical"))


def _raise(app, person_id: int) -> list[int]:
    """Three alerts of each severity for the person, a minute apart, least severe first."""
    ids = []
    with app.app_context():
        for i in range(9):
            kind, _severity = KINDS[i % 3]
            alert_id = alerts.raise_one(
                db.session, person_id=person_id, kind=kind, subject_type="obligation",
                subject_id=1000 + i, detail={}, now=T0 + timedelta(minutes=i),
            )  # fmt: skip
            ids.append(alert_id)
        db.session.commit()
        db.session.remove()
    return ids


def _page(api, **query):
    resp = api.get("/api/v1/alerts", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_most_severe_first_then_the_longest_waiting_across_pages(app, login, active):
    person = active()
    ids = _raise(app, person["id"])
    commander = login("commander-dongcheng")
    mine = {"person_id": person["id"], "page_size": 4}
    seen = [a for p in (1, 2, 3) for a in _page(commander, page=p, **mine)["items"]]
    expected = [ids[i] for i in (2, 5, 8, 1, 4, 7, 0, 3, 6)]
    assert [a["id"] for a in seen] == expected
    assert [a["severity"] for a in seen] == ["critical"] * 3 + ["warning"] * 3 + ["info"] * 3
    newest = _page(commander, order="newest", page_size=9, person_id=person["id"])["items"]
    assert [a["id"] for a in newest] == [ids[i] for i in (8, 5, 2, 7, 4, 1, 6, 3, 0)]
    # Another district's commander sees none of them (the district the alerts carry).
    assert _page(login("commander-nanhu"), person_id=person["id"])["total"] == 0


def test_a_long_list_is_counted_only_up_to_the_limit_and_says_so(app, login, active, monkeypatch):
    person = active()
    _raise(app, person["id"])
    commander = login("commander-dongcheng")
    exact = _page(commander, person_id=person["id"])
    assert (exact["total"], exact["total_exact"]) == (9, True)
    monkeypatch.setattr(alerts, "COUNT_LIMIT", 5)
    capped = _page(commander, person_id=person["id"], page_size=4, page=3)
    assert (capped["total"], capped["total_exact"]) == (5, False)
    # The pages past the count are still there.
    assert len(capped["items"]) == 1
