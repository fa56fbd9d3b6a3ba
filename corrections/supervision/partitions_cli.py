"""``corrections db partitions`` and ``corrections db detach-events MONTH``: the event log's
months on PostgreSQL (:mod:`corrections.supervision.partitions`)."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from corrections.core.i18n import _, cli_column, cli_render, cli_text


def _require_log() -> None:
    """A database never migrated says so ("run db upgrade first"), not "PostgreSQL only"."""
    from sqlalchemy import inspect

    from corrections.core.cli_errors import missing_table_message
    from corrections.core.db import db

    if not inspect(db.engine).has_table("supervision_events"):
        raise click.ClickException(cli_text(missing_table_message(db.engine, "supervision_events")))


@click.command("partitions")
@with_appcontext
def partitions_cmd() -> None:
    """List the event log's monthly partitions (PostgreSQL): month, estimated rows, size."""
    from corrections.core.db import db
    from corrections.supervision import partitions

    _require_log()
    months = partitions.months(db.session)
    db.session.rollback()
    if not months:
        click.echo(cli_render(_("the event log is not partitioned (PostgreSQL only)")))
        return
    widths = (10, 14, 12)

    def line(*cells) -> str:
        return " ".join([*map(cli_column, cells[:-1], widths), cells[-1]])

    heading = (_("month"), _("rows (estimate)"), _("size (MiB)"), _("table"))
    click.echo(line(*(cli_render(h) for h in heading)))
    default = cli_render(_("other months"))
    for m in months:
        month = m.month.strftime("%Y-%m") if m.month else default
        # -1: never analysed (a new month, or rows just moved in): no estimate yet.
        rows = f"{m.rows:,}" if m.rows >= 0 else cli_render(_("not counted yet"))
        click.echo(line(month, rows, f"{m.bytes / 2**20:,.1f}", f"{partitions.SCHEMA}.{m.name}"))
    click.echo(cli_render(_("{count} partitions", count=len(months))))


def _month(_ctx, _param, value: str) -> date:
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise click.BadParameter(cli_text(_("expected a month as YYYY-MM"))) from None


@click.command("detach-events")
@click.argument("month", callback=_month)
@click.option(
    "--force",
    is_flag=True,
    help="Detach although persons still under supervision have events in the month.",
)
@click.option("--reason", help="Why (required with --force; kept in the audit trail).")
@with_appcontext
def detach_events_cmd(month: date, force: bool, reason: str | None) -> None:
    """Detach one month (YYYY-MM) of the event log for the archive (PostgreSQL): only months
    older than EVENT_RETENTION_MONTHS. The table moves to the schema event_archive; copy it
    with pg_dump -t, then drop it. Audited."""
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.supervision import partitions

    _require_log()
    if force and not (reason or "").strip():
        raise click.UsageError(cli_text(_("--force needs --reason")))
    retention = current_app.config["EVENT_RETENTION_MONTHS"]
    try:
        table = partitions.detach(
            db.session,
            month=month,
            now=now_utc(),
            retention_months=retention,
            actor=cli_actor(),
            force=force,
            reason=reason,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(domain_message(exc)) from exc
    click.echo(
        cli_render(_("detached {month}: now {table}", month=month.strftime("%Y-%m"), table=table))
    )


COMMANDS = (partitions_cmd, detach_events_cmd)
