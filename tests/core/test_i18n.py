"""Messages in Chinese by default, in English for a client that asks (Accept-Language: en),
and a catalogue that holds every message the code writes (corrections/core/i18n.py)."""

from __future__ import annotations

import ast
import copy
import inspect
import itertools
from http import HTTPStatus
from pathlib import Path

import marshmallow as ma
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from werkzeug.exceptions import default_exceptions

import corrections
from corrections.core import i18n, library_messages
from corrections.core.i18n import _, bilingual, cli_text, placeholders, translate

PACKAGE = Path(corrections.__file__).parent
EN = {"Accept-Language": "en"}


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    return resp.get_json()


# --- over HTTP: Chinese unless the client prefers English ------------------------------------


def test_a_validation_error_is_in_chinese_by_default(officer):
    resp = officer.post("/api/v1/persons", json={"gender": "x", "surprise": 1})
    body = _problem(resp, 422)
    assert body["title"] == "输入有误"
    assert body["detail"].startswith("请求中有无效字段：")
    assert body["errors"]["name"] == ["必填项缺失。"]
    assert body["errors"]["surprise"] == ["未知字段。"]
    assert resp.headers["Content-Language"] == "zh-CN"
    assert "Accept-Language" in resp.headers["Vary"]


def test_a_validation_error_is_in_english_when_asked(officer):
    resp = officer.post("/api/v1/persons", json={"gender": "x"}, headers=EN)
    body = _problem(resp, 422)
    assert body["title"] == "Unprocessable Entity"
    assert body["detail"].startswith("The request has invalid fields: ")
    assert body["errors"]["name"] == ["Missing data for required field."]
    assert resp.headers["Content-Language"] == "en"


def test_a_formatted_library_message_is_translated_by_its_template(officer):
    # marshmallow formats the bounds into the message; the template finds its translation.
    resp = officer.get("/api/v1/persons?page_size=100000")
    assert _problem(resp, 422)["errors"]["query.page_size"] == ["须大于等于 1 且小于等于 200。"]
    resp = officer.get("/api/v1/persons?page_size=100000", headers=EN)
    assert _problem(resp, 422)["errors"]["query.page_size"] == [
        "Must be greater than or equal to 1 and less than or equal to 200."
    ]


def test_a_domain_error_is_in_chinese_by_default(login):
    admin = login("admin")
    body = _problem(admin.get("/api/v1/admin/users/nobody-here"), 404)
    assert body["title"] == "未找到"
    assert body["detail"] == "没有用户 nobody-here"
    body = _problem(admin.get("/api/v1/admin/users/nobody-here", headers=EN), 404)
    assert (body["title"], body["detail"]) == ("Not Found", "no user nobody-here")


def test_a_domain_error_names_its_field_in_chinese(login):
    admin = login("admin")
    payload = {"username": "Bad Name", "role": "officer", "unit_code": "32990101"}
    body = _problem(admin.post("/api/v1/admin/users", json=payload), 422)
    assert body["errors"]["username"] == ["用户名为 3–64 个小写字母、数字、'.'、'_' 或 '-'"]
    body = _problem(admin.post("/api/v1/admin/users", json=payload, headers=EN), 422)
    assert body["errors"]["username"] == ["3–64 lower-case letters, digits, '.', '_' or '-'"]


def test_werkzeugs_404_is_in_chinese(client):
    body = _problem(client.get("/api/v1/no-such-thing"), 404)
    assert body["title"] == "未找到"
    assert body["detail"].startswith("服务器上没有所请求的网址")
    body = _problem(client.get("/api/v1/no-such-thing", headers=EN), 404)
    assert body["detail"].startswith("The requested URL was not found")


