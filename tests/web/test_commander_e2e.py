"""The command centre's decisions (待办决定) and each role's landing, in a real browser
(headless Chromium through Selenium).

A commander's round: approve a grade proposal with a note (an empty note is refused by the
page, nothing sent), decline a sanction proposal (a one-character note is refused by the
server, its problem shown beside the field), open a proposed flag choosing the responsible
officer from the office's staff list; each decision shows in the API afterwards and the item
leaves the list. An analyst lands on the statistics and the risk models and never asks for the
alert stream; an auditor on the audit search and the trail's verification; an administrator
on the system's alerts and the scheduler. Screenshots at 1920x1080 and 1366x768 in
``artifacts``; no request to another host; no console error.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from selenium.webdriver.support.ui import Select

from corrections.core.db import db
from corrections.incidents import flags
from tests.support.browser import console_errors, requested_hosts, require_browser
from tests.support.queues import grade_proposal, sanction_proposal, user_id

require_browser()

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

STALE = (StaleElementReferenceException,)


def _sign_in(browser, base, username):
    browser.get(base + "/command-centre")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys("test-password-123")
    browser.find_element(By.ID, "signin-button").click()
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "app")))


def _item(queue, item_id):
    return f'#decisions-list li.decision[data-queue="{queue}"][data-id="{item_id}"]'


def _click(browser, selector):
    WebDriverWait(browser, 10, ignored_exceptions=STALE).until(
        lambda b: b.find_element(By.CSS_SELECTOR, selector).click() or True
    )


def _field_error(browser, name):
    return browser.find_element(
        By.CSS_SELECTOR, f'#decision-form .field-error[data-field="{name}"]'
    ).text


def _propose_flag(app, person_id):
    with app.app_context():
        flags.propose(
            db.session,
            [person_id],
            basis="sanctions",
            reason="180日内多次受到处罚，建议挂牌管控",
            now=app.extensions["corrections.clock"].now(),
        )
        db.session.commit()
        db.session.remove()


def test_a_commanders_round_of_decisions_shows_in_the_api(
    app, login, active, server, browser, artifacts
):
    graded = active(name="李明")
    sanctioned = active(name="赵强")
    flagged = active(name="孙丽")
    grade_id = grade_proposal(app, graded["id"])
    proposal_id = sanction_proposal(app, sanctioned["id"])
    _propose_flag(app, flagged["id"])
    commander = login("commander-dongcheng")
    (flag,) = commander.get("/api/v1/flags", query_string={"status": "proposed"}).get_json()[
        "items"
    ]
    officer_id = user_id(app, "officer-dongcheng-1")

    _sign_in(browser, server.url, "commander-dongcheng")
    waiting = (_item("grade", grade_id), _item("sanction", proposal_id), _item("flag", flag["id"]))
    for selector in waiting:
        WebDriverWait(browser, 10).until(lambda b, s=selector: b.find_elements(By.CSS_SELECTOR, s))
    # Each item says who, what, on which rule and article, on what evidence.
    card = browser.find_element(By.CSS_SELECTOR, _item("sanction", proposal_id)).text
    assert "赵强" in card and "东城区城关司法所" in card and "警告" in card
    assert "受到训诫后仍不改正（实施办法 35（条号待核实））" in card
    assert "依据" in card and "证据" in card
    # The proposal's alert names who and where, and says what happened (no "对象 N", no "#").
    link = f'a[data-person-id="{sanctioned["id"]}"]'
    row = f'#alerts-body tr[data-kind="sanction_proposed"]:has({link})'
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, row))
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, f"{row} td")]
    assert "赵强" in cells[2] and "东城区城关司法所" in cells[2] and "对象" not in cells[2]
    assert cells[3] == "建议处罚待决定：警告（实施办法 35（条号待核实））"
    grade_card = browser.find_element(By.CSS_SELECTOR, _item("grade", grade_id)).text
    assert "李明" in grade_card and "由从严调整为普通" in grade_card
    browser.save_screenshot(str(artifacts / "commander-decisions-1920x1080.png"))

    # 1. Approve the grade proposal: an empty note is refused by the page (nothing sent).
    _click(browser, _item("grade", grade_id) + ' button[data-action="approve"]')
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "decision-form")))
    browser.find_element(By.ID, "decision-ok").click()
    WebDriverWait(browser, 5).until(lambda b: _field_error(b, "note") == "必填")
    still = commander.get("/api/v1/grade-decisions", query_string={"status": "proposed"})
    assert grade_id in [i["id"] for i in still.get_json()["items"]]
    browser.find_element(By.ID, "decision-field-note").send_keys("考核良好，同意放宽")
    browser.find_element(By.ID, "decision-ok").click()
    WebDriverWait(browser, 10).until(
        lambda b: not b.find_elements(By.CSS_SELECTOR, _item("grade", grade_id))
    )
    effective = commander.get("/api/v1/grade-decisions", query_string={"status": "effective"})
    item = next(i for i in effective.get_json()["items"] if i["id"] == grade_id)
    assert (item["status"], item["decision_note"]) == ("effective", "考核良好，同意放宽")
    assert item["decided_by"] == "commander-dongcheng"

    # 2. Decline the sanction proposal: the server's problem shows beside the note field.
    _click(browser, _item("sanction", proposal_id) + ' button[data-action="decline"]')
    note = WebDriverWait(browser, 5).until(
        ec.visibility_of_element_located((By.ID, "decision-field-note"))
    )
    note.send_keys("否")
    browser.find_element(By.ID, "decision-ok").click()
    WebDriverWait(browser, 5).until(lambda b: _field_error(b, "note") not in ("", "必填"))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in _field_error(browser, "note"))
    note = browser.find_element(By.ID, "decision-field-note")
    note.clear()
    note.send_keys("证据不足，不予警告")
    browser.find_element(By.ID, "decision-ok").click()
    WebDriverWait(browser, 10).until(
        lambda b: not b.find_elements(By.CSS_SELECTOR, _item("sanction", proposal_id))
    )
    declined = commander.get("/api/v1/proposals", query_string={"status": "declined"})
    (done,) = [i for i in declined.get_json()["items"] if i["id"] == proposal_id]
    assert done["status"] == "declined"
    assert "证据不足，不予警告" in json.dumps(done, ensure_ascii=False)

    # 3. Open the flag: the level and the responsible officer are chosen from lists.
    _click(browser, _item("flag", flag["id"]) + ' button[data-action="open"]')
    officers = WebDriverWait(browser, 5).until(
        ec.visibility_of_element_located((By.ID, "decision-field-responsible_officer_id"))
    )
    assert officers.tag_name == "select"
    options = {o.get_attribute("value"): o.text for o in Select(officers).options}
    assert str(officer_id) in options and "东城区城关司法所" in options[str(officer_id)]
    Select(browser.find_element(By.ID, "decision-field-level")).select_by_value("district")
    Select(officers).select_by_value(str(officer_id))
    browser.find_element(By.ID, "decision-field-reason").send_keys("多次违规，区级挂牌")
    browser.set_window_size(1366, 768)
    time.sleep(0.3)
    browser.save_screenshot(str(artifacts / "commander-decision-dialog-1366x768.png"))
    browser.find_element(By.ID, "decision-ok").click()
    WebDriverWait(browser, 10).until(
        lambda b: not b.find_elements(By.CSS_SELECTOR, _item("flag", flag["id"]))
    )
    opened = commander.get("/api/v1/flags", query_string={"status": "active"}).get_json()["items"]
    (active_flag,) = [f for f in opened if f["person_id"] == flagged["id"]]
    assert active_flag["level"] == "district"
    assert active_flag["responsible_officer_id"] == officer_id
    # The active flag waits for its conversion in the same panel.
    convert = _item("flag-active", active_flag["id"]) + ' button[data-action="convert"]'
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, convert))
    browser.save_screenshot(str(artifacts / "commander-decisions-1366x768.png"))
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )

    assert requested_hosts(browser) == {urlsplit(server.url).netloc}
    # The one refusal asked for above (the one-character note) is the only failed request.
    errors = console_errors(browser)
    assert [e for e in errors if "422" not in e] == []
    assert len(errors) == 1


def _stream_requests(browser) -> int:
    count = 0
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if (
            message["method"] == "Network.requestWillBeSent"
            and "/alerts/stream" in message["params"]["request"]["url"]
        ):
            count += 1
    return count


def test_an_analyst_lands_on_statistics_and_models_and_never_asks_for_the_stream(
    city, server, browser, artifacts
):
    _sign_in(browser, server.url, "analyst")
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "models-active").text != "")
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "kpi-active").text != "–")
    assert browser.find_element(By.CSS_SELECTOR, "section.charts").is_displayed()
    hidden_panels = ("section.alerts", "section.lost", "section.decisions", "section.jobs")
    for hidden in (*hidden_panels, "#stream-state"):
        assert not browser.find_element(By.CSS_SELECTOR, hidden).is_displayed(), hidden
    browser.get_log("performance")  # what signing in asked for
    time.sleep(5)
    assert _stream_requests(browser) == 0
    # No personal data on the analyst's page: no person link, no name column.
    assert not browser.find_elements(By.CSS_SELECTOR, "a.person")
    browser.save_screenshot(str(artifacts / "analyst-1920x1080.png"))
    browser.set_window_size(1366, 768)
    time.sleep(0.3)
    browser.save_screenshot(str(artifacts / "analyst-1366x768.png"))
    assert requested_hosts(browser) <= {urlsplit(server.url).netloc}
    assert console_errors(browser) == []


def test_an_auditor_lands_on_the_audit_search_and_the_verification(
    city, server, browser, artifacts
):
    _sign_in(browser, server.url, "auditor")
    WebDriverWait(browser, 15).until(
        lambda b: b.find_element(By.ID, "verify-status").get_attribute("data-state") == "ok"
    )
    assert browser.find_element(By.ID, "verify-status").text.startswith("审计链完好")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#audit-body tr"))
    browser.find_element(By.CSS_SELECTOR, '#audit-form input[name="actor"]').send_keys("auditor")
    browser.find_element(By.ID, "audit-search").click()
    actors = "#audit-body td:nth-child(2)"
    WebDriverWait(browser, 10, ignored_exceptions=STALE).until(
        lambda b: {td.text for td in b.find_elements(By.CSS_SELECTOR, actors)} == {"auditor"}
    )
    for hidden in ("section.alerts", "section.kpis", "section.charts", "#stream-state"):
        assert not browser.find_element(By.CSS_SELECTOR, hidden).is_displayed(), hidden
    time.sleep(1)
    assert _stream_requests(browser) == 0
    browser.save_screenshot(str(artifacts / "auditor-1920x1080.png"))
    browser.set_window_size(1366, 768)
    time.sleep(0.3)
    browser.save_screenshot(str(artifacts / "auditor-1366x768.png"))
    assert requested_hosts(browser) <= {urlsplit(server.url).netloc}
    assert console_errors(browser) == []


def test_an_administrator_lands_on_the_systems_alerts_and_the_scheduler(city, server, browser):
    _sign_in(browser, server.url, "admin")
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "stream-state"), "实时")
    )
    assert browser.find_element(By.CSS_SELECTOR, "section.jobs").is_displayed()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#jobs-body tr"))
    for hidden in ("section.kpis", "section.charts", "section.decisions", "section.lost"):
        assert not browser.find_element(By.CSS_SELECTOR, hidden).is_displayed(), hidden
    assert console_errors(browser) == []
