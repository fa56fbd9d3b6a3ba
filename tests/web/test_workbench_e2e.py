"""The officer workbench (司法所工作台) in a real browser (headless Chromium through Selenium).

An officer's day: sign in, see today's due list (most urgent first), record a report for a
person due today (the obligation turns fulfilled; a double click records once) and a late
one for a person whose report was missed (its alert leaves the commander's screen, open in
another window, within 5 s), propose an admonition with its evidence, record a home
visit with the form generated from the event type's schema (a wrong value shows the server's
Chinese message beside its field), request a 10-day trip and see it wait for the district,
take in a new person with a wrong ID check digit (the Chinese error at the field) then the
right one. An officer of another office never sees a juvenile's name. Screenshots at
1920x1080 and 1366x768; no request to another host; no console error.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update

from corrections.core.db import db
from corrections.persons import idnumber
from corrections.supervision.models import Obligation
from tests.factories import id_number_for, juvenile_payload
from tests.support.browser import console_errors, requested_hosts, require_browser

require_browser()

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

DAY = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # 10:00 Dec 11 in Shanghai: reports fall due
JUVENILE = "王小红"


def _sign_in(browser, base, username):
    browser.get(base + "/workbench")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys("test-password-123")
    browser.find_element(By.ID, "signin-button").click()
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "tab-today")))


def _set(browser, element, value):
    """A date input's value (typing dates depends on the browser's locale)."""
    browser.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        element,
        value,
    )


def _wait_closed(browser, dialog_id):
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, dialog_id).get_attribute("open") is None
    )


def _field(browser, form_id, name):
    return browser.find_element(By.CSS_SELECTOR, f'#{form_id} [name="{name}"]')


def _command_centre(browser, base, username):
    """A second window: the command centre, signed in and following the live stream."""
    browser.switch_to.new_window("window")
    browser.get(base + "/command-centre")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys("test-password-123")
    browser.find_element(By.ID, "signin-button").click()
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "stream-state"), "实时")
    )
    return browser.current_window_handle


def test_an_officers_day_on_the_workbench(
    app, clock, login, active, run_job, server, browser, artifacts
):
    person = active()  # 张伟: reported for intake on Nov 27, his report falls due on Dec 11
    active(**juvenile_payload())
    late = active(name="李明")  # his report window fell due on Dec 10: missed, alerted
    with app.app_context():
        late_report = db.session.scalar(
            select(Obligation.id).where(
                Obligation.person_id == late["id"], Obligation.kind == "report"
            )
        )
        db.session.execute(
            update(Obligation)
            .where(Obligation.id == late_report)
            .values(opens_on=date(2026, 11, 27), due_on=date(2026, 12, 10))
        )
        db.session.commit()
        db.session.remove()
    run_job("sweep_obligations", at=DAY)
    clock.set(DAY)
    officer = login("officer-dongcheng-1")
    missed = officer.get(
        "/api/v1/alerts", query_string={"person_id": late["id"], "kind": "obligation_missed"}
    ).get_json()["items"]
    missed = next(a for a in missed if a["subject_id"] == late_report)
    assert missed["status"] == "open"

    # The district's command centre watches in its own window.
    alert_row = f'#alerts-body tr[data-id="{missed["id"]}"]'
    commander_window = _command_centre(browser, server.url, "commander-dongcheng")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, alert_row))
    browser.switch_to.new_window("window")
    officer_window = browser.current_window_handle
    report = next(
        o
        for o in officer.get(f"/api/v1/persons/{person['id']}/obligations?status=open").get_json()
        if o["kind"] == "report"
    )
    assert report["due_on"] == "2026-12-11"

    _sign_in(browser, server.url, "officer-dongcheng-1")
    rows = "tr[data-urgency]"
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, rows))
    # The most urgent first: overdue, then due today, then soon.
    rank = {"overdue": 0, "today": 1, "soon": 2}
    urgencies = [
        r.get_attribute("data-urgency") for r in browser.find_elements(By.CSS_SELECTOR, rows)
    ]
    assert urgencies == sorted(urgencies, key=rank.__getitem__)
    due = browser.find_element(By.CSS_SELECTOR, f'tr[data-obligation-id="{report["id"]}"]')
    assert due.get_attribute("data-urgency") == "today"
    assert "张伟" in due.text and "报到" in due.text and "2026年12月11日" in due.text
    browser.save_screenshot(str(artifacts / "workbench-today-1920x1080.png"))

    # Record the report from its row; a double click records it once.
    due.find_element(By.CSS_SELECTOR, 'button[data-action="report"]').click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "event-ok")))
    ok = browser.find_element(By.ID, "event-ok")
    browser.execute_script("arguments[0].click(); arguments[0].click();", ok)
    _wait_closed(browser, "event-dialog")
    WebDriverWait(browser, 10).until(
        lambda b: not b.find_elements(By.CSS_SELECTOR, f'tr[data-obligation-id="{report["id"]}"]')
    )
    fulfilled = officer.get(
        f"/api/v1/persons/{person['id']}/obligations?kind=report&status=fulfilled"
    ).get_json()
    assert [o["id"] for o in fulfilled] == [report["id"]]
    reports = officer.get(f"/api/v1/persons/{person['id']}/events?type=report").get_json()
    assert reports["total"] == 1

    # The overdue report, late: its alert resolves on the commander's screen within 5 s.
    overdue = f'tr[data-urgency="overdue"]:has(a[data-person-id="{late["id"]}"]) '
    WebDriverWait(browser, 5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: (
            b.find_element(By.CSS_SELECTOR, overdue + 'button[data-action="report"]').click()
            or True
        )
    )
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "event-ok")))
    browser.find_element(By.ID, "event-ok").click()
    _wait_closed(browser, "event-dialog")
    started = time.monotonic()
    browser.switch_to.window(commander_window)
    WebDriverWait(browser, 5).until(lambda b: not b.find_elements(By.CSS_SELECTOR, alert_row))
    assert time.monotonic() - started < 5
    resolved = officer.get(
        "/api/v1/alerts",
        query_string={"person_id": late["id"], "kind": "obligation_missed", "status": "resolved"},
    ).get_json()["items"]
    assert [(a["id"], a["auto_resolved"]) for a in resolved] == [(missed["id"], True)]
    browser.switch_to.window(officer_window)

    # The person's page; a home visit (实地查访) with the generated form.
    WebDriverWait(browser, 5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: (
            b.find_element(
                By.CSS_SELECTOR, f'#today-body a[data-person-id="{person["id"]}"]'
            ).click()
            or True
        )
    )
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "person-body")))
    assert "仅供参考" in browser.find_element(By.CSS_SELECTOR, '[data-section="risk"]').text
    # First a wrong value: the server's message shows beside the field it names.
    Select(browser.find_element(By.ID, "record-type")).select_by_value("education")
    browser.find_element(By.ID, "record-open").click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "event-ok")))
    browser.find_element(By.CSS_SELECTOR, '#event-fields [data-name="hours"]').send_keys("30")
    browser.find_element(By.CSS_SELECTOR, '#event-fields [data-name="topic"]').send_keys("法治")
    browser.find_element(By.ID, "event-ok").click()
    slot = '#event-form .field-error[data-field="payload.hours"]'
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, slot).text)
    assert "24" in browser.find_element(By.CSS_SELECTOR, slot).text
    browser.find_element(By.ID, "event-cancel").click()

    Select(browser.find_element(By.ID, "record-type")).select_by_value("field_visit")
    browser.find_element(By.ID, "record-open").click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "event-ok")))
    labels = browser.find_element(By.ID, "event-fields").text
    assert "发生时间 *（北京时间）" in labels and "本人在场" in labels
    browser.find_element(By.CSS_SELECTOR, '#event-fields [data-name="note"]').send_keys("家中")
    browser.find_element(By.ID, "event-ok").click()
    _wait_closed(browser, "event-dialog")
    visits = officer.get(f"/api/v1/persons/{person['id']}/events?type=field_visit").get_json()
    assert [(e["payload"], e["note"], e["channel"]) for e in visits["items"]] == [
        ({"person_present": True}, "家中", "field")
    ]
    # Dated by the server's clock, in Beijing time.
    assert visits["items"][0]["occurred_at"].startswith("2026-12-11T02:")

    # An admonition proposed with its evidence; without evidence the field says why.
    browser.find_element(By.ID, "proposal-open").click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "proposal-ok")))
    Select(browser.find_element(By.ID, "proposal-kind")).select_by_value("admonition")
    Select(browser.find_element(By.ID, "proposal-ground")).select_by_value("admonition.rules_minor")
    assert "34(2)" in browser.find_element(By.ID, "proposal-article").text
    _field(browser, "proposal-form", "facts").send_keys("12月9日未经批准外出，经谈话核实属实")
    browser.find_element(By.ID, "proposal-ok").click()
    slot = '#proposal-form .field-error[data-field="event_ids"]'
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, slot).text)
    evidence = browser.find_element(By.CSS_SELECTOR, '#proposal-events input[type="checkbox"]')
    evidence.click()
    browser.find_element(By.ID, "proposal-ok").click()
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "proposal-done")))
    proposal_id = int(
        browser.find_element(By.ID, "proposal-done").get_attribute("data-proposal-id")
    )
    browser.find_element(By.ID, "proposal-cancel").click()
    waiting = (
        login("commander-dongcheng")
        .get("/api/v1/proposals", query_string={"status": "proposed"})
        .get_json()["items"]
    )
    made = next(p for p in waiting if p["id"] == proposal_id)
    assert (made["kind"], made["proposed_by"]) == ("admonition", "officer-dongcheng-1")
    assert made["evidence"]["event_ids"] == [int(evidence.get_attribute("value"))]
    # The person's page is drawn again behind the confirmation.
    WebDriverWait(browser, 5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: (
            "officer-dongcheng-1 提出"
            in b.find_element(By.CSS_SELECTOR, '[data-section="sanctions"]').text
        )
    )

    # A 10-day trip: beyond the office's 7 days, it waits for the district.
    browser.find_element(By.ID, "permit-open").click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "permit-ok")))
    _field(browser, "permit-form", "destination").send_keys("南京市鼓楼区")
    _field(browser, "permit-form", "reason").send_keys("探望生病的母亲")
    _set(browser, _field(browser, "permit-form", "start_date"), "2026-12-15")
    _set(browser, _field(browser, "permit-form", "end_date"), "2026-12-24")
    browser.find_element(By.ID, "permit-ok").click()
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "permit-done")))
    done = browser.find_element(By.ID, "permit-done")
    assert done.get_attribute("data-level") == "district" and "待审批" in done.text
    browser.find_element(By.ID, "permit-cancel").click()
    queue = (
        login("commander-dongcheng")
        .get("/api/v1/travel-permits?status=requested&approval_level=district")
        .get_json()
    )
    assert [(p["person_id"], p["days"]) for p in queue["items"]] == [(person["id"], 10)]
    browser.save_screenshot(str(artifacts / "workbench-person-1920x1080.png"))
    browser.set_window_size(1366, 768)
    browser.save_screenshot(str(artifacts / "workbench-person-1366x768.png"))

    # Intake: a wrong check digit is refused at the field as typed, in Chinese.
    browser.find_element(By.ID, "intake-open").click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "intake-ok")))
    right = id_number_for(date(1988, 3, 9))
    wrong = right[:17] + ("0" if right[17] != "0" else "1")
    _field(browser, "intake-form", "name").send_keys("赵强")
    Select(_field(browser, "intake-form", "gender")).select_by_value("male")
    _field(browser, "intake-form", "id_number").send_keys(wrong)
    error = browser.find_element(By.ID, "intake-id-error")
    WebDriverWait(browser, 5).until(lambda b: error.text)
    assert error.text == "校验码错误" or "校验" in error.text
    for name, value in (
        ("date_of_birth", "1988-03-09"),
        ("offence_date", "2026-03-02"),
        ("judgment_date", "2026-11-30"),
        ("judgment_effective_date", "2026-12-05"),
        ("term_start", "2026-12-06"),
        ("term_end", "2027-12-05"),
    ):
        _set(browser, _field(browser, "intake-form", name), value)
    Select(_field(browser, "intake-form", "category")).select_by_value("suspended_sentence")
    Select(_field(browser, "intake-form", "crime_type")).select_by_value("dangerous_driving")
    browser.find_element(By.ID, "intake-ok").click()
    assert not browser.find_element(By.ID, "intake-done").is_displayed()  # nothing sent
    field = _field(browser, "intake-form", "id_number")
    field.clear()
    field.send_keys(right)
    WebDriverWait(browser, 5).until(lambda b: error.text == "")
    browser.find_element(By.ID, "intake-ok").click()
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "intake-done")))
    browser.save_screenshot(str(artifacts / "workbench-intake-1366x768.png"))
    new_id = browser.find_element(By.ID, "intake-done").get_attribute("data-person-id")
    taken = officer.get(f"/api/v1/persons/{new_id}").get_json()
    assert (taken["name"], taken["id_number"], taken["status"]) == ("赵强", right, "pending_intake")
    browser.find_element(By.ID, "intake-cancel").click()

    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="today"]').click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, rows))
    browser.save_screenshot(str(artifacts / "workbench-today-1366x768.png"))
    assert requested_hosts(browser) == {urlsplit(server.url).netloc}
    # The failed requests are the wrong values entered on purpose (422, shown at their field).
    errors = console_errors(browser)
    on_purpose = [e for e in errors if "422" in e and ("/events - " in e or "/proposals - " in e)]
    assert len(on_purpose) == 2, errors
    assert [e for e in errors if e not in on_purpose] == []


def test_an_officer_of_another_office_never_sees_a_juveniles_name(
    app, clock, login, active, server, browser
):
    young = active(**juvenile_payload(name=JUVENILE))
    clock.set(DAY)
    # Their trip request and their obligations are in office 32990101's lists only.
    _sign_in(browser, server.url, "officer-dongcheng-2")
    for tab in ("today", "caseload", "permits"):
        browser.find_element(By.CSS_SELECTOR, f'.tab[data-tab="{tab}"]').click()
        WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, f"tab-{tab}")))
        WebDriverWait(browser, 10).until(
            lambda b: b.execute_script("return document.readyState") == "complete"
        )
        body = browser.find_element(By.TAG_NAME, "body").get_attribute("textContent")
        assert JUVENILE not in body and JUVENILE[0] + "＊" not in body
    assert not browser.find_elements(By.CSS_SELECTOR, f'[data-person-id="{young["id"]}"]')
    # Her own office sees her (the test sees the list it checks).
    browser.find_element(By.ID, "signout").click()
    _sign_in(browser, server.url, "officer-dongcheng-1")
    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="caseload"]').click()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements(
            By.CSS_SELECTOR, f'#caseload-body [data-person-id="{young["id"]}"]'
        )
    )
    assert console_errors(browser) == []


def test_the_pages_id_check_is_the_servers(server, browser):
    """The ID number check ported to the page (idnumber.js) agrees with the server's."""
    browser.get(server.url + "/workbench")
    births = [date(1950, 1, 1), date(1988, 2, 29), date(1999, 12, 31), date(2010, 3, 8)]
    valid = [
        idnumber.make(a, b, s) for a in ("329901", "110105") for b in births for s in (1, 38, 999)
    ]
    samples = valid + [v[:17] + ("X" if v[17] != "X" else "0") for v in valid[:6]]
    samples += ["32990119880230001X", "3299011988030900", "32990118991231001a"]
    page = browser.execute_script(
        "return arguments[0].map((v) => [CorrectionsIdNumber.checkChar(v.slice(0, 17)),"
        " CorrectionsIdNumber.problem(v)]);",
        samples,
    )
    for value, (check, problem) in zip(samples, page, strict=True):
        try:
            idnumber.parse(value)
            server_ok = True
        except idnumber.IdNumberError:
            server_ok = False
        assert (problem is None) == server_ok, value
        if len(value) == 18 and value[:17].isdigit():
            assert check == idnumber.check_char(value[:17]), value
