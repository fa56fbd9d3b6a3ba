"""The command-centre page in a real browser (headless Chromium through Selenium).

A commander signs in, sees their district's alerts only, a missed report appears live without
a reload, they acknowledge it; screenshots at 1920x1080 and 1366x768 are kept as artifacts
(``CORRECTIONS_TEST_ARTIFACTS``, default ``test-artifacts/`` in the project). A person named
``<script>alert(1)</script>`` shows as text, and the page asks no host but its own.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Where they are
missing the test is skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from corrections.core.db import db
from corrections.org.models import Unit
from corrections.supervision.models import Obligation
from tests.support.browser import requested_hosts, require_browser

require_browser()

from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

NOW = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)  # 10:00 Dec 12 in Shanghai
XSS = "<script>alert(1)</script>"


def _sign_in(browser, base, username):
    browser.get(base + "/command-centre")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys("test-password-123")
    browser.find_element(By.ID, "signin-button").click()
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "stream-state"), "实时")
    )


def _miss_a_report(app, person):
    """Make the person's open report window due yesterday (as if planned two weeks ago)."""
    with app.app_context():
        db.session.execute(
            update(Obligation)
            .where(Obligation.person_id == person["id"], Obligation.kind == "report")
            .values(opens_on=NOW.date() - timedelta(days=14), due_on=NOW.date() - timedelta(days=1))
        )
        db.session.commit()
        db.session.remove()
    return person


def _rows(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#alerts-body tr")


def test_a_commander_watches_alerts_arrive_and_acknowledges_one(
    app, clock, login, active, run_job, server, browser, artifacts
):
    mine = [active(), active(name=XSS)]
    active(api=login("officer-xicheng-1"))  # another district's person, with alerts of its own
    run_job("sweep_obligations", at=NOW)  # the Dec 11 reports were missed
    with app.app_context():
        dongcheng = db.session.scalar(select(Unit.id).where(Unit.code == "329901"))
        db.session.remove()
    commander = login("commander-dongcheng")
    expected = commander.get("/api/v1/alerts", query_string={"page_size": 200}).get_json()
    assert expected["total"] > 0

    _sign_in(browser, server.url, "commander-dongcheng")
    WebDriverWait(browser, 10).until(lambda b: len(_rows(b)) == expected["total"])
    assert {r.get_attribute("data-district-id") for r in _rows(browser)} == {str(dongcheng)}
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "kpi-active").text == str(len(mine))
    )

    # A missed report: a person whose report window fell due yesterday, then the sweep.
    late = _miss_a_report(app, active(api=login("officer-dongcheng-1")))

    started = time.monotonic()
    run_job("sweep_obligations", at=NOW + timedelta(minutes=15))
    selector = f'#alerts-body tr[data-kind="obligation_missed"] a[data-person-id="{late["id"]}"]'
    WebDriverWait(browser, 5).until(lambda b: b.find_elements(By.CSS_SELECTOR, selector))
    assert time.monotonic() - started < 5
    browser.save_screenshot(str(artifacts / "command-centre-1920x1080.png"))

    # Acknowledge it through the page, with a note (rows are redrawn as changes stream in,
    # so each step looks the row up afresh).
    button = (
        f'#alerts-body tr[data-kind="obligation_missed"]:has(a[data-person-id="{late["id"]}"]) '
        'button[data-action="acknowledge"]'
    )
    WebDriverWait(browser, 5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: b.find_element(By.CSS_SELECTOR, button).click() or True
    )
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "note-text")))
    browser.find_element(By.ID, "note-text").send_keys("已电话联系，明日补报")
    browser.find_element(By.ID, "note-ok").click()
    acknowledged = (
        '#alerts-body tr[data-kind="obligation_missed"][data-status="acknowledged"] '
        f'a[data-person-id="{late["id"]}"]'
    )
    WebDriverWait(browser, 5).until(lambda b: b.find_elements(By.CSS_SELECTOR, acknowledged))
    alerts = commander.get(
        "/api/v1/alerts", query_string={"person_id": late["id"], "kind": "obligation_missed"}
    ).get_json()["items"]
    assert [a["status"] for a in alerts] == ["acknowledged"]
    assert alerts[0]["ack_note"] == "已电话联系，明日补报"

    # The server restarts; while it is down another report is missed. The page reconnects
    # and catches up from the last change it saw (Last-Event-ID).
    server.stop()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "stream-state").get_attribute("data-state") == "retrying"
    )
    later = _miss_a_report(app, active(api=login("officer-dongcheng-1")))
    run_job("sweep_obligations", at=NOW + timedelta(minutes=30))
    server.start()
    missed_while_down = (
        f'#alerts-body tr[data-kind="obligation_missed"] a[data-person-id="{later["id"]}"]'
    )
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, missed_while_down))

    # The person named like a script shows as text in the drawer.
    browser.find_element(By.CSS_SELECTOR, f'a[data-person-id="{mine[1]["id"]}"]').click()
    title = WebDriverWait(browser, 5).until(
        ec.visibility_of_element_located((By.ID, "drawer-title"))
    )
    WebDriverWait(browser, 5).until(lambda b: XSS in title.text)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - no alert() ran
    assert browser.execute_script(
        "return [...document.scripts].every(s => !s.textContent.includes('alert(1)'))"
    )
    browser.find_element(By.ID, "drawer-close").click()

    browser.set_window_size(1366, 768)
    time.sleep(0.5)
    browser.save_screenshot(str(artifacts / "command-centre-1366x768.png"))
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )

    origin = urlsplit(server.url).netloc
    assert requested_hosts(browser) == {origin}
    violations = [
        e["message"]
        for e in browser.get_log("browser")
        if "Content Security Policy" in e["message"]
    ]
    assert violations == []


