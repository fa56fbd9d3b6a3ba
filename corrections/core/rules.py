"""Rules as data: YAML files in ``rules/``, validated by marshmallow schemas at start-up.

Each domain registers the file it owns and the schema that validates it. A bad file stops
start-up with a message that names the file and the key, e.g.
``persons.yaml: categories.parole.term.max_months: Must be greater than or equal to 1.``
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml
from flask import current_app

_REGISTRY: dict[str, type[ma.Schema]] = {}


class RulesError(Exception):
    """A rules file is missing, unreadable or invalid; the message names file and key."""


def register(filename: str) -> Callable[[type[ma.Schema]], type[ma.Schema]]:
    """Class decorator: ``schema`` validates ``rules/<filename>``."""

    def decorator(schema: type[ma.Schema]) -> type[ma.Schema]:
        _REGISTRY[filename] = schema
        return schema

    return decorator


def exact_keys(expected: tuple[str, ...]) -> Callable[[Mapping], None]:
    """Validator: a mapping has exactly these keys (a missing or unknown one is named)."""

    def check(value: Mapping) -> None:
        missing = [k for k in expected if k not in value]
        unknown = [k for k in value if k not in expected]
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            parts.append("unknown " + ", ".join(unknown))
        if parts:
            raise ma.ValidationError("; ".join(parts))

    return check


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, value in messages.items():
            if key == "value":  # marshmallow's Dict nests value errors; the path says enough
                path = prefix
            elif key == "key":
                path = f"{prefix} (key)"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, path))
        return out
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [f"{prefix or '<root>'}: {' '.join(messages)}"]
        out = []
        for i, value in enumerate(messages):
            out.extend(_flatten(value, f"{prefix}[{i}]"))
        return out
    return [f"{prefix or '<root>'}: {messages}"]


def load_file(path: Path, schema: type[ma.Schema] | None = None) -> dict[str, Any]:
    """Read and validate one rules file; raise :class:`RulesError` naming file and key."""
    schema = schema or _REGISTRY.get(path.name)
    if schema is None:
        raise RulesError(f"{path.name}: no schema is registered for this rules file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: rules file not found") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise RulesError(f"{path.name}: <root>: must be a mapping")
    try:
        return schema().load(raw)
    except ma.ValidationError as exc:
        lines = "; ".join(f"{path.name}: {line}" for line in _flatten(exc.messages))
        raise RulesError(lines) from exc


def load_all(rules_dir: Path) -> dict[str, dict[str, Any]]:
    """Load every registered rules file from ``rules_dir``, keyed by file stem.

    Versions must be unique across files: a decision names the versions it was made under.
    """
    loaded = {Path(name).stem: load_file(rules_dir / name) for name in sorted(_REGISTRY)}
    seen: dict[str, str] = {}
    for stem, data in loaded.items():
        version = data.get("version")
        if version in seen:
            raise RulesError(
                f"{stem}.yaml: version: {version!r} duplicates the version of {seen[version]}.yaml"
            )
        seen[version] = stem
    return loaded


def get(name: str) -> dict[str, Any]:
    """The validated rules of ``rules/<name>.yaml`` for the running app."""
    return current_app.extensions["corrections.rules"][name]


def registered_files() -> list[str]:
    return sorted(_REGISTRY)


# Keys that describe a rule rather than give its value (see :func:`articles`).
_ABOUT_KEYS = frozenset(
    {
        "article",
        "basis",
        "verified",
        "label_zh",
        "label_en",
        "unit",
        "counts_from",
        "direction",
        "start_day_counts",
    }
)


# Where a rule's article is given under another key than ``article`` (``warning_article:``, or
# a ground naming its article: ``absence: 实施办法 46(2)``), the value starts with a law's name.
LAW_NAMES = ("社区矫正法", "实施办法", "刑法", "刑事诉讼法", "刑诉", "出境入境管理法", "民法典")


def _quantity(value: Any) -> str:
    if isinstance(value, Mapping) and "value" in value:
        return f"{value['value']} {value.get('unit', '')}".strip()
    return "" if isinstance(value, Mapping | list) else str(value)


def _named_articles(data: Mapping, path: str) -> list[dict[str, Any]]:
    """Rules whose article sits under a key of its own: ``<name>_article`` beside the values
    ``<name>_*`` it grounds, or ``<ground>: <article>`` beside what the mapping ``proposes``."""
    found = []
    for key, value in data.items():
        if key == "article" or not isinstance(value, str) or not value.startswith(LAW_NAMES):
            continue
        name = key.removesuffix("_article")
        if key.endswith("_article"):
            shown = " ".join(
                f"{k}={_quantity(v)}"
                for k, v in data.items()
                if k.startswith(f"{name}_") and k != key
            )
        else:
            shown = f"proposes={data['proposes']}" if "proposes" in data else ""
        found.append(
            {
                "path": f"{path}.{name}" if path else name,
                "value": shown,
                "unit": "",
                "article": value,
                "basis": data.get("basis") or "",
                "verified": "UNVERIFIED" not in value,
                "label_zh": "",
            }
        )
    return found


# The rules files mark an article number not checked against the official text "(UNVERIFIED)"
# (or "(UNVERIFIED; why)"); a Chinese reader sees the same warning in Chinese.
_UNVERIFIED = re.compile(r"\s*\(UNVERIFIED[^)]*\)")
UNVERIFIED_ZH = "（条号待核实）"


def article_zh(article: str | None) -> str | None:
    """An article as a page or an alert shows it: ``实施办法 35 (UNVERIFIED)`` becomes
    ``实施办法 35（条号待核实）`` (static/alerts-live.js ``articleZh`` does the same in the
    browser)."""
    return _UNVERIFIED.sub(UNVERIFIED_ZH, article) if article else article


def articles(data: Any, path: str = "") -> list[dict[str, Any]]:
    """Every rule in a rules file's data that names its legal basis: each mapping with an
    ``article`` key, as ``path`` (dotted keys), ``value``, ``unit``, ``article``, ``basis``,
    ``verified`` and ``label_zh``. Generic, so a new rules file needs no code to be listed."""
    found: list[dict[str, Any]] = []
    if isinstance(data, Mapping):
        if "article" in data:
            if "amount" in data:
                value = str(data["amount"])
            elif "value" in data:
                value = str(data["value"])
            else:
                value = " ".join(
                    f"{k}={v}"
                    for k, v in data.items()
                    if k not in _ABOUT_KEYS and not isinstance(v, Mapping | list)
                )
            unit = data.get("unit") or ""
            if data.get("counts_from"):
                word = "before" if data.get("direction") == "before" else "from"
                unit = f"{unit} {word} {data['counts_from']}".strip()
            found.append(
                {
                    "path": path or "<root>",
                    "value": value,
                    "unit": unit,
                    "article": str(data["article"]),
                    "basis": data.get("basis") or "",
                    "verified": data.get("verified", True) is not False,
                    "label_zh": data.get("label_zh") or "",
                }
            )
        found.extend(_named_articles(data, path))
        for key, value in data.items():
            if isinstance(value, Mapping | list):
                found.extend(articles(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            # A listed rule is named by its id where it has one (stable across edits).
            name = value.get("id", i) if isinstance(value, Mapping) else i
            found.extend(articles(value, f"{path}[{name}]"))
    return found
