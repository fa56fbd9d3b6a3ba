"""Model cards signed with the instance key: a card is believed only if this instance signed it.

A card's checksum finds damage, but anyone who edits a card can recompute it (and claim an AUC
of 0.99). A signature is an HMAC-SHA256 of the card's content (everything but its checksum and
the signature itself) and of who signed it when, under a key derived from this instance's
``audit`` key (:mod:`corrections.core.keys`) for this one use, so an audit-chain MAC is never a
valid card signature nor the reverse. The signature names its key id: after ``corrections keys
rotate --purpose audit`` the old key still verifies what it signed.

Who signs: ``corrections risk train`` signs the card it writes; ``corrections risk sign``
signs a card the bureau reviewed (a model trained elsewhere, the shipped default model).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from corrections.core import keys
from corrections.core.i18n import _
from corrections.risk.artifact import ArtifactError, canonical

PURPOSE = "audit"
CONTEXT = b"corrections/risk-model-card/v1"
FIELDS = ("key_id", "signed_by", "signed_at")


def _card_key(key: bytes) -> bytes:
    return hmac.new(key, CONTEXT, hashlib.sha256).digest()


def _mac(card: dict[str, Any], meta: dict[str, Any], key: bytes) -> str:
    about = json.dumps(
        {k: meta[k] for k in FIELDS}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode()
    return hmac.new(_card_key(key), canonical(card) + b"\n" + about, hashlib.sha256).hexdigest()


def sign(card: dict[str, Any], *, by: str, at: datetime, keyring: keys.Keyring) -> dict[str, Any]:
    """The signature of ``card`` under the active key: ``{key_id, signed_by, signed_at,
    hmac}``."""
    key_id, key = keyring.active(PURPOSE)
    meta = {"key_id": key_id, "signed_by": by, "signed_at": at.isoformat(timespec="seconds")}
    return {**meta, "hmac": _mac(card, meta, key)}


def verify(card: dict[str, Any], signature: Any, *, keyring: keys.Keyring) -> None:
    """Raise :class:`ArtifactError` unless ``signature`` is this instance's signature of
    ``card`` as it is now."""
    version = card.get("version")
    if not signature:
        raise ArtifactError(
            _(
                "{version}: the card is not signed; review it, then sign it with "
                "`corrections risk sign {version} --by NAME`",
                version=version,
            )
        )
    if not isinstance(signature, dict) or not all(
        isinstance(signature.get(k), str) for k in (*FIELDS, "hmac")
    ):
        raise ArtifactError(_("{version}: the card's signature is malformed", version=version))
    try:
        key = keyring.get(PURPOSE, signature["key_id"])
    except keys.KeyringError:
        raise ArtifactError(
            _(
                "{version}: the card is signed with a key this instance does not hold (signed "
                "elsewhere?); review it, then `corrections risk sign {version} --by NAME`",
                version=version,
            )
        ) from None
    if not hmac.compare_digest(_mac(card, signature, key), signature["hmac"]):
        raise ArtifactError(
            _(
                "{version}: the card's signature does not match: it was changed after it was "
                "signed, or signed by another instance",
                version=version,
            )
        )


def is_valid(card: dict[str, Any], signature: Any, *, keyring: keys.Keyring) -> bool:
    try:
        verify(card, signature, keyring=keyring)
    except ArtifactError:
        return False
    return True
