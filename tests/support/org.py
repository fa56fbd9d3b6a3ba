"""Helpers for the organisation and account tests."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from sqlalchemy import select

from corrections.core.cli_identity import os_identity
from corrections.core.db import db
from corrections.org.cli import EXAMPLE_FILE

CLI_ACTOR = f"cli:{os_identity()}"[:64]


def example() -> dict:
    """The shipped example organisation file (the demo city), as data to edit."""
    return copy.deepcopy(yaml.safe_load(EXAMPLE_FILE.read_text(encoding="utf-8")))


def write(tmp_path: Path, document: dict, name: str = "org.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def district(document: dict, code: str) -> dict:
    return next(d for d in document["city"]["districts"] if d["code"] == code)


def units_snapshot(app) -> list[tuple]:
    """Every unit's stored state, to compare before and after."""
    from corrections.org.models import Unit

    with app.app_context():
        rows = db.session.execute(
            select(
                Unit.id,
                Unit.code,
                Unit.name_zh,
                Unit.kind,
                Unit.parent_id,
                Unit.active,
                Unit.version,
            ).order_by(Unit.id)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def audit_rows(app, *actions: str) -> list:
    """Audit rows (all, or of these actions), oldest first."""
    from corrections.audit.models import AuditEntry

    with app.app_context():
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if actions:
            stmt = stmt.where(AuditEntry.action.in_(actions))
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        db.session.remove()
    return rows
