"""``corrections exchange``: partner agencies and their accounts, the delivery of messages,
resending dead letters. Every change is audited as ``cli:<os user>@<host>``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from corrections.core.i18n import _, cli_render, cli_text


@click.group()
def exchange() -> None:
    """Inter-agency exchange (信息共享、抄送通报): agencies, partner accounts, delivery."""


def _run(work):
    """Run ``work(session, actor)`` in one transaction; a domain error is the message."""
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.db import db
    from corrections.core.errors import DomainError

    try:
        result = work(db.session, cli_actor())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(domain_message(exc)) from exc
    return result


@exchange.group("agencies")
def agencies() -> None:
    """Partner agencies (court, procuratorate, police, immigration, another bureau)."""


@agencies.command("add")
@click.argument("code")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["court", "procuratorate", "police", "immigration", "bureau"]),
)
@click.option("--name", "name_zh", required=True, help="Chinese name (东城区人民检察院)")
@click.option("--unit", "unit_code", required=True, help="The city or district it serves")
@with_appcontext
def agencies_add(code, kind, name_zh, unit_code) -> None:
    """Add an agency; messages kept for its kind and district go to it."""
    from corrections.exchange import service

    agency, routed = _run(
        lambda session, actor: service.create_agency(
            session, code=code, kind=kind, name_zh=name_zh, unit_code=unit_code, actor=actor
        )
    )
    click.echo(
        cli_render(
            _(
                "added agency {code} ({kind}); {routed} waiting messages routed to it",
                code=agency.code,
                kind=kind,
                routed=routed,
            )
        )
    )


@agencies.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts")
@with_appcontext
def agencies_list(as_json) -> None:
    """Agencies: code, kind, unit, active partner accounts."""
    from corrections.core.db import db
    from corrections.exchange import service

    rows = [
        {
            "code": a.code,
            "kind": a.kind,
            "name_zh": a.name_zh,
            "unit": u.code,
            "active": a.active,
            "partner_accounts": n,
        }
        for a, u, n in service.list_agencies(db.session)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(
            f"{r['code']}\t{r['kind']}\t{r['unit']}\t{r['name_zh']}\t{r['partner_accounts']}"
        )


@exchange.group("partners")
def partners() -> None:
    """Partner accounts: an agency's staff reading its feed."""


@partners.command("create")
@click.argument("username")
@click.option("--agency", "agency_code", required=True, help="The agency's code")
@click.option("--name", "display_name", default="", help="Display name")
@with_appcontext
def partners_create(username, agency_code, display_name) -> None:
    """Create a partner account of an agency, without a password: a one-time reset code is
    printed for its user to set their own."""
    from corrections.exchange import service

    done = _("created partner {username} ({agency})", username=username, agency=agency_code)
    _agency_account(service.create_partner, username, agency_code, display_name, done)


def _agency_account(create, username, agency_code, display_name, done) -> None:
    """Create an agency-bound account with ``create`` and print its one-time reset code."""
    from corrections.core.clock import BUSINESS_TZ
    from corrections.org import credentials
    from corrections.org.cli import reset_code_text

    def work(session, actor):
        create(
            session,
            username=username,
            agency_code=agency_code,
            display_name=display_name,
            actor=actor,
        )
        return credentials.issue_reset_code(session, username=username, actor=actor)

    issued = _run(work)
    click.echo(cli_render(done))
    click.echo(reset_code_text(issued, BUSINESS_TZ))


@exchange.command("messages")
@click.option(
    "--state", type=click.Choice(["unrouted", "pending", "published", "dead", "acknowledged"])
)
@click.option("--agency", help="An agency's code")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts")
@with_appcontext
def messages(state, agency, limit, as_json) -> None:
    """Delivery of messages, newest first (never their data)."""
    from corrections.core.db import db
    from corrections.exchange import service

    rows, _total = service.list_messages(db.session, state=state, agency=agency, page_size=limit)
    out = [
        {
            "id": m.id,
            "event_id": m.event_id,
            "type": m.type,
            "receiver": a.code if a else m.receiver_kind,
            "state": m.state,
            "attempts": m.attempts,
            "created_at": m.created_at.isoformat(),
            "last_error": m.last_error,
        }
        for m, a in rows
    ]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    for r in out:
        click.echo(
            f"{r['id']}\t{r['state']}\t{r['receiver']}\t{r['type']}\t{r['attempts']}"
            f"\t{r['created_at']}\t{r['last_error'] or ''}"
        )


@exchange.command("resend")
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Every dead letter")
@with_appcontext
def resend(ids, dead) -> None:
    """Put messages back in the relay's queue (IDS, or --dead for every dead letter)."""
    from corrections.exchange import service

    count = _run(
        lambda session, actor: service.resend(
            session, actor=actor, message_ids=list(ids) or None, dead=dead
        )
    )
    click.echo(cli_render(_("{count} messages queued again", count=count)))


@exchange.command("relay")
@click.option("--holder", default=None, help="Name of this relay (default host:pid)")
@with_appcontext
def relay(holder) -> None:
    """Publish pending messages to the broker (EXCHANGE_BROKER_URL, RabbitMQ) until SIGTERM
    or Ctrl-C. Run two for fail-over: only the holder of the exchange-relay lease publishes,
    the other takes over when it stops or its lease expires. At least once, in order per
    person: receivers de-duplicate by message_id."""
    import importlib.util

    from flask import current_app

    from corrections.exchange import relay as relay_process
    from corrections.scheduler.service import default_holder

    app = current_app._get_current_object()
    url = app.config.get("EXCHANGE_BROKER_URL")
    if not url:
        refused = click.ClickException(
            cli_text(
                _(
                    "EXCHANGE_BROKER_URL is not set: there is no broker to publish to, so the "
                    "relay does not start. Partners read their feed (GET /api/v1/exchange/feed) "
                    "without one; to push as well, set CORRECTIONS_EXCHANGE_BROKER_URL="
                    "amqp://user:password@host:5672/vhost"
                )
            )
        )
        refused.exit_code = 2  # a setting: restarting mends nothing (systemd)
        raise refused
    if importlib.util.find_spec("pika") is None:
        missing = click.ClickException(
            cli_text(
                _(
                    "the relay needs the AMQP client pika, which is not installed: {command}",
                    command="pip install 'corrections[amqp]'",
                )
            )
        )
        missing.exit_code = 2
        raise missing
    name = holder or default_holder()
    banner = _(
        "exchange relay {name}: publishing to the exchange {exchange} at {broker}; Ctrl-C or "
        "SIGTERM stops",
        name=name,
        exchange=app.config["EXCHANGE_BROKER_EXCHANGE"],
        broker=relay_process.redacted(url),
    )
    click.echo(cli_render(banner))
    relay_process.serve(app, name)


@exchange.group("procurators")
def procurators() -> None:
    """Procurator accounts (检察人员): a procuratorate's staff overseeing the bureau."""


@procurators.command("create")
@click.argument("username")
@click.option("--agency", "agency_code", required=True, help="The procuratorate's code")
@click.option("--name", "display_name", default="", help="Display name")
@with_appcontext
def procurators_create(username, agency_code, display_name) -> None:
    """Create a procurator account of a procuratorate (its district's cases, or the city's:
    all; read-only but for filing 纠正意见 and 检察建议), without a password: a one-time reset
    code is printed for its user to set their own. Another kind of agency is refused."""
    from corrections.oversight import service

    done = _("created procurator {username} ({agency})", username=username, agency=agency_code)
    _agency_account(service.create_procurator, username, agency_code, display_name, done)