def test_a_failed_sign_in_says_so_in_chinese(client):
    wrong = {"username": "officer-dongcheng-1", "password": "not-the-password-1"}
    body = _problem(client.post("/api/v1/auth/token", json=wrong), 401)
    assert (body["title"], body["detail"]) == ("未认证", "用户名或密码错误。")
    body = _problem(client.post("/api/v1/auth/token", json=wrong, headers=EN), 401)
    assert body["detail"] == "Wrong username or password."


def test_a_missing_token_is_refused_in_chinese(client):
    body = _problem(client.get("/api/v1/persons"), 401)
    assert body["detail"] == "需要登录：请求须带 Bearer 令牌。"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en;q=0.5, zh;q=0.8", "zh-CN"),
        ("en-US;q=0.9", "en"),
        ("en-US,en;q=0.9", "en"),
        ("en-GB", "en"),
        ("fr, en;q=0.5", "en"),
        ("fr", "zh-CN"),  # neither: Chinese
        ("*", "zh-CN"),
        ("", "zh-CN"),
    ],
)
def test_the_language_is_negotiated_from_accept_language(client, header, language):
    resp = client.get("/api/v1/persons", headers={"Accept-Language": header})
    body = _problem(resp, 401)
    assert resp.headers["Content-Language"] == language
    english = body["detail"] == "A bearer token is required."
    assert english == (language == "en")


# --- the message objects ---------------------------------------------------------------------


def test_a_message_is_its_english_text_and_renders_in_chinese():
    message = _("no unit with code {code}", code="3299")
    assert message == "no unit with code 3299"
    assert isinstance(message, str) and str(message) == "no unit with code 3299"
    assert translate(message, "zh") == "没有代码为 3299 的单位"
    assert translate(message, "en") == "no unit with code 3299"
    # marshmallow formats its error messages, and copies fields with them.
    later = _("Longer than {max} characters.")
    assert translate(later.format(max=5), "zh") == "超过 5 个字符。"
    assert translate(copy.deepcopy(later).format(max=5), "zh") == "超过 5 个字符。"


def test_parameters_that_are_messages_render_in_the_same_language():
    kind = bilingual("office", "司法所")
    message = _("a {kind} unit's name contains “{mark}”", kind=kind, mark="司法所")
    assert message == "a office unit's name contains “司法所”"
    assert translate(message, "zh") == "司法所的名称须含“司法所”"


def test_errors_are_translated_inside_lists_and_mappings_keys_untouched():
    errors = {"items": {0: {"name": ["Missing data for required field."]}}, "x": [_("required")]}
    assert translate(errors, "zh") == {"items": {0: {"name": ["必填项缺失。"]}}, "x": ["必填"]}


def test_text_without_an_entry_stays_as_it_is():
    assert translate("something no catalogue has", "zh") == "something no catalogue has"
    assert translate(_("an untranslated {x}", x=1), "zh") == "an untranslated 1"


def test_a_library_message_keeps_the_values_as_they_were_written():
    text = (
        "AUC 0.7000 against the active model's 0.8123 on the same data: worse beyond the "
        "interval (difference -0.1123, interval [-0.2000, -0.0300])"
    )
    assert translate(text, "zh").startswith("同一数据上 AUC 0.7000，当前启用模型为 0.8123")
    assert translate("x" * 5000, "zh") == "x" * 5000  # too long for a template: as it is


def test_a_template_and_its_parameters_that_disagree_do_not_crash():
    message = _("no user {username}", name="x")  # a wrong parameter name
    assert translate(message, "zh") == translate(message, "en") == "no user {username}"


def test_the_cli_shows_chinese_then_english():
    assert cli_text(_("no user {username}", username="x")) == "没有用户 x (no user x)"
    assert cli_text("plain text without an entry") == "plain text without an entry"


# --- the catalogue is complete ----------------------------------------------------------------


