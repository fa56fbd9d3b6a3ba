"""The password pages in a real browser (headless Chromium): a user redeems the reset code an
administrator handed over, starting from the sign-in page's link; a signed-in user changes
their password from the command centre's header. The server's problem details show in Chinese
beside the fields they name, and the pages ask no host but their own."""

from __future__ import annotations

from tests.support.browser import require_browser

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402 - only where a browser exists
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.conftest import DEMO_PASSWORD  # noqa: E402
from tests.support.browser import console_errors, requested_hosts  # noqa: E402

NEW_PASSWORD = "green-river-stone-42"


def _type(browser, element_id: str, text: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def _text_in(browser, element_id: str, text: str) -> None:
    WebDriverWait(browser, 10).until(ec.text_to_be_present_in_element((By.ID, element_id), text))


def _sign_in(browser, base: str, username: str, password: str) -> None:
    browser.get(base + "/command-centre")
    _type(browser, "username", username)
    _type(browser, "password", password)
    browser.find_element(By.ID, "signin-button").click()


def _signed_in(browser) -> None:
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "app")))


def _script_errors(browser) -> list[str]:
    # A refused request is logged by Chromium too ("Failed to load resource"): not a script's.
    return [m for m in console_errors(browser) if "Failed to load resource" not in m]


def test_a_user_sets_a_new_password_with_the_code_from_the_sign_in_page(
    login, server, browser, tmp_path
):
    issued = login("admin").post("/api/v1/admin/users/officer-dongcheng-1/reset-code")
    assert issued.status_code == 201
    code = issued.get_json()["code"]

    browser.get(server.url + "/command-centre")
    link = browser.find_element(By.ID, "reset-link")
    assert link.text == "使用重置码设置新密码"
    link.click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "reset-form")))
    assert browser.current_url == server.url + "/password-reset"
    policy = browser.find_element(By.ID, "reset-policy").text
    assert "密码至少 10 个字符" in policy and "密码不能包含用户名" in policy

    # The two new passwords differ: said beside the second, nothing sent.
    _type(browser, "reset-username", "officer-dongcheng-1")
    _type(browser, "reset-code", code.lower())  # as read from paper: any case
    _type(browser, "reset-new-password", NEW_PASSWORD)
    _type(browser, "reset-new-password-again", NEW_PASSWORD + "x")
    browser.find_element(By.ID, "reset-button").click()
    _text_in(browser, "error-new_password_again", "两次输入的新密码不一致")

    # Too weak: the server's 422 in Chinese beside the new password.
    _type(browser, "reset-new-password", "short")
    _type(browser, "reset-new-password-again", "short")
    browser.find_element(By.ID, "reset-button").click()
    _text_in(browser, "error-new_password", "密码至少 10 个字符")
    assert browser.find_element(By.ID, "error-new_password_again").text == ""

    # A wrong code: the 401's detail, which names no field, under the form.
    _type(browser, "reset-code", "AAAA-BBBB-CCCC-DDDD")
    _type(browser, "reset-new-password", NEW_PASSWORD)
    _type(browser, "reset-new-password-again", NEW_PASSWORD)
    browser.find_element(By.ID, "reset-button").click()
    _text_in(browser, "reset-error", "用户名或重置码不对")
    assert browser.find_element(By.ID, "error-new_password").text == ""

    _type(browser, "reset-code", code)
    _type(browser, "reset-new-password", NEW_PASSWORD)
    _type(browser, "reset-new-password-again", NEW_PASSWORD)
    browser.find_element(By.ID, "reset-button").click()
    _text_in(browser, "reset-done", "新密码已设置")
    assert browser.find_element(By.ID, "reset-error").text == ""
    assert browser.find_element(By.ID, "reset-code").get_attribute("value") == ""
    browser.save_screenshot(str(tmp_path / "reset.png"))

    browser.find_element(By.ID, "back-to-signin").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "signin-form")))
    _type(browser, "username", "officer-dongcheng-1")
    _type(browser, "password", NEW_PASSWORD)
    browser.find_element(By.ID, "signin-button").click()
    _signed_in(browser)
    assert requested_hosts(browser) == {server.url.removeprefix("http://")}
    assert _script_errors(browser) == []


def test_a_signed_in_user_changes_their_password_from_the_header(server, browser, client):
    _sign_in(browser, server.url, "commander-dongcheng", DEMO_PASSWORD)
    _signed_in(browser)
    browser.find_element(By.ID, "change-password").click()
    dialog = browser.find_element(By.ID, "password-dialog")
    WebDriverWait(browser, 5).until(lambda b: dialog.get_attribute("open") is not None)
    assert "不能是常见密码或公开的演示密码" in browser.find_element(By.ID, "password-policy").text

    # A wrong current password: the server's 422 beside that field.
    _type(browser, "old-password", "not-the-password-1")
    _type(browser, "new-password", NEW_PASSWORD)
    _type(browser, "new-password-again", NEW_PASSWORD)
    browser.find_element(By.ID, "password-ok").click()
    _text_in(browser, "error-old_password", "当前密码不对")

    _type(browser, "old-password", DEMO_PASSWORD)
    _type(browser, "new-password", NEW_PASSWORD)
    _type(browser, "new-password-again", NEW_PASSWORD)
    browser.find_element(By.ID, "password-ok").click()
    _text_in(browser, "password-done", "密码已修改")
    assert browser.find_element(By.ID, "error-old_password").text == ""
    # This page's token stays valid: it still reads the API.
    browser.find_element(By.ID, "password-cancel").click()
    assert browser.find_element(By.ID, "app").is_displayed()

    old = client.post(
        "/api/v1/auth/token", json={"username": "commander-dongcheng", "password": DEMO_PASSWORD}
    )
    assert old.status_code == 401
    browser.find_element(By.ID, "signout").click()
    _sign_in(browser, server.url, "commander-dongcheng", NEW_PASSWORD)
    _signed_in(browser)
    assert requested_hosts(browser) == {server.url.removeprefix("http://")}
    assert _script_errors(browser) == []
