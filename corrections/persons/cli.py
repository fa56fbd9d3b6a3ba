"""``corrections persons``: operations on persons' records outside the API."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group()
def persons() -> None:
    """Persons' records (sealing of juvenile records)."""


@persons.command("seal-discharged")
@click.option(
    "--by",
    "username",
    required=True,
    help="The city-level user on whose decision the records are sealed (named in the audit).",
)
@click.option("--dry-run", is_flag=True, help="Count the records, seal nothing.")
@with_appcontext
def seal_discharged(username: str, dry_run: bool) -> None:
    """Seal every juvenile record discharged before sealing existed (补充封存, 刑事诉讼法
    Art. 286); each seal is audited as the named city user's. Records discharged since are
    sealed by the discharge itself."""
    from sqlalchemy import select

    from corrections.core.auth import Actor, Role
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.org.models import User
    from corrections.persons import sealing

    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active or user.role != Role.CITY:
        raise click.ClickException(f"{username}: not an active city-level user")
    actor = Actor(user.id, user.username, Role(user.role), user.unit_id)
    count = sealing.seal_discharged(db.session, actor=actor, now=now_utc())
    if dry_run:
        db.session.rollback()
        click.echo(f"would seal {count} record(s)")
        return
    db.session.commit()
    click.echo(f"sealed {count} record(s)")
