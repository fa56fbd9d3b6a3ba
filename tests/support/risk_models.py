"""Model directories for the risk tests: sign a card as ``risk train`` does here, or edit one
as a forger would (checksum recomputed, signature left or dropped)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from corrections.core import keys
from corrections.core.db import db
from corrections.risk import artifact, signing
from corrections.risk.models import RiskModel
from tests.conftest import TEST_NOW


def read_card(directory: Path) -> dict[str, Any]:
    return json.loads((directory / artifact.CARD_FILE).read_text(encoding="utf-8"))


def sign_in_place(app, directory: Path, *, keyring: keys.Keyring | None = None) -> None:
    """Sign the card with the app's instance key (or ``keyring``), as ``risk train`` does."""
    card = read_card(directory)
    with app.app_context():
        ring = keyring or keys.current()
    card["signature"] = signing.sign(card, by="cli:tests", at=TEST_NOW, keyring=ring)
    artifact.write_card(directory, card)


def edit_card(directory: Path, *, drop_signature: bool = False, **changes: Any) -> dict:
    """Change the card and recompute its checksum, as anyone can: the signature is kept
    (now stale) or dropped."""
    card = read_card(directory)
    card.update(changes)
    if drop_signature:
        card.pop("signature", None)
    card["card_sha256"] = artifact.card_checksum(card)
    artifact.write_card(directory, card)
    return card


def copy_version(models_dir: Path, source: str, version: str) -> Path:
    """Another version directory holding ``source``'s files, its card naming ``version``
    (checksum recomputed; unsigned until signed)."""
    target = models_dir / version
    shutil.copytree(models_dir / source, target)
    edit_card(target, drop_signature=True, version=version)
    return target


def active_versions(app) -> list[str]:
    """The versions marked active (at most one)."""
    with app.app_context():
        versions = list(
            db.session.scalars(select(RiskModel.version).where(RiskModel.active.is_(True)))
        )
        db.session.remove()
    return versions
