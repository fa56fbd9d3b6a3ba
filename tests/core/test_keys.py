"""The keyring: outside the database, rotated by one process, picked up by the others."""

from __future__ import annotations

import json
import os
import stat

import pytest

from corrections.core import keys


def test_a_new_keyring_is_private_and_has_every_purpose(tmp_path):
    ring = keys.load(tmp_path / "keyring.json", None)
    assert stat.S_IMODE(os.stat(tmp_path / "keyring.json").st_mode) == 0o600
    assert {p: ring.active_id(p) for p in keys.PURPOSES} == {
        "field": "field-1",
        "index": "index-1",
        "audit": "audit-1",
    }


def test_a_rotation_by_another_process_is_picked_up_without_a_restart(tmp_path, monkeypatch):
    monkeypatch.setattr(keys, "RELOAD_CHECK_SECONDS", 0.0)
    path = tmp_path / "keyring.json"
    worker = keys.load(path, None)
    operator = keys.load(path, None)  # `corrections keys rotate` in its own process
    new = operator.rotate("field")
    os.utime(path, ns=(1, 10**18))  # a distinct modification time, whatever the clock
    with pytest.raises(keys.KeyringError):
        worker.get("field", new)
    worker.refresh()
    assert worker.get("field", new) == operator.get("field", new)
    assert worker.active_id("field") == new and "field-1" in worker.all("field")


def test_the_keyring_can_come_from_the_environment_and_errors_name_the_key(tmp_path):
    ring = keys.load(tmp_path / "unused.json", json.dumps(keys.new_keyring().to_json()))
    assert ring.path is None and not (tmp_path / "unused.json").exists()
    with pytest.raises(keys.KeyringError, match="rotate it where it is kept"):
        ring.rotate("audit")
    bad = keys.new_keyring().to_json()
    bad["index"]["active"] = "index-9"
    with pytest.raises(keys.KeyringError, match=r"index\.active"):
        keys.load(tmp_path / "x.json", json.dumps(bad))
    with pytest.raises(keys.KeyringError, match="CORRECTIONS_KEYRING: not JSON"):
        keys.load(tmp_path / "x.json", "{")


def test_two_processes_rotating_at_once_lose_no_key(tmp_path):
    path = tmp_path / "keyring.json"
    first, second = keys.load(path, None), keys.load(path, None)  # both loaded before
    a = first.rotate("field")
    b = second.rotate("field")
    assert a != b
    on_disk = keys.load(path, None)
    assert on_disk.get("field", a) == first.get("field", a)
    assert on_disk.get("field", b) == second.get("field", b)
    assert on_disk.active_id("field") == b


def test_a_new_keyring_is_refused_for_a_database_that_holds_records(tmp_path):
    """New-user review: an instance folder pointed at an existing database by mistake wrote a
    fresh keyring and started; the records already there cannot be read under it."""
    from corrections import create_app
    from corrections.audit import service as audit
    from corrections.core.auth import SYSTEM
    from corrections.core.db import db
    from corrections.core.keys import KeyringError

    url = f"sqlite:///{tmp_path}/shared.db"
    first = create_app(
        {"INSTANCE_PATH": str(tmp_path / "a"), "SECRET_KEY": "k" * 40, "DATABASE_URL": url}
    )
    with first.app_context():
        db.create_all()
        audit.record(db.session, actor=SYSTEM, action="test.record")
        db.session.commit()
        db.session.remove()
    # Records, none sealed yet: a new keyring is still refused (hostile re-check).
    with pytest.raises(KeyringError, match="put that keyring back"):
        create_app(
            {"INSTANCE_PATH": str(tmp_path / "b"), "SECRET_KEY": "k" * 40, "DATABASE_URL": url}
        )
    with first.app_context():
        audit.seal_and_commit(db.session)
        db.session.remove()
    with pytest.raises(KeyringError, match="put that keyring back"):
        create_app(
            {"INSTANCE_PATH": str(tmp_path / "b"), "SECRET_KEY": "k" * 40, "DATABASE_URL": url}
        )
    assert not (tmp_path / "b" / "keyring.json").exists()
    # The instance that made the records starts as before.
    create_app({"INSTANCE_PATH": str(tmp_path / "a"), "SECRET_KEY": "k" * 40, "DATABASE_URL": url})


def test_a_keyring_from_the_environment_must_verify_the_trail(tmp_path, monkeypatch):
    """Hostile re-check: a fresh keyring given in CORRECTIONS_KEYRING started against a
    populated database, failed every identity read and sealed rows no checkpoint verifies."""
    from corrections import create_app
    from corrections.audit import service as audit
    from corrections.core.auth import SYSTEM
    from corrections.core.db import db
    from corrections.core.keys import KeyringError

    url = f"sqlite:///{tmp_path}/shared.db"
    config = {"INSTANCE_PATH": str(tmp_path / "a"), "SECRET_KEY": "k" * 40, "DATABASE_URL": url}
    first = create_app(config)
    with first.app_context():
        db.create_all()
        audit.record(db.session, actor=SYSTEM, action="test.record")
        db.session.commit()
        audit.seal_and_commit(db.session)
        db.session.remove()
    own = json.loads((tmp_path / "a" / "keyring.json").read_text(encoding="utf-8"))
    fresh = keys.new_keyring(None).to_json()
    monkeypatch.setenv("CORRECTIONS_KEYRING", json.dumps(fresh))
    with pytest.raises(KeyringError, match="CORRECTIONS_KEYRING"):
        create_app(config)
    monkeypatch.setenv("CORRECTIONS_KEYRING", json.dumps(own))
    create_app(config)  # the keyring the trail was sealed under
