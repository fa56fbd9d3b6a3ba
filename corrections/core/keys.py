"""The keyring: secrets that protect data, kept outside the database.

One JSON document holds, per purpose, the keys by id and which one is active::

    {"field": {"active": "field-1", "keys": {"field-1": "<base64 of 32 bytes>"}}, ...}

Purposes:
- ``field``: AES-256-GCM encryption of identity fields at rest;
- ``index``: HMAC-SHA256 blind indexes, so an ID number or phone can be looked up without
  the database holding it;
- ``audit``: HMAC of the audit chain and of its checkpoints (and, under a key derived from
  it, the signatures of risk model cards: :mod:`corrections.risk.signing`).

The keyring comes from ``CORRECTIONS_KEYRING`` (the JSON itself, for deployments that inject
secrets by environment) or else from the file ``KEYRING_PATH`` (default
``instance/keyring.json``, created with mode 0600 on first start). The database never holds a
key, so a copy of the database alone reveals no identity and cannot re-sign its own trail.
Rotation adds a key and makes it active; old keys stay to read (or verify) what they wrote.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corrections.core.i18n import _

PURPOSES = ("field", "index", "audit")
KEY_BYTES = 32


class KeyringError(RuntimeError):
    """The keyring is missing, unreadable, or lacks a key that data refers to."""


@dataclass
class Keyring:
    # purpose -> {"active": id, "keys": {id: bytes}}
    purposes: dict[str, dict[str, Any]]
    path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _mtime: float = field(default=0.0, repr=False, compare=False)
    _checked: float = field(default=0.0, repr=False, compare=False)
    # Made by this start (no file was there): see :func:`refuse_new_keyring_for_old_data`.
    created_now: bool = field(default=False, repr=False, compare=False)

    def refresh(self) -> None:
        """Reload from the file if another process rotated it (checked once a second)."""
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked < RELOAD_CHECK_SECONDS:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return
        if mtime == self._mtime:
            return
        with self._lock:
            fresh = parse(json.loads(self.path.read_text(encoding="utf-8")), self.path)
            self.purposes, self._mtime = fresh.purposes, mtime

    # --- reading -----------------------------------------------------------------------

    def active(self, purpose: str) -> tuple[str, bytes]:
        """(key id, key) of the key that new data of ``purpose`` is protected with."""
        entry = self._entry(purpose)
        key_id = entry["active"]
        return key_id, entry["keys"][key_id]

    def active_id(self, purpose: str) -> str:
        return self._entry(purpose)["active"]

    def get(self, purpose: str, key_id: str) -> bytes:
        """The key ``key_id`` of ``purpose``; :class:`KeyringError` if the keyring lacks it."""
        try:
            return self._entry(purpose)["keys"][key_id]
        except KeyError:
            message = _(
                "the keyring has no {purpose} key {key_id!r}: restore the keyring the data "
                "was written with",
                purpose=purpose,
                key_id=key_id,
            )
            raise KeyringError(message) from None

    def all(self, purpose: str) -> dict[str, bytes]:
        """Every key of ``purpose`` by id (the active one included)."""
        return dict(self._entry(purpose)["keys"])

    def _entry(self, purpose: str) -> dict[str, Any]:
        if purpose not in self.purposes:
            raise KeyringError(_("the keyring has no {purpose!r} keys", purpose=purpose))
        return self.purposes[purpose]

    # --- changing ----------------------------------------------------------------------

    def rotate(self, purpose: str) -> str:
        """Add a fresh key for ``purpose``, make it active and save; returns its id.

        Another process may rotate at the same time: the file is locked, read again and only
        then given the new key, so no key is ever overwritten by one of the same id."""
        if self.path is None:
            self.save()  # raises: an environment keyring is rotated where it is kept
        with self._lock, _file_lock(self.path):
            if self.path.exists():
                self.purposes = parse(
                    json.loads(self.path.read_text(encoding="utf-8")), self.path
                ).purposes
            entry = self._entry(purpose)
            n = 1 + max((_serial(k) for k in entry["keys"]), default=0)
            key_id = f"{purpose}-{n}"
            entry["keys"][key_id] = secrets.token_bytes(KEY_BYTES)
            entry["active"] = key_id
            self.save()
            self._mtime = self.path.stat().st_mtime
            return key_id

    def save(self) -> None:
        """Write the keyring back to its file (atomically, mode 0600)."""
        if self.path is None:
            message = _(
                "this keyring came from CORRECTIONS_KEYRING: rotate it where it is kept and "
                "set the variable anew"
            )
            raise KeyringError(message)
        write_file(self.path, self)

    def to_json(self) -> dict[str, Any]:
        return {
            purpose: {
                "active": entry["active"],
                "keys": {k: base64.b64encode(v).decode() for k, v in entry["keys"].items()},
            }
            for purpose, entry in self.purposes.items()
        }


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock beside the keyring file, across processes."""
    from corrections.config import private_folder

    private_folder(path.parent)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _serial(key_id: str) -> int:
    tail = key_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def new_keyring(path: Path | None = None) -> Keyring:
    return Keyring(
        {
            p: {"active": f"{p}-1", "keys": {f"{p}-1": secrets.token_bytes(KEY_BYTES)}}
            for p in PURPOSES
        },
        path,
    )


