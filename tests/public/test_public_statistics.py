"""矫务公开: the job fills the cache, the public API and page read only the cache, no
published cell is below the threshold and no withheld cell can be worked out (the issue's
acceptance, on the demo city)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from corrections.core.db import db
from corrections.public.models import PublicStatistic
from tests.conftest import TEST_NOW

DONGCHENG, XICHENG = "329901", "329902"
AFTER_NOVEMBER = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 on 2 Dec in Shanghai
COMPLAINT = {"received_on": "2026-11-20", "channel": "visit", "summary": "对走访时间有意见"}


@pytest.fixture
def november(app, active, login, run_job):
    """Twelve persons report in Dongcheng in November; Dongcheng registers 11 complaints,
    Xicheng 3 (answering 2); the job runs on 2 December."""
    for _ in range(12):
        active()
    dongcheng, xicheng = login("officer-dongcheng-1"), login("commander-xicheng")
    for _ in range(11):
        assert dongcheng.post("/api/v1/complaints", json=COMPLAINT).status_code == 201
    made = [xicheng.post("/api/v1/complaints", json=COMPLAINT).get_json() for _ in range(3)]
    for c in made[:2]:
        resp = xicheng.post(f"/api/v1/complaints/{c['id']}/answer", json={"answer_note": "已答复"})
        assert resp.status_code == 200
    run = run_job("public_statistics", at=AFTER_NOVEMBER)
    assert run["status"] == "succeeded", run
    return run


def _figures(body, month, metric):
    entry = next(m for m in body["months"] if m["month"] == month)
    return {f["district_code"]: f for f in entry["figures"] if f["metric"] == metric}


def test_the_job_counts_november_and_withholds_small_cells(november, client):
    assert november["counts"] == {"months": 1, "figures": november["counts"]["figures"]}
    body = client.get("/api/v1/public/statistics").get_json()
    assert [m["month"] for m in body["months"]] == ["2026-11"]
    intakes = _figures(body, "2026-11", "intakes")
    assert intakes[DONGCHENG]["value"] == 12 and intakes[None]["value"] == 12
    assert intakes[XICHENG]["display"] == "0"
    under = _figures(body, "2026-11", "under_correction")
    assert under[DONGCHENG]["display"] == "10"  # 12, to the nearest 5
    received = _figures(body, "2026-11", "complaints_received")
    # 3 is small; the 11 goes with it, else 14 - 11 would give the 3 back.
    assert received[XICHENG]["display"] == "<10" and received[XICHENG]["value"] is None
    assert received[DONGCHENG]["display"] == "*" and received[DONGCHENG]["withheld"]
    assert received[None]["display"] == "14"
    answered = _figures(body, "2026-11", "complaints_answered")
    assert answered[XICHENG]["display"] == "<10" and answered[None]["display"] == "<10"
    rate = _figures(body, "2026-11", "absconded_rate")
    assert rate[DONGCHENG]["display"] == "0.0%" and rate[DONGCHENG]["value"] == 0
    labels = {m["code"]: m["label_zh"] for m in body["metrics"]}
    assert labels["absconded_rate"] == "脱管率"
    assert all(m["definition_zh"] for m in body["metrics"])
    assert body["disclosure"]["small_text"] == "<10"


def test_running_the_job_again_replaces_the_month(app, november, run_job):
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(PublicStatistic))
        db.session.remove()
    assert run_job("public_statistics", at=AFTER_NOVEMBER)["status"] == "succeeded"
    with app.app_context():
        after = db.session.scalar(select(db.func.count()).select_from(PublicStatistic))
        db.session.remove()
    assert before == after > 0


def test_the_public_api_reads_the_cache_only_and_is_cacheable(app, november, client):
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.lower())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        resp = client.get("/api/v1/public/statistics?month=2026-11")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert resp.status_code == 200
    personal = re.compile(r"\b(persons|person_status_changes|incidents|complaints|audit_entries)\b")
    assert not [s for s in statements if personal.search(s)], statements
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    etag = resp.headers["ETag"]
    again = client.get("/api/v1/public/statistics?month=2026-11", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_a_bad_month_is_422_naming_it_and_an_absent_one_404(november, client):
    # Year 0000 or 0964 (schemathesis) reached the calendar's edge: months are 2000-2099.
    for bad in ("2026-13", "2026-1", "November", "2026-11-01", "0000-01", "0964-11"):
        resp = client.get(f"/api/v1/public/statistics?month={bad}")
        assert resp.status_code == 422, bad
        assert resp.content_type == "application/problem+json"
        assert "query.month" in resp.get_json()["errors"]
    resp = client.get("/api/v1/public/statistics?month=2020-01")
    assert resp.status_code == 404
    assert resp.content_type == "application/problem+json"


def test_before_the_job_ran_the_api_says_so_with_nothing(client):
    body = client.get("/api/v1/public/statistics").get_json()
    assert body["months"] == [] and body["computed_at"] is None


def test_the_public_page_is_chinese_strict_and_self_contained(november, client):
    resp = client.get("/public/statistics")
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    html = resp.get_data(as_text=True)
    for text in (
        "矫务公开",
        "月末在册社区矫正对象",
        "脱管率",
        "指标说明",
        "2026年11月",
        "东城区司法局",
    ):
        assert text in html, text
    assert "&lt;10" in html
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "public, max-age=" in resp.headers["Cache-Control"]
    one = client.get("/public/statistics?month=2026-11")
    assert one.status_code == 200 and "2026年11月" in one.get_data(as_text=True)
    bad = client.get("/public/statistics?month=2026-99")
    assert bad.status_code == 200 and "没有所选月份的数据" in bad.get_data(as_text=True)


def _values_possible(lo, hi, others_lo, others_hi, hidden_sum):
    """How many values a hidden cell can take (at most 2 counted), by trying each."""
    found = 0
    v = lo
    while v <= min(hi, hidden_sum) and found < 2:
        if others_lo <= hidden_sum - v <= others_hi:
            found += 1
        v += 1
    return found


def test_demo_city_no_small_cell_published_and_none_recoverable(app, city, run_job):
    """The issue's acceptance: on a generated demo city with a year of history, every
    published count is 0 or at least 10, and in every row (metric, month) with a shown total
    each withheld district cell can still take at least two values."""
    from corrections.complaints.models import Complaint
    from corrections.demo.generator import build_persons
    from corrections.org.models import Unit
    from corrections.public import rules as public_rules

    with app.app_context():
        build_persons(db.session, count=700, seed=15, now=TEST_NOW, history_months=12)
        # October's complaints: one district's few beside others' many (a complement needed).
        districts = db.session.scalars(
            select(Unit.id).where(Unit.kind == "district").order_by(Unit.code)
        ).all()
        for district, n in zip(districts, [4, 25, 31, 40, 12, 18], strict=False):
            db.session.add_all(
                Complaint(
                    district_id=district,
                    received_on=TEST_NOW.date().replace(month=10, day=15),
                    channel="letter",
                    summary="意见",
                    created_by="city",
                    created_at=TEST_NOW,
                )
                for _ in range(n)
            )
        db.session.commit()
        db.session.remove()
    assert run_job("public_statistics", at=TEST_NOW)["status"] == "succeeded"
    with app.app_context():
        rules = public_rules.current()
        kinds = {m.code: m.kind for m in rules.metrics}
        rows: dict = {}
        for f in db.session.scalars(select(PublicStatistic)):
            rows.setdefault((f.period, f.metric), []).append(f)
        db.session.remove()
    assert len({p for p, _m in rows}) >= 6
    small = withheld = 0
    for (_period, metric), figures in rows.items():
        if kinds[metric] != "count":
            continue
        if metric in rules.stock_rounding:
            # Rounded stocks: the sum of shown cells is not the total; what they could still
            # give away with the month's flows is tested in tests/public/test_disclosure.py.
            assert all(
                f.value is None or f.value % rules.stock_rounding[metric] == 0 for f in figures
            )
            continue
        for f in figures:
            assert f.value is None or f.value == 0 or f.value >= rules.threshold, f.display
            assert (f.value is None) == (f.suppressed is not None)
        total = next(f for f in figures if f.district_id is None)
        cells = [f for f in figures if f.district_id is not None]
        hidden = [f for f in cells if f.value is None]
        small += sum(f.display == rules.small_text for f in hidden)
        withheld += sum(f.display == rules.withheld_text for f in hidden)
        if total.value is None or not hidden:
            continue
        hidden_sum = total.value - sum(f.value for f in cells if f.value is not None)
        big = hidden_sum + 1
        bounds = [
            (1, rules.threshold - 1) if f.display == rules.small_text else (rules.threshold, big)
            for f in hidden
        ]
        assert len(hidden) >= 2, (metric, [f.display for f in cells])
        for i, (lo, hi) in enumerate(bounds):
            others = [b for j, b in enumerate(bounds) if j != i]
            n = _values_possible(
                lo, hi, sum(b[0] for b in others), sum(b[1] for b in others), hidden_sum
            )
            assert n >= 2, (metric, i, bounds, hidden_sum)
    # The city is small enough to have withheld cells: the test checked something.
    assert small > 0 and withheld > 0
