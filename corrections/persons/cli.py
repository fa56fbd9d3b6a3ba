"""``corrections persons``: operations on persons' records outside the API."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import with_appcontext

from corrections.core.i18n import _, cli_render, cli_text


@click.group()
def persons() -> None:
    """Persons' records (caseload import, sealing of juvenile records)."""


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
    Art. 286); each seal is audited as the named city user's, with the operator at this
    shell (cli:<os user>@<host>). Records discharged since are sealed by the discharge
    itself."""
    from sqlalchemy import select

    from corrections.core.auth import Actor, Role
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.org.models import User
    from corrections.persons import sealing

    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active or user.role != Role.CITY:
        raise click.ClickException(
            cli_text(_("{username}: not an active city-level user", username=username))
        )
    actor = Actor(user.id, user.username, Role(user.role), user.unit_id)
    count = sealing.seal_discharged(db.session, actor=actor, now=now_utc(), operator=_operator())
    if dry_run:
        db.session.rollback()
        click.echo(cli_render(_("would seal {count} record(s)", count=count)))
        return
    db.session.commit()
    click.echo(cli_render(_("sealed {count} record(s)", count=count)))


def _import_actor(username: str | None):
    """The user named by --by (their scope decides which offices their rows may name), or
    the operator at the command line (any office), named ``cli:<os user>@<host>`` in the
    audit."""
    from sqlalchemy import select

    from corrections.core.auth import Actor, Role
    from corrections.core.cli_identity import cli_actor
    from corrections.core.db import db
    from corrections.org.models import User

    if username is None:
        return cli_actor()
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    allowed = (Role.OFFICER, Role.COMMANDER, Role.CITY, Role.ADMIN)
    if user is None or not user.active or Role(user.role) not in allowed:
        message = _(
            "{username}: not an active officer, commander, city or admin account",
            username=username,
        )
        raise click.ClickException(cli_text(message))
    return Actor(user.id, user.username, Role(user.role), user.unit_id)


def _operator() -> str:
    from corrections.core.cli_identity import cli_actor

    return cli_actor().username


def _write_template(xlsx: bool) -> None:
    import sys

    from corrections.persons import importer

    if xlsx and sys.stdout.isatty():
        message = _(
            "the .xlsx template is binary: redirect it to a file ({command})",
            command="corrections persons import --template --xlsx > 名单.xlsx",
        )
        raise click.UsageError(cli_text(message))
    data = importer.template_xlsx() if xlsx else importer.template_csv()
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@persons.command("import")
@click.argument(
    "file",
    required=False,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option(
    "--template",
    is_flag=True,
    help="Write an empty template to standard output instead (CSV; with --xlsx a workbook).",
)
@click.option("--xlsx", is_flag=True, help="With --template: the .xlsx workbook.")
@click.option(
    "--by",
    "username",
    default=None,
    help="Import as this user: an officer's rows go to their own office, a commander's to "
    "offices of their district, a city or admin user's anywhere. Default: the operator at the "
    "command line (cli:<os user>@<host>), anywhere.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and report; store nothing.")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Store the good rows and report the bad (default: one bad row and nothing is stored).",
)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the report (行, 列, 问题, problem) to this CSV file.",
)
@with_appcontext
def import_cmd(
    file: Path | None,
    template: bool,
    xlsx: bool,
    username: str | None,
    dry_run: bool,
    skip_invalid: bool,
    report_path: Path | None,
) -> None:
    """Import a caseload (名单导入) from FILE (.csv or .xlsx): persons already under
    correction, each row checked as an intake through the API is, with their current grade,
    whether and when they reported and their last report, check and visit carried over. One
    bad row and nothing is stored (--skip-invalid stores the rest); every problem is reported
    with its row and column, in Chinese and English. Rows imported before are recognised and
    left unchanged, so running the same file again changes nothing. A row whose ID number has
    an open case is refused saying only that. Every run, a dry run too, is audited (the
    operator, the file's sha256, its rows, how many matched existing records); a run matching
    more open cases outside your scope than IMPORT_MAX_OPEN_MATCHES (20; with the last 24
    hours' runs of the same user, or of the same operator at this shell whoever --by names)
    is refused as a whole. A row matching a record you may not see in full (another office's,
    a juvenile's, a sealed one) is answered as an open case is, and counts."""
    import sys

    from flask import current_app
    from sqlalchemy.exc import IntegrityError

    from corrections.audit import service as audit
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import operator_key
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.persons import importer
    from corrections.supervision import caseload

    if template:
        _write_template(xlsx)
        return
    if file is None:
        raise click.UsageError(
            cli_text(_("give the FILE to import, or --template for an empty one"))
        )
    actor = _import_actor(username)
    try:
        table = importer.read(file)
    except DomainError as exc:
        raise click.ClickException(domain_message(exc)) from exc
    read = _(
        "{file}: {format}, {rows} rows, sha256 {sha256}",
        file=file.name,
        format=table.format,
        rows=len(table.rows),
        sha256=table.sha256,
    )
    click.echo(cli_render(read), err=True)
    # Before anything is stored: a report file that cannot be written must not end an import
    # that already stored its rows with a traceback (new-operator review).
    report = _ReportFile(report_path) if report_path is not None else None
    session = db.session
    operator = _operator()
    key = operator_key()  # the probing bound counts the operator by numbers, not a host name
    try:
        # The probing bound's count and this run's audit row in one transaction, under a
        # lock per operator and user: what the run did apart from that is undone by
        # rolling back to the savepoint, not the transaction (which would end the lock).
        caseload.lock_runs(session, actor=actor, operator=operator, operator_key=key)
        attempt = session.begin_nested()
        with click.progressbar(
            length=2 * len(table.rows),
            label=cli_render(_("checking") if dry_run else _("importing")),
            file=sys.stderr,
        ) as bar:
            outcome = caseload.import_caseload(
                session,
                actor=actor,
                table=table,
                now=now_utc(),
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                progress=bar.update,
                operator=None if actor.is_system else operator,
                operator_key=key,
            )
        if outcome.stored:
            attempt.commit()
        else:
            attempt.rollback()
            audit.forget_request(session)
        # Every run is audited, a dry run and a refused one too (probing protection).
        caseload.record_run(
            session,
            actor=actor,
            outcome=outcome,
            dry_run=dry_run,
            operator=operator,
            operator_key=key,
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if report:
            report.discard()
        message = _(
            "a person in the file was taken in meanwhile; nothing was stored: run the import again"
        )
        raise click.ClickException(cli_text(message)) from exc
    except DomainError as exc:
        session.rollback()
        if report:
            report.discard()
        raise click.ClickException(domain_message(exc)) from exc
    except BaseException:
        if report:
            report.discard()
        raise

    if outcome.probing_refused:
        if report:
            report.discard()
        limit = current_app.config["IMPORT_MAX_OPEN_MATCHES"]
        message = _(
            "refused as a whole: the file's ID numbers match more open cases outside your "
            "scope than an import may in 24 hours ({limit}, IMPORT_MAX_OPEN_MATCHES); no row "
            "is reported and nothing was stored; ask the city bureau to check the file",
            limit=limit,
        )
        raise click.ClickException(cli_text(message))
    lines = list(caseload.rows_of(outcome))
    if lines:
        click.echo("行\t列\t问题\tproblem")
        for row, column, zh, en in lines:
            click.echo(f"{row}\t{column or '—'}\t{zh}\t{en}")
    if report:
        report.write(lines)
    click.echo(_summary(outcome, dry_run))
    if _refused(outcome, skip_invalid):
        sys.exit(1)


def _refused(outcome, skip_invalid: bool) -> bool:
    """Whether the run ends with exit status 1: a file with bad rows, by default (nothing is
    stored); with --skip-invalid only a file refused as a whole: its header is wrong (no row
    was read) or no row of it is good (none stored, none imported before). Bad rows skipped
    beside rows stored, or beside rows imported before and unchanged, are what --skip-invalid
    asks for (exit 0), in a dry run too."""
    if not outcome.problems or outcome.stored:
        return False
    if not skip_invalid:
        return True
    return not outcome.skipped or not (outcome.created or outcome.unchanged)


class _ReportFile:
    """The --report file, opened before the import (a path that cannot be written stops the
    command at once: one line, exit 2, nothing stored); written at the end, or removed when
    this run made it and ends without a report."""

    def __init__(self, path: Path):
        from corrections.core.cli_errors import OperatorError, os_reason

        self.path, self.made = path, not path.exists()
        try:
            # Not truncated yet: a run that ends without a report leaves an older one as it was.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
            self.file = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            message = _(
                "cannot write the report file {path}: {reason}; nothing was imported",
                path=str(path),
                reason=os_reason(exc),
            )
            raise OperatorError(cli_text(message)) from None

    def write(self, lines: list[tuple[int, str, str, str]]) -> None:
        import csv

        def cell(value):
            # The column names come from the imported file, and the report is opened in
            # Excel: a cell starting with = + - @ (or a tab or carriage return) would run as a
            # formula (hostile review), so it is quoted as text (OWASP: CSV injection).
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                return "'" + value
            return value

        with self.file as out:
            out.truncate(0)
            writer = csv.writer(out)
            writer.writerow(["行", "列", "问题", "problem"])
            writer.writerows([[cell(v) for v in line] for line in lines])

    def discard(self) -> None:
        self.file.close()
        if self.made:
            self.path.unlink(missing_ok=True)


def _summary(outcome, dry_run: bool) -> str:
    """The last line: what was stored (or would be), in the operator's language."""
    counts = _(
        "{created} persons ({active} active, {graded} with their grade), {unchanged} rows "
        "unchanged",
        created=outcome.created,
        active=outcome.active,
        graded=outcome.graded,
        unchanged=outcome.unchanged,
    )
    bad = outcome.bad_rows
    if outcome.stored:
        if outcome.skipped:
            counts = _(
                "{counts}, {skipped} bad rows skipped", counts=counts, skipped=outcome.skipped
            )
        summary = _(
            "imported {counts}; import {import_id}", counts=counts, import_id=outcome.import_id
        )
    elif dry_run and outcome.skipped:
        summary = _(
            "dry run: would import {counts}, {skipped} bad rows skipped; nothing stored",
            counts=counts,
            skipped=outcome.skipped,
        )
    elif dry_run and bad:
        summary = _(
            "dry run: {bad} rows have problems, so an import would store nothing unless "
            "--skip-invalid; the rest: {counts}",
            bad=bad,
            counts=counts,
        )
    elif dry_run:
        summary = _("dry run: would import {counts}; nothing stored", counts=counts)
    elif outcome.skipped and outcome.unchanged:
        # --skip-invalid, and every good row was imported before: nothing new to store.
        summary = _(
            "nothing new: {count} rows were imported before and are unchanged, {skipped} bad "
            "rows skipped",
            count=outcome.unchanged,
            skipped=outcome.skipped,
        )
    elif outcome.skipped:
        summary = _(
            "nothing imported: every row ({skipped}) has problems; nothing stored",
            skipped=outcome.skipped,
        )
    elif bad:
        summary = _("refused: {bad} rows have problems; nothing stored", bad=bad)
    else:
        summary = _(
            "nothing new: {count} rows were imported before and are unchanged",
            count=outcome.unchanged,
        )
    return cli_render(summary)