def parse(document: dict[str, Any], path: Path | None = None) -> Keyring:
    """A keyring from its JSON form; errors name the purpose and key."""
    purposes: dict[str, dict[str, Any]] = {}
    for purpose in PURPOSES:
        entry = document.get(purpose)
        if not isinstance(entry, dict) or not isinstance(entry.get("keys"), dict):
            raise KeyringError(_("keyring: {purpose}: missing, or has no keys", purpose=purpose))
        keys: dict[str, bytes] = {}
        for key_id, encoded in entry["keys"].items():
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (ValueError, TypeError) as exc:
                message = _(
                    "keyring: {purpose}.{key_id}: not base64", purpose=purpose, key_id=key_id
                )
                raise KeyringError(message) from exc
            if len(raw) < KEY_BYTES:
                message = _(
                    "keyring: {purpose}.{key_id}: shorter than 32 bytes",
                    purpose=purpose,
                    key_id=key_id,
                )
                raise KeyringError(message)
            keys[key_id] = raw
        if entry.get("active") not in keys:
            raise KeyringError(
                _("keyring: {purpose}.active: names no key of {purpose}", purpose=purpose)
            )
        purposes[purpose] = {"active": entry["active"], "keys": keys}
    return Keyring(purposes, path)


def write_file(path: Path, keyring: Keyring) -> None:
    from corrections.config import private_folder

    private_folder(path.parent)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(keyring.to_json(), fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load(path: Path, environment: str | None) -> Keyring:
    """The keyring from the environment's JSON, else from ``path`` (created if absent)."""
    if environment:
        try:
            return parse(json.loads(environment))
        except json.JSONDecodeError as exc:
            message = _("CORRECTIONS_KEYRING: not JSON ({error})", error=exc.msg)
            raise KeyringError(message) from exc
    if not path.exists():
        keyring = new_keyring(path)
        write_file(path, keyring)
        keyring.created_now = True
    else:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except PermissionError:
            raise  # another user's instance folder: the command names it (cli_errors)
        except (OSError, json.JSONDecodeError) as exc:
            message = _("{path}: unreadable keyring ({error})", path=str(path), error=str(exc))
            raise KeyringError(message) from exc
        keyring = parse(document, path)
    keyring._mtime = path.stat().st_mtime
    keyring._checked = time.monotonic()
    return keyring


# The keyring of the app last created, for code that runs outside any app context (column
# types are given no context); inside one, the app's own keyring wins.
_LAST: Keyring | None = None


def install(app: Any, keyring: Keyring) -> None:
    global _LAST
    app.extensions["corrections.keyring"] = keyring
    _LAST = keyring


# A rotation by another process (``corrections keys rotate``) rewrites the file: running
# workers look at its modification time at most this often and reload it when it changed, so
# they read values under the new key and find rows indexed under it without a restart.
RELOAD_CHECK_SECONDS = 1.0


def current() -> Keyring:
    from flask import current_app, has_app_context

    keyring = None
    if has_app_context():
        keyring = current_app.extensions.get("corrections.keyring")
    keyring = keyring or _LAST
    if keyring is None:
        raise KeyringError("no keyring loaded: create the app first")
    keyring.refresh()
    return keyring
