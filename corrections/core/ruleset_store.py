"""Each rules version stands for one content, forever.

The first time a rules version is used its content is stored with a SHA-256. Start-up refuses a
rules file whose version was already used for different content: a decision that names a version
must always be explainable by exactly the rules it was made under.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import JSON, String, UniqueConstraint, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.rules import RulesError
from corrections.core.types import UTCDateTime


class Ruleset(db.Model):
    __tablename__ = "rulesets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("name", "version"),)


def fingerprint(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def check_versions(session: Session, loaded: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`RulesError` if a loaded file reuses a stored version for other content."""
    if not inspect(session.get_bind()).has_table(Ruleset.__tablename__):
        return  # not migrated yet: nothing can have been decided under any version
    stored = {(r.name, r.version): r.sha256 for r in session.scalars(select(Ruleset))}
    for name, data in loaded.items():
        digest = stored.get((name, data.get("version")))
        if digest is not None and digest != fingerprint(data):
            raise RulesError(
                f"{name}.yaml: version: {data.get('version')!r} was already used for different "
                "rules; give the changed rules a new version"
            )


def ensure_recorded(session: Session, name: str, now: datetime) -> str:
    """Store the running app's ``rules/<name>.yaml`` under its version (once); return it."""
    data = current_app.extensions["corrections.rules"][name]
    version = data["version"]
    # Per session (a request or a job), so a rolled-back insert is never taken as stored.
    seen = session.info.setdefault("rulesets_recorded", set())
    if (name, version) in seen:
        return version
    digest = fingerprint(data)
    row = session.scalar(select(Ruleset).where(Ruleset.name == name, Ruleset.version == version))
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    Ruleset(
                        name=name, version=version, sha256=digest, content=data, first_used_at=now
                    )
                )
        except IntegrityError:  # recorded concurrently by another worker
            row = session.scalar(
                select(Ruleset).where(Ruleset.name == name, Ruleset.version == version)
            )
    if row is not None and row.sha256 != digest:
        raise RulesError(f"{name}.yaml: version: {version!r} was already used for different rules")
    seen.add((name, version))
    return version


def versions(session: Session, now: datetime, *names: str) -> str:
    """The versions of the rules files a decision used, each stored once: ``a-1+b-2``."""
    return "+".join(ensure_recorded(session, name, now) for name in names)
