"""Rules as data: YAML files in ``rules/``, validated by marshmallow schemas at start-up.

Each domain registers the file it owns and the schema that validates it. A bad file stops
start-up with a message that names the file and the key, e.g.
``persons.yaml: categories.parole.term.max_months: Must be greater than or equal to 1.``
"""

from __future__ import annotations

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