def test_two_thousand_open_alerts_page_by_fifty(app, login, active, server, browser):
    person = active()
    with app.app_context():
        from corrections.alerts import service as alerts

        for i in range(2000):
            alerts.raise_one(
                db.session,
                person_id=person["id"],
                kind="monitor_alarm",
                subject_type="event",
                subject_id=i + 1,
                detail={"alarm": "battery"},
                now=NOW - timedelta(seconds=i),
            )
        db.session.commit()
        db.session.remove()
    browser.set_window_size(1366, 768)
    _sign_in(browser, server.url, "commander-dongcheng")
    WebDriverWait(browser, 10).until(lambda b: len(_rows(b)) == 50)
    # Counted up to 1,000 (alerts.COUNT_LIMIT: a long list is not counted whole for every
    # page); its pages go on while they are full.
    assert browser.find_element(By.ID, "alerts-total").text == "共 1000+ 条"
    assert browser.find_element(By.ID, "alerts-page").text == "第 1 页"
    first_page = _rows(browser)[0].get_attribute("data-id")
    browser.find_element(By.ID, "alerts-next").click()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "alerts-page").text == "第 2 页"
    )
    assert len(_rows(browser)) == 50 and _rows(browser)[0].get_attribute("data-id") != first_page
    assert not browser.find_element(By.ID, "alerts-next").get_attribute("disabled")


def test_a_wrong_password_is_told_in_chinese(city, server, browser):
    # The page asks for its own language (zh-CN): the server's problem detail is Chinese.
    browser.get(server.url + "/command-centre")
    browser.find_element(By.ID, "username").send_keys("commander-dongcheng")
    browser.find_element(By.ID, "password").send_keys("not-the-password-1")
    browser.find_element(By.ID, "signin-button").click()
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "signin-error"), "用户名或密码错误。")
    )
    assert "Wrong" not in browser.find_element(By.ID, "signin-error").text


def test_the_city_sees_a_failed_backup_arrive_as_the_systems_alert_and_acknowledges_it(
    app, city, server, browser, tmp_path
):
    from corrections.scheduler import service as scheduler

    _sign_in(browser, server.url, "city")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    with app.app_context():
        run = scheduler.run_job(
            db.session,
            "backup",
            holder="test",
            lease_ttl=timedelta(seconds=90),
            require_lease=False,
            options={"out": str(blocker / "backups")},
        )
        assert run.status == "failed"
        run_id = run.id
        db.session.remove()
    row = '#alerts-body tr[data-kind="backup_failed"]'
    WebDriverWait(browser, 5).until(lambda b: b.find_elements(By.CSS_SELECTOR, row))
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, f"{row} td")]
    assert cells[1] == "备份失败" and cells[2] == "系统"
    assert f"运行 #{run_id}" in cells[3]
    assert not browser.find_elements(By.CSS_SELECTOR, f"{row} a.person")

    WebDriverWait(browser, 5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: (
            b.find_element(By.CSS_SELECTOR, f'{row} button[data-action="acknowledge"]').click()
            or True
        )
    )
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "note-text")))
    assert browser.find_element(By.ID, "note-title").text == "签收：备份失败（系统）"
    browser.find_element(By.ID, "note-ok").click()
    WebDriverWait(browser, 5).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, f'{row}[data-status="acknowledged"]')
    )
