"""The risk model's health page (风险模型监测) in a real browser (headless Chromium): an
analyst signs in and reads the monthly figures of the model, in Chinese, with the crossed
thresholds; an officer signs in and is refused by the API. No person on the page, no host but
its own."""

from __future__ import annotations

from tests.support.browser import require_browser

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402 - only where a browser exists
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.conftest import DEMO_PASSWORD  # noqa: E402
from tests.support.browser import console_errors, requested_hosts  # noqa: E402
from tests.support.risk_monitoring import RUN_AT  # noqa: E402


def _sign_in(browser, base: str, username: str, page: str = "/model-health") -> None:
    browser.get(base + page)
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.ID, "signin-button").click()
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "app")))


def test_an_analyst_reads_the_model_health_an_officer_is_refused(
    drifted, run_job, server, browser, artifacts
):
    run_job("risk_monitoring", at=RUN_AT)
    # From the command centre, where the analyst lands: the page's link (a page of its own,
    # signed in again: the token lives in each page's script only).
    _sign_in(browser, server.url, "analyst", "/command-centre")
    link = browser.find_element(By.ID, "model-health-link")
    assert link.is_displayed() and link.text == "风险模型监测"
    link.click()
    WebDriverWait(browser, 10).until(ec.url_to_be(server.url + "/model-health"))
    _sign_in(browser, server.url, "analyst")
    row = 'tr[data-month="2026-12"]'
    WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#health-body " + row))
    )
    tr = browser.find_element(By.CSS_SELECTOR, "#health-body " + row)
    assert tr.get_attribute("data-status") == "alert"
    cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
    assert cells[1:3] == ["drift-test", "2026/8/1 – 2026/8/31"] and cells[12] == "越过阈值"
    assert "PSI（风险评分）" in cells[13]
    assert browser.find_element(By.ID, "active-model").text == "drift-test"
    assert "PSI 超过 0.25" in browser.find_element(By.ID, "thresholds").text
    browser.save_screenshot(str(artifacts / "model-health.png"))
    assert requested_hosts(browser) == {f"127.0.0.1:{server.port}"}
    assert console_errors(browser) == []

    browser.find_element(By.ID, "signout").click()
    _sign_in(browser, server.url, "officer-dongcheng-1")
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "health-error").text.strip() != ""
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#health-body tr") == []
