"""``instance/config.example.py`` says what the service does: every setting it names exists,
and a value it shows as the default is the default (a review found it naming a limit that had
been renamed, with the old number, under a "sliding window" that had become fixed)."""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

from corrections.config import DEFAULTS

EXAMPLE = Path(__file__).resolve().parents[2] / "instance" / "config.example.py"
# "# KEY = value" (commented out, as shipped) or "KEY = value".
SETTING = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)\s*=\s*(.+?)\s*$")
_OPERATORS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub}


def _value(text: str):
    """A literal, or literals joined by * + - (``12 * 3600``)."""

    def evaluate(node):
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right))
        return ast.literal_eval(node)

    return evaluate(ast.parse(text, mode="eval").body)


def _settings() -> list[tuple[int, str, str, bool]]:
    """(line number, key, value text, shown as an example) for every setting line."""
    found = []
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        match = SETTING.match(line)
        if match:
            example = "example" in lines[number - 2].lower() if number > 1 else False
            found.append((number, match.group(1), match.group(2), example))
    return found


def test_every_setting_named_in_the_example_exists():
    settings = _settings()
    assert len(settings) > 40  # the parser found the file's settings
    unknown = [f"line {n}: {key}" for n, key, _value_text, _ex in settings if key not in DEFAULTS]
    assert unknown == []


def test_every_value_shown_as_the_default_is_the_default():
    wrong = []
    for number, key, text, example in _settings():
        default = DEFAULTS[key]
        if example or text == '"..."':
            continue  # an example value ("Example:" on the line before), or a placeholder
        if default is None or (isinstance(default, str) and "/" in default):
            wrong.append(f"line {number}: {key} has no plain default; mark the value an example")
            continue
        if _value(text) != default:
            wrong.append(f"line {number}: {key} = {text}, default {default!r}")
    assert wrong == []


def test_the_sign_in_limits_are_all_there_with_their_defaults():
    named = {key for _n, key, _t, _e in _settings()}
    login = {key for key in DEFAULTS if key.startswith("LOGIN_")}
    assert login <= named, login - named
    assert "sliding" not in EXAMPLE.read_text(encoding="utf-8")
