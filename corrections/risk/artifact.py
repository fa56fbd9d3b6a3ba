"""Model artifacts on disk: ``model.skops`` and ``card.json`` in one directory.

Saved with skops (never pickle or joblib: loading a pickle runs whatever it contains). Loading
refuses, with a message saying why, an artifact whose file does not match the sha256 in its
card, a card whose own checksum does not match, one made with another scikit-learn or skops
version, and one whose file holds types outside scikit-learn, NumPy and SciPy.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io as sio

FORMAT = "corrections-risk-model/1"
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
# Module prefixes a model file may name; anything else is refused before it is loaded.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
# ... and these exact names (scikit-learn's own objects hold them; what they wrap is checked
# as a type of its own).
TRUSTED_NAMES = frozenset({"functools.partial", "builtins.slice"})


class ArtifactError(Exception):
    """An artifact that must not be used, with the reason."""


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _canonical(card: dict[str, Any]) -> bytes:
    body = {k: v for k, v in card.items() if k != "card_sha256"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def card_checksum(card: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(card)).hexdigest()


def save(directory: Path, model: Any, card: dict[str, Any]) -> dict[str, Any]:
    """Write the model and its card (with the model file's and the card's checksums)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    sio.dump(model, path)
    card = {
        **card,
        "format": FORMAT,
        "libraries": library_versions(),
        "artifact": {"file": MODEL_FILE, "sha256": sha256_file(path)},
    }
    card["card_sha256"] = card_checksum(card)
    (directory / CARD_FILE).write_text(
        json.dumps(card, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return card


def read_card(directory: Path) -> dict[str, Any]:
    """The card, checked: it parses, it is ours, its checksum matches."""
    path = directory / CARD_FILE
    if not path.is_file():
        raise ArtifactError(f"{directory}: no {CARD_FILE}; not a model directory")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: not a valid card ({exc}); refusing the artifact") from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a {FORMAT} card; refusing a foreign artifact")
    if card.get("card_sha256") != card_checksum(card):
        raise ArtifactError(f"{path}: the card's checksum does not match; it was changed")
    return card


@dataclass
class Loaded:
    model: Any
    card: dict[str, Any]
    sha256: str

    @property
    def version(self) -> str:
        return self.card["version"]


def load(directory: Path, *, expect_sha256: str | None = None) -> Loaded:
    """Load a model directory after every check; ``expect_sha256`` (the one recorded when it was
    activated) must match too."""
    card = read_card(directory)
    path = directory / card["artifact"]["file"]
    if not path.is_file():
        raise ArtifactError(f"{directory}: model file {path.name} is missing")
    actual = sha256_file(path)
    if actual != card["artifact"]["sha256"]:
        raise ArtifactError(
            f"{path}: sha256 {actual[:12]}… does not match the card's "
            f"{card['artifact']['sha256'][:12]}…; the file was changed or damaged, refusing it"
        )
    if expect_sha256 is not None and actual != expect_sha256:
        raise ArtifactError(
            f"{path}: sha256 differs from the one recorded at activation; refusing it"
        )
    ours, theirs = library_versions(), card.get("libraries", {})
    for lib in ("scikit-learn", "skops"):
        if _minor(theirs.get(lib)) != _minor(ours[lib]):
            raise ArtifactError(
                f"{directory}: made with {lib} {theirs.get(lib)}, this is {ours[lib]}; "
                "retrain it with this version (a model is not portable across versions)"
            )
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a damaged archive: skops' own errors vary
        raise ArtifactError(f"{path}: not a readable skops file ({exc})") from exc
    foreign = [t for t in untrusted if not (t.startswith(TRUSTED_PREFIXES) or t in TRUSTED_NAMES)]
    if foreign:
        raise ArtifactError(f"{path}: holds types outside scikit-learn/NumPy/SciPy: {foreign}")
    try:
        model = sio.load(path, trusted=untrusted)
    except Exception as exc:
        raise ArtifactError(f"{path}: could not be loaded ({exc})") from exc
    return Loaded(model=model, card=card, sha256=actual)


def _minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None
