"""What the scheduler tells an operator (a new user's review): a refused ``run-once`` names the
lease's holder, its expiry and what to do; lease changes are logged once each; the deep health
check reports the heartbeat the scheduler stored; ``scheduler list`` shows Beijing times with
their offset."""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta

from corrections.cli import main
from corrections.core.db import db
from corrections.scheduler import service
from tests.conftest import DEMO_PASSWORD

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
TTL = timedelta(seconds=90)


def _holder(name: str) -> str:
    """A holder name of this test alone (the process remembers what it logged per holder)."""
    return f"{name}-{secrets.token_hex(3)}"


def test_a_refused_run_once_names_the_holder_the_expiry_and_what_to_do(app, runner, clock):
    clock.set(T0)
    leader = _holder("scheduler-host:4242")
    with app.app_context():
        assert service.acquire_lease(db.session, holder=leader, ttl=TTL, now=T0)
        db.session.remove()
    result = runner.invoke(main, ["scheduler", "run-once", "term_endings"])
    assert result.exit_code == 1
    # In Chinese, then the English in parentheses (core/i18n.py cli_text).
    assert result.output == (
        f"错误：调度器 {leader} 持有主调度租约，至 2026-12-01 10:01:30+08:00：主调度器会按计划"
        "运行 term_endings（运行时间见 `corrections scheduler list`）。如仍要在此立即运行，请加 "
        "--ignore-lease（任务可重复运行，与主调度器同时运行不会产生重复数据）。 "
        f"(scheduler {leader} holds the leader lease until 2026-12-01 10:01:30+08:00: "
        "the leader runs term_endings on its schedule (`corrections scheduler list` shows "
        "when). To run it here now anyway, add --ignore-lease (a job is idempotent: running "
        "it beside the leader duplicates nothing).)\n"
    )
    # The leader's lease is untouched; with --ignore-lease the job runs.
    with app.app_context():
        assert service.lease_holder(db.session).holder == leader
        db.session.remove()
    forced = runner.invoke(main, ["scheduler", "run-once", "term_endings", "--ignore-lease"])
    assert forced.exit_code == 0, forced.output
    assert '"status": "succeeded"' in forced.output


def test_lease_changes_are_logged_once_each(app, city, caplog):
    caplog.set_level(logging.INFO, logger="corrections.scheduler.service")
    a, b = _holder("host-a:1"), _holder("host-b:2")

    def lease(holder, seconds):
        with app.app_context():
            held = service.acquire_lease(
                db.session, holder=holder, ttl=TTL, now=T0 + timedelta(seconds=seconds)
            )
            db.session.remove()
        return held

    assert lease(a, 0) and lease(a, 30)  # acquired, then renewed (not logged again)
    assert not lease(b, 31) and not lease(b, 61)  # standing by, once
    assert lease(b, 121 + 30)  # a stopped renewing: b takes over
    with app.app_context():
        assert service.release_lease(db.session, holder=b)
        assert not service.release_lease(db.session, holder=a)  # holds nothing: no line
        db.session.remove()
    lines = [r.getMessage() for r in caplog.records if r.name == "corrections.scheduler.service"]
    assert lines == [
        f"scheduler {a}: lease acquired",
        f"scheduler {b}: standing by for {a}",
        f"scheduler {b}: took over the lease from {a}",
        f"scheduler {b}: lease released",
    ]
    assert all(
        r.levelno == logging.INFO
        for r in caplog.records
        if r.name == "corrections.scheduler.service"
    )


def test_the_deep_health_check_reports_the_heartbeat_the_scheduler_stored(app, client, clock):
    """The scheduler's lease length is not the web server's: a heartbeat computed from the
    web server's SCHEDULER_LEASE_SECONDS (90) would be a minute early for a 30 s lease."""
    clock.set(T0)
    token = client.post(
        "/api/v1/auth/token", json={"username": "city", "password": DEMO_PASSWORD}
    ).get_json()["access_token"]
    holder = _holder("scheduler-host:7")
    for beat in (T0, T0 + timedelta(seconds=10)):  # acquired, then renewed
        with app.app_context():
            service.acquire_lease(db.session, holder=holder, ttl=timedelta(seconds=30), now=beat)
            db.session.remove()
        body = client.get("/healthz?deep=1", headers={"Authorization": f"Bearer {token}"})
        assert body.get_json()["checks"]["scheduler"] == {
            "status": "ok",
            "holder": holder,
            "last_heartbeat": beat.isoformat(),
            "lease_expires_at": (beat + timedelta(seconds=30)).isoformat(),
        }


def test_scheduler_list_prints_beijing_times_with_their_offset(app, runner, run_job, clock):
    run_job("term_endings", at=T0)  # a last run to show
    leader = _holder("scheduler-host:9")
    with app.app_context():
        service.release_lease(db.session, holder="test-scheduler")  # run_job's
        service.acquire_lease(db.session, holder=leader, ttl=TTL, now=T0)
        db.session.remove()
    result = runner.invoke(main, ["scheduler", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"主调度器：{leader}（租约续期于 2026-12-01 10:00:00+08:00，"
        "有效至 2026-12-01 10:01:30+08:00）"
    )
    assert lines[2].split() == ["任务", "触发规则", "下次运行", "上次运行"]  # the headings
    row = next(line for line in lines if line.startswith("term_endings"))

    def column(line: str, text: str) -> int:  # where ``text`` starts at a terminal
        before = line[: line.index(text)]
        return sum(2 if unicodedata.east_asian_width(c) == "W" else 1 for c in before)

    # Under its heading: the next run, then the last with its outcome.
    assert column(row, "2026-12-02 06:30:00+08:00") == column(lines[2], "下次运行")
    assert row.endswith("2026-12-01 10:00:00+08:00 succeeded")
    # Every time in the listing carries the +08:00 offset (none as "CST" or UTC's "Z").
    offsets = re.findall(
        r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?((?:[+-]\d\d:\d\d)|Z| [A-Z]{3,4})?", result.output
    )
    assert len(offsets) > 14 and set(offsets) == {"+08:00"}, offsets
    assert "CST" not in result.output and "Z " not in result.output
