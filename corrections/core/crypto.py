"""Field encryption and blind indexes, under keys from the keyring (never the database).

Encryption: AES-256-GCM with a random 96-bit nonce; the associated data is the column's label
(``persons.id_number``), so a ciphertext moved to another column does not decrypt. A value is
stored as text, ``e1:<key id>:<base64url(nonce + ciphertext + tag)>``: the key id picks the key
to decrypt with, so values written before a rotation still read.

Blind index: ``<key id>:<hex>``, the first 16 bytes of HMAC-SHA256 under an ``index`` key of
the label and the normalised value. Equal values give equal indexes under one key, so an
equality lookup needs no plaintext in the database; a lookup tries every index key of the
keyring (``IN (...)``), so it keeps working while ``corrections keys rotate`` recomputes them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, Text
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from corrections.core import keys

SCHEME = "e1"
NONCE_BYTES = 12
INDEX_HEX = 32  # 16 bytes of the HMAC: collisions are out of reach, the column stays short


class DecryptionError(ValueError):
    """A stored value that does not decrypt: not encrypted, altered, moved or keyless."""


@functools.lru_cache(maxsize=64)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key[:32])


def encrypt(plaintext: str, label: str, keyring: keys.Keyring | None = None) -> str:
    """``plaintext`` encrypted under the active field key, bound to column ``label``."""
    key_id, key = (keyring or keys.current()).active("field")
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(key).encrypt(nonce, plaintext.encode("utf-8"), label.encode("utf-8"))
    return f"{SCHEME}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME + ":")


def _split(token: str, label: str) -> tuple[str, str]:
    scheme, _, rest = token.partition(":")
    key_id, _, body = rest.partition(":")
    if scheme != SCHEME or not key_id or not body:
        # Never quote the value: it may be plaintext that was written around this code.
        raise DecryptionError(f"{label}: the stored value is not an {SCHEME} ciphertext")
    return key_id, body


def decrypt(token: str, label: str, keyring: keys.Keyring | None = None) -> str:
    """The plaintext of ``token`` (see :func:`encrypt`); :class:`DecryptionError` when it was
    altered, belongs to another column, or its key is not in the keyring."""
    key_id, body = _split(token, label)
    key = (keyring or keys.current()).get("field", key_id)
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise DecryptionError(f"{label}: the stored value is not valid base64") from None
    nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    try:
        plain = _cipher(key).decrypt(nonce, sealed, label.encode("utf-8"))
    except InvalidTag:
        raise DecryptionError(
            f"{label}: the stored value failed authentication (altered, or from another column)"
        ) from None
    return plain.decode("utf-8")


# --- blind indexes -----------------------------------------------------------------------


def _digest(key: bytes, label: str, value: str) -> str:
    message = label.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:INDEX_HEX]


def blind_index(value: str, label: str, keyring: keys.Keyring | None = None) -> str:
    """The blind index of an already normalised ``value`` under the active index key."""
    key_id, key = (keyring or keys.current()).active("index")
    return f"{key_id}:{_digest(key, label, value)}"


def blind_indexes(value: str, label: str, keyring: keys.Keyring | None = None) -> list[str]:
    """The blind index of ``value`` under every index key: what a lookup compares with."""
    ring = keyring or keys.current()
    return [f"{key_id}:{_digest(key, label, value)}" for key_id, key in ring.all("index").items()]


# --- column types ------------------------------------------------------------------------

# Comparing an encrypted column with a value can never match (every encryption differs):
# refuse it loudly instead of returning nothing. Search goes through the blind index.
_REFUSED = frozenset(
    {
        operators.eq,
        operators.ne,
        operators.lt,
        operators.le,
        operators.gt,
        operators.ge,
        operators.like_op,
        operators.not_like_op,
        operators.ilike_op,
        operators.not_ilike_op,
        operators.in_op,
        operators.not_in_op,
        operators.contains_op,
        operators.startswith_op,
        operators.endswith_op,
        operators.between_op,
    }
)


class EncryptedString(TypeDecorator):
    """Text encrypted at rest under the keyring's field key, bound to column ``label``.

    Python sees the plaintext; the database holds only :func:`encrypt`'s text. ``None`` stays
    NULL. Works for ORM and Core statements alike (the column's type does the work).
    """

    impl = Text
    cache_ok = True

    class Comparator(TypeDecorator.Comparator):
        def operate(self, op, *other, **kwargs):
            if op in _REFUSED:
                raise TypeError(
                    "an encrypted column cannot be compared with a value; use its blind index"
                )
            return super().operate(op, *other, **kwargs)

    comparator_factory = Comparator

    def __init__(self, label: str):
        super().__init__()
        self.label = label

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return encrypt(value, self.label)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return decrypt(value, self.label)


class JSONWithEncryptedKeys(TypeDecorator):
    """A JSON object whose members ``keys`` are encrypted (each bound to ``<label>.<key>``);
    the other members stay plain, so SQL can still read them (``payload->>'hours'``).

    Costs nothing for an object without those members: one membership test per key.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, label: str, keys: tuple[str, ...]):
        super().__init__()
        self.label = label
        self.keys = tuple(keys)

    def coerce_compared_value(self, op, value):
        # As plain JSON does (``payload ->> 'hours'`` binds 'hours' as text, not as JSON).
        return self.impl_instance.coerce_compared_value(op, value)

    def process_bind_param(self, value, dialect):
        if not isinstance(value, dict):
            return value
        secret = [k for k in self.keys if value.get(k) is not None]
        if not secret:
            return value
        out = dict(value)
        for k in secret:
            out[k] = encrypt(str(out[k]), f"{self.label}.{k}")
        return out

    def process_result_value(self, value, dialect):
        if not isinstance(value, dict):
            return value
        secret = [k for k in self.keys if is_encrypted(value.get(k))]
        if not secret:
            return value
        out = dict(value)
        for k in secret:
            out[k] = decrypt(out[k], f"{self.label}.{k}")
        return out
