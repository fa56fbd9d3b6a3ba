"""The password pages without a browser: the sign-in form links to the reset page, the
command centre's header opens the 修改密码 form, both show the policy in Chinese, ask only their
own server for assets, and name their error slots as the API names its fields."""

from __future__ import annotations

import re

import pytest

from corrections.org.passwords import MIN_LENGTH

POLICY_ZH = (
    f"密码至少 {MIN_LENGTH} 个字符",  # as typed: a space at either end is refused (below)
    "密码至少包含 4 个不同字符",
    "密码首尾不能有空格或其他空白字符",
    "密码不能包含用户名",
    "不能是常见密码或公开的演示密码",
)


def _slots(html: str, form_id: str) -> set[str]:
    """The fields the form shows problems beside (``data-field``)."""
    form = html[html.index(f'id="{form_id}"') :]
    form = form[: form.index("</form>")]
    return set(re.findall(r'class="error field-error" data-field="([a-z_]+)"', form))


def _local_assets_load(client, html: str) -> None:
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs
    for ref in refs:
        if ref == "data:,":  # the empty icon: no request at all
            continue
        assert ref.startswith("/") and not ref.startswith("//"), ref
        with client.get(ref) as asset:
            assert asset.status_code == 200, ref


def test_the_sign_in_form_links_to_the_reset_page(client):
    page = client.get("/command-centre").get_data(as_text=True)
    signin = page[page.index('id="signin-form"') : page.index("</form>")]
    link = re.search(r'<a id="reset-link" href="([^"]+)">([^<]+)</a>', signin)
    assert link and link.group(2) == "使用重置码设置新密码"
    assert link.group(1) == "/password-reset"
    assert client.get(link.group(1)).status_code == 200


def test_the_reset_page_asks_for_username_code_and_the_password_twice_with_the_policy(client):
    resp = client.get("/password-reset")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "form-action 'self'" in csp
    html = resp.get_data(as_text=True)
    for field in ("username", "code", "new_password", "new_password_again"):
        assert f'name="{field}"' in html, field
    # Limits from the schema the API validates with.
    assert re.search(r'name="new_password" type="password" required maxlength="256"', html)
    assert re.search(r'name="code" required maxlength="64"', html)
    for rule in POLICY_ZH:
        assert f"<li>{rule}</li>" in html, rule
    assert 'method="post"' in html  # without its script the form keeps passwords out of URLs
    assert 'href="/command-centre"' in html
    _local_assets_load(client, html)


def test_the_command_centre_header_opens_a_change_password_form(client):
    html = client.get("/command-centre").get_data(as_text=True)
    header = html[html.index('<header class="top">') : html.index("</header>")]
    assert '<button id="change-password" type="button">修改密码</button>' in header
    dialog = html[html.index('<dialog id="password-dialog"') :]
    dialog = dialog[: dialog.index("</dialog>")]
    for field in ("old_password", "new_password", "new_password_again"):
        assert f'name="{field}"' in dialog, field
    for rule in POLICY_ZH:
        assert f"<li>{rule}</li>" in dialog, rule
    assert 'data-mismatch="两次输入的新密码不一致"' in dialog
    _local_assets_load(client, html)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"username": "", "code": "x", "new_password": "green-river-stone-42"}, {"username"}),
        ({"username": "city", "code": "", "new_password": "green-river-stone-42"}, {"code"}),
        ({"username": "city", "code": "ABCD", "new_password": "short"}, {"new_password"}),
    ],
)
def test_the_reset_pages_slots_are_the_fields_the_api_names(client, body, fields):
    slots = _slots(client.get("/password-reset").get_data(as_text=True), "reset-form")
    resp = client.post("/api/v1/auth/password/reset", json=body)
    assert resp.status_code == 422
    problem = resp.get_json()
    assert set(problem["errors"]) == fields and fields <= slots
    messages = [m for ms in problem["errors"].values() for m in ms]
    assert all(re.search(r"[\u4e00-\u9fff]", m) for m in messages), messages


def test_the_change_forms_slots_are_the_fields_the_api_names(client, login):
    slots = _slots(client.get("/command-centre").get_data(as_text=True), "password-form")
    api = login("officer-dongcheng-1")
    wrong = api.post(
        "/api/v1/auth/password",
        json={"old_password": "not-my-password-9", "new_password": "green-river-stone-42"},
    )
    assert wrong.status_code == 422 and wrong.get_json()["errors"] == {
        "old_password": ["当前密码不对"]
    }
    weak = api.post(
        "/api/v1/auth/password", json={"old_password": "x", "new_password": "officer-dongcheng-1"}
    )
    assert weak.status_code == 422 and set(weak.get_json()["errors"]) == {"new_password"}
    assert {"old_password", "new_password"} <= slots


def test_the_reset_form_posted_without_its_script_answers_with_the_page_and_changes_nothing(
    app, client
):
    """New-operator review: a browser without scripts posted the form to the page: a raw
    405. Now the page again, saying to turn scripts on; nothing processed, nothing echoed."""
    from corrections.audit.models import AuditEntry
    from tests.conftest import count_rows

    before = count_rows(app, AuditEntry)
    form = {
        "username": "officer-dongcheng-1",
        "code": "7K2M-Q9XD-4RTA-HB3N",
        "new_password": "a-secret-new-password-9",
        "new_password_again": "a-secret-new-password-9",
    }
    resp = client.post("/password-reset", data=form)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    assert '<p id="reset-notice" class="error" role="alert">请启用浏览器脚本后再提交</p>' in html
    assert "a-secret-new-password-9" not in html and "7K2M-Q9XD" not in html
    assert 'name="new_password"' in html and "<li>密码不能包含用户名</li>" in html
    assert count_rows(app, AuditEntry) == before  # no reset attempted
    # The page itself tells a browser without scripts before anything is typed.
    assert "<noscript>" in client.get("/password-reset").get_data(as_text=True)
