"""Model artifacts on disk: ``model.skops`` and ``card.json`` in one directory.

Saved with skops (never pickle or joblib: loading a pickle runs whatever it contains). Loading
refuses, with a message saying why, an artifact whose file does not match the sha256 in its
card, a card whose own checksum does not match, one made with another scikit-learn or skops
version, and one whose file names any type outside the allow-list of the exact types our own
training writes (:mod:`corrections.risk.allowlist`) — checked before anything in the file is
built. Whether a card is to be believed (its metrics, its bands) is the signature's business
(:mod:`corrections.risk.signing`): the checksum only finds damage, anyone can recompute it.

Messages name the version directory and its files, never a path on the server.
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

from corrections.core.i18n import _
from corrections.risk import allowlist

FORMAT = "corrections-risk-model/1"
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
# Parts of card.json that its checksum (and its signature) leave out.
UNSUMMED = ("card_sha256", "signature")


class ArtifactError(Exception):
    """An artifact that must not be used, with the reason (a message: core/i18n.py)."""


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


def canonical(card: dict[str, Any]) -> bytes:
    """The card's content as bytes: sorted compact JSON without its checksum and signature."""
    body = {k: v for k, v in card.items() if k not in UNSUMMED}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def card_checksum(card: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(card)).hexdigest()


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
    write_card(directory, card)
    return card


def write_card(directory: Path, card: dict[str, Any]) -> None:
    (directory / CARD_FILE).write_text(
        json.dumps(card, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )


def read_card(directory: Path) -> dict[str, Any]:
    """The card, checked: it parses, it is ours, its checksum matches."""
    path = directory / CARD_FILE
    name = f"{directory.name}/{CARD_FILE}"
    if not path.is_file():
        raise ArtifactError(
            _(
                "{directory}: no {file}; not a model directory",
                directory=directory.name,
                file=CARD_FILE,
            )
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(
            _("{name}: not a valid card ({error}); refusing the artifact", name=name, error=exc)
        ) from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ArtifactError(
            _(
                "{name}: not a {format} card; refusing a foreign artifact",
                name=name,
                format=FORMAT,
            )
        )
    if card.get("card_sha256") != card_checksum(card):
        raise ArtifactError(
            _("{name}: the card's checksum does not match; it was changed", name=name)
        )
    artifact = card.get("artifact")
    if not isinstance(artifact, dict) or artifact.get("file") != MODEL_FILE:
        raise ArtifactError(
            _("{name}: the card must name {file} as its artifact", name=name, file=MODEL_FILE)
        )
    return card


@dataclass
class Loaded:
    model: Any
    card: dict[str, Any]
    sha256: str

    @property
    def version(self) -> str:
        return self.card["version"]


@dataclass
class Checked:
    """A model directory that passed every check; ``data`` is the model file as it was
    checked (it is built from these bytes, not read again)."""

    card: dict[str, Any]
    data: bytes
    sha256: str
    untrusted: list[str]


def check(directory: Path, *, expect_sha256: str | None = None) -> Checked:
    """Every check short of building the model: the card, the file's sha256 (and
    ``expect_sha256``, the one recorded when it was activated), the library versions, and
    that the file names only allow-listed types. Nothing in the file runs."""
    card = read_card(directory)
    path = directory / MODEL_FILE
    name = f"{directory.name}/{MODEL_FILE}"
    if not path.is_file():
        raise ArtifactError(
            _(
                "{directory}: model file {file} is missing",
                directory=directory.name,
                file=MODEL_FILE,
            )
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != card["artifact"].get("sha256"):
        raise ArtifactError(
            _(
                "{name}: sha256 {actual}… does not match the card's {expected}…; the file was "
                "changed or damaged, refusing it",
                name=name,
                actual=actual[:12],
                expected=str(card["artifact"].get("sha256"))[:12],
            )
        )
    if expect_sha256 is not None and actual != expect_sha256:
        raise ArtifactError(
            _(
                "{name}: sha256 differs from the one recorded at activation; refusing it",
                name=name,
            )
        )
    ours, theirs = library_versions(), card.get("libraries") or {}
    for lib in ("scikit-learn", "skops"):
        if _minor(theirs.get(lib)) != _minor(ours[lib]):
            raise ArtifactError(
                _(
                    "{directory}: made with {library} {theirs}, this is {ours}; retrain it "
                    "with this version (a model is not portable across versions)",
                    directory=directory.name,
                    library=lib,
                    theirs=theirs.get(lib),
                    ours=ours[lib],
                )
            )
    try:
        named = allowlist.types_in(data)  # ours first: it caps the schema's size
        untrusted = sio.get_untrusted_types(data=data)
    except allowlist.UnreadableModel as exc:
        raise ArtifactError(_("{name}: {error}", name=name, error=exc)) from exc
    except Exception as exc:  # a damaged archive: skops' own errors vary
        raise ArtifactError(
            _(
                "{name}: not a readable skops file ({error})",
                name=name,
                error=type(exc).__name__,
            )
        ) from exc
    foreign = allowlist.not_trusted(named | set(untrusted))
    if foreign:
        more = len(foreign) - 10
        raise ArtifactError(
            _(
                "{name}: holds types our training never writes, refusing it before anything "
                "in it runs: {types}",
                name=name,
                types=", ".join(foreign[:10]) + (f" (+{more})" if more > 0 else ""),
            )
        )
    return Checked(card=card, data=data, sha256=actual, untrusted=untrusted)


def build(checked: Checked) -> Loaded:
    """The model of a checked directory (skops trusts only what the allow-list passed)."""
    try:
        model = sio.loads(checked.data, trusted=checked.untrusted)
    except Exception as exc:
        raise ArtifactError(
            _(
                "{version}/{file}: could not be loaded ({error})",
                version=checked.card["version"],
                file=MODEL_FILE,
                error=f"{type(exc).__name__}: {exc}",
            )
        ) from exc
    return Loaded(model=model, card=checked.card, sha256=checked.sha256)


def load(directory: Path, *, expect_sha256: str | None = None) -> Loaded:
    """Load a model directory after every check of :func:`check`."""
    return build(check(directory, expect_sha256=expect_sha256))


def _minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None