def _extracted() -> dict[str, list[str]]:
    """msgid -> where the code writes it, as ``pybabel extract -F babel.cfg`` finds them."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords={"_": None, "N_": None}
    ):
        if isinstance(message, str):
            found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def _catalogue():
    with i18n.CATALOGUE.open("rb") as fh:
        return read_po(fh)


def test_every_message_in_the_code_has_a_chinese_translation():
    po = _catalogue()
    missing = {
        msgid: where
        for msgid, where in _extracted().items()
        if msgid not in po or not po[msgid].string or po[msgid].fuzzy
    }
    assert not missing, "add these to messages.po (README: Languages): " + repr(missing)


def test_the_catalogue_holds_no_message_the_code_no_longer_writes():
    unused = {m.id for m in _catalogue() if m.id} - set(_extracted())
    assert not unused


def test_translations_keep_the_placeholders_of_their_message():
    wrong = [
        (m.id, m.string)
        for m in _catalogue()
        if m.id and m.string and placeholders(m.id) != placeholders(m.string)
    ]
    assert not wrong


def _templates_in(path: Path) -> list[tuple[int, ast.expr]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "corrections.core.i18n"
        for alias in node.names
    }
    return [
        (node.lineno, node.args[0] if node.args else None)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ({"_", "N_"} & imported)
    ]


def test_every_message_template_is_a_literal_string():
    # An f-string or a variable cannot be extracted, so it would never be translated.
    bad = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in PACKAGE.rglob("*.py")
        for line, arg in _templates_in(path)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    ]
    assert not bad


def test_no_module_that_writes_messages_reuses_the_name_underscore():
    # ``scheme, _, token = ...`` in a function makes ``_`` a local there: ``_("...")`` fails.
    bad = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        if _templates_in(path) or "from corrections.core.i18n import" in path.read_text("utf-8")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
    ]
    assert not bad


def _marshmallow_templates() -> set[str]:
    found = set()
    for _name, cls in inspect.getmembers(ma.fields, inspect.isclass):
        if issubclass(cls, ma.fields.Field):
            for klass in cls.__mro__:
                found.update(getattr(klass, "default_error_messages", {}).values())
    found.update(ma.Schema._default_error_messages.values())
    for _name, cls in inspect.getmembers(ma.validate, inspect.isclass):
        for attr in ("default_message", "message_min", "message_max", "message_all"):
            value = vars(cls).get(attr)
            if isinstance(value, str) and "_op}" not in value:
                found.add(value)
    r = ma.validate.Range
    lows, highs = (r.message_gte, r.message_gt), (r.message_lte, r.message_lt)
    for low, high in itertools.product(lows, highs):
        found.add(r.message_all.format(min_op=low, max_op=high))
    for low in (r.message_gte, r.message_gt):
        found.add(r.message_min.format(min_op=low))
    for high in (r.message_lte, r.message_lt):
        found.add(r.message_max.format(max_op=high))
    return found


def _plain(template: str) -> str:
    """``{input!r}`` as ``{input}``: the catalogue's form of a field."""
    return "".join(
        text + ("{" + name + "}" if name is not None else "")
        for text, name, _spec, _conv in i18n._FORMATTER.parse(template)
    )


def test_the_libraries_messages_are_declared_and_translated():
    declared = {
        *library_messages.HTTP_STATUS_PHRASES,
        *library_messages.WERKZEUG_DESCRIPTIONS,
        *library_messages.MARSHMALLOW_MESSAGES,
        *library_messages.WEBARGS_MESSAGES,
    }
    wanted = {_plain(t) for t in _marshmallow_templates()}
    wanted |= {e.description for e in default_exceptions.values()}
    wanted |= {s.phrase for s in HTTPStatus if s >= 400}
    assert not wanted - declared, "declare them in corrections/core/library_messages.py"
    table = i18n.catalogue()
    assert all(table.get(m) for m in declared)


def test_a_command_says_why_in_chinese_then_english(runner):
    result = runner.invoke(args=["users", "enable", "nobody-here"])
    assert result.exit_code == 1
    assert result.output == "错误：没有用户 nobody-here (no user nobody-here)\n"
