"""``corrections risk``: export snapshots, train, predict, sign, compare, activate, score."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from corrections.core.i18n import _, cli_text


class _RiskGroup(click.Group):
    """Refusals end a command with ``Error: <why>`` and exit status 1, never a traceback: a
    model's files the checks refuse (:class:`~corrections.risk.artifact.ArtifactError`), a
    domain rule (each problem once)."""

    def invoke(self, ctx: click.Context):
        from corrections.core.cli_errors import domain_message
        from corrections.core.errors import DomainError

        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise click.ClickException(domain_message(exc)) from None
        except Exception as exc:
            # Only a command that read a model can have had its files refused; the check
            # does not import the modelling libraries for the others.
            artifact = sys.modules.get("corrections.risk.artifact")
            if artifact is not None and isinstance(exc, artifact.ArtifactError):
                raise click.ClickException(_why(exc)) from None
            raise


def _why(exc: Exception) -> str:
    """An exception's reason for the terminal: a message (core/i18n.py) in Chinese, then
    English; any other text as it is."""
    reason = exc.args[0] if exc.args else ""
    return cli_text(reason) if isinstance(reason, str) else str(exc)


def _operator(username: str | None) -> str | None:
    """Who typed the command (``cli:<os user>@<host>``) when ``--by`` names someone else for
    the audit (the reviewer, the person who decided): the trail keeps both, as the other
    ``--by`` commands do. None without ``--by``: the actor is the operator then."""
    from corrections.core.cli_identity import cli_actor

    return cli_actor().username if username and username.strip() else None


@click.group(cls=_RiskGroup)
def risk() -> None:
    """Absconding risk model (脱管风险模型): export, train, predict, sign, activate, score."""


def _every(value: str) -> int:
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(cli_text(_("give days, like 30d")), param_hint="--every")
    return int(text)


# Who a command is done by, for the audit (compare, activate, activate-shipped).
_by_option = click.option(
    "--by",
    "username",
    default=None,
    help="Who, for the audit [default: the operating-system user and host]",
)


@risk.command("export")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--every", default="30d", show_default=True, help="Days between snapshots")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--note", default="command-line export", show_default=True, help="For the audit")
@click.option(
    "--min-k",
    type=int,
    default=None,
    help="Persons sharing every row's quasi-identifiers, at least 2 [default: RISK_EXPORT_MIN_K]",
)
@with_appcontext
def export_cmd(start, end, every, out, note, min_k) -> None:
    """Write pseudonymised, k-anonymous training snapshots to OUT (.csv or .parquet), and the
    export's id and anonymity beside it (OUT's name with .export.json)."""
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import RuleViolation
    from corrections.risk import export

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise click.BadParameter(cli_text(_("must end in .csv or .parquet")), param_hint="--out")
    days = _every(every)
    start_d, end_d = start.date(), end.date()
    if end_d < start_d:
        raise click.BadParameter(cli_text(_("must not be before --from")), param_hint="--to")
    if min_k is not None and min_k < 2:
        raise click.BadParameter(cli_text(_("must be at least 2")), param_hint="--min-k")
    snapshots = len(export.snapshot_days(start_d, end_d, days))
    now = now_utc()
    try:
        with click.progressbar(length=snapshots, label="snapshots") as bar:
            table, result = export.audited(
                db.session,
                actor=cli_actor(),
                start=start_d,
                end=end_d,
                every_days=days,
                now=now,
                note=note,
                min_k=min_k,
                progress=bar.update,
                file=out.name,
            )
    except RuleViolation as exc:
        db.session.rollback()
        message = _("export refused (--min-k): {why}", why=exc.detail)
        raise click.ClickException(cli_text(message)) from exc
    export.write(table, out)
    sidecar = export.write_sidecar(result, out, start=start_d, end=end_d, now=now)
    db.session.commit()
    click.echo(
        f"{result.rows} rows ({result.positives} positive) from {len(result.snapshots)} "
        f"snapshot days to {out}"
    )
    click.echo(
        f"export {result.export_id}: k={result.k} (min {result.min_k}) over "
        f"{', '.join(result.quasi_identifiers)}; {result.rows_suppressed} rows suppressed, "
        f"{result.rows_generalised} with the term columns blank -> {sidecar}"
    )
    if result.skipped:
        click.echo(
            f"skipped {len(result.skipped)} snapshot days whose 90-day horizon is not over "
            f"(from {result.skipped[0]})"
        )


@risk.command("train")
@click.option(
    "--table", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--label", required=True)
@click.option("--positive", default=None, help="The label value that counts as positive")
@click.option("--drop", multiple=True, help="Column to ignore (repeatable)")
@click.option("--group", multiple=True, help="Column for the per-group report only (repeatable)")
@click.option("--time-column", default=None, help="Order folds and hold-out by this column")
@click.option("--version", default=None, help="Version name (default: date and data hash)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--allow-suspect",
    multiple=True,
    help="Train despite the leakage checks flagging this feature (repeatable; in the card)",
)
@click.option(
    "--label-window-days",
    type=click.IntRange(min=0),
    default=None,
    help="The label's window after --time-column, in days (a date feature beyond it is "
    "suspect) [default: 90 for lost_contact_90d, else 0]",
)
@click.option(
    "--min-group-count",
    type=click.IntRange(min=1),
    default=None,
    help="Groups with fewer positives or negatives are not reported in the card "
    "[default: RISK_CARD_MIN_GROUP_COUNT]",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sign/--no-sign",
    default=True,
    show_default=True,
    help="Sign the card with this instance's key (--no-sign: for a model that goes elsewhere)",
)
@click.option(
    "--by",
    "username",
    default=None,
    help="Who, in the signature [default: the operating-system user and host]",
)
@with_appcontext
def train_cmd(
    table,
    label,
    positive,
    drop,
    group,
    time_column,
    version,
    seed,
    allow_suspect,
    label_window_days,
    min_group_count,
    out,
    sign,
    username,
) -> None:
    """Train on any table; write the model (skops), card.json, plots and card.html to OUT.
    The card is signed with this instance's key, so this instance can activate it."""
    from flask import current_app

    from corrections.core import keys
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.risk import artifact, signing, training

    spec = training.Spec(
        label=label,
        positive=positive,
        drop=list(drop),
        group=list(group),
        time_column=time_column,
        version=version or out.name,
        seed=seed,
        allow_suspect=list(allow_suspect),
        label_window_days=label_window_days,
        min_group_count=min_group_count or int(current_app.config["RISK_CARD_MIN_GROUP_COUNT"]),
    )
    try:
        trained = training.train(table, spec, out, progress=lambda m: click.echo(f"· {m}"))
    except (training.TrainingError, ValueError) as exc:
        raise click.ClickException(_why(exc)) from exc
    card = trained.card
    if sign:
        card["signature"] = signing.sign(
            card, by=cli_actor(username).username, at=now_utc(), keyring=keys.current()
        )
        artifact.write_card(out, card)
    m = card["metrics"]
    click.echo(
        f"{card['version']}: {card['model']['chosen']}, hold-out AUC "
        f"{m['auc']:.4f}, Brier {m['brier']:.4f}, ECE {m['ece']:.4f} -> {out}"
        + ("" if sign else " (card not signed)")
    )
    for s in card.get("data_checks", {}).get("suspects", []):
        click.echo(
            f"! allowed suspect {s['feature']}: {s['check']} {s['figure']:.4f} (in the card)"
        )
    warning = (card.get("calibration") or {}).get("warning")
    if warning:
        click.echo(f"! {warning['zh']} ({warning['en']})")


@risk.command("predict")
@click.option(
    "--model", "model_dir", required=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--table", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def predict_cmd(model_dir, table, out) -> None:
    """One row per input row, in order: probability, band, reasons (top three features)."""
    from corrections.risk import artifact
    from corrections.risk.export import read_table
    from corrections.risk.scorer import FeatureMismatch, Scorer

    try:
        scorer = Scorer(artifact.load(model_dir))
    except artifact.ArtifactError as exc:
        raise click.ClickException(_why(exc)) from exc
    frame = read_table(table)
    try:
        scored = scorer.score(frame)
    except FeatureMismatch as exc:
        raise click.ClickException(_why(exc)) from exc
    scored["reasons"] = [";".join(r["feature"] for r in rs) for rs in scored["reasons"]]
    scored.to_csv(out, index=False)
    counts = scored["band"].value_counts().to_dict()
    click.echo(f"{len(scored)} rows scored with {scorer.loaded.version} -> {out} {counts}")


@risk.command("sign")
@click.argument("version")
@click.option("--by", "username", required=True, help="Who reviewed the card (in the audit)")
@click.option(
    "--card-sha256",
    default=None,
    help="The checksum of the card you reviewed (`risk models` shows it): refuse if it differs",
)
@with_appcontext
def sign_cmd(version, username, card_sha256) -> None:
    """Sign VERSION's card (a directory in RISK_MODELS_DIR) with this instance's key, after
    review: a model trained elsewhere can be activated only then. Checks the files first
    (checksums, library versions, allow-listed types; nothing in the model runs) and records
    the signature in the database, leaving the files as they are. Audited."""
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.risk import service

    actor = cli_actor(username)
    try:
        row = service.sign(
            db.session,
            actor=actor,
            version=version,
            now=now_utc(),
            expect_card_sha256=card_sha256,
            operator=_operator(username),
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(domain_message(exc)) from exc
    db.session.commit()
    click.echo(
        f"signed {row.version} (card {row.card_sha256[:12]}…, hold-out AUC "
        f"{row.card['metrics']['auc']:.4f}); activate it with `corrections risk activate "
        f"{row.version}`"
    )


@risk.command("trusted-types")
@click.option("--write", is_flag=True, help="Write the list to corrections/risk/trusted_types.txt")
def trusted_types_cmd(write) -> None:
    """Train every candidate model on generated tables and list every type the model files
    hold: the allow-list a model file is checked against. Shows what differs from the
    checked-in list (exit status 1 if anything does); --write replaces it, to review and
    commit. Takes minutes: about 3 of CPU time, 4 to 6 on the 2-core development machine
    beside other work."""
    from corrections.risk import allowlist

    types = allowlist.generate(progress=lambda m: click.echo(f"· {m}", err=True))
    current = allowlist.trusted()
    added, removed = sorted(set(types) - current), sorted(current - set(types))
    for t in added:
        click.echo(f"+ {t}")
    for t in removed:
        click.echo(f"- {t}")
    if write:
        allowlist.TYPES_FILE.write_text(allowlist.render(types), encoding="utf-8")
        click.echo(f"{len(types)} types -> {allowlist.TYPES_FILE.name}; review the diff")
    elif added or removed:
        raise click.ClickException(cli_text(_("the checked-in list differs (rerun with --write)")))
    else:
        click.echo(f"the checked-in list is current ({len(types)} types)")


@risk.command("compare")
@click.argument("champion")
@click.argument("challenger")
@_by_option
@with_appcontext
def compare_cmd(champion, challenger, username) -> None:
    """Score CHAMPION and CHALLENGER (directories in RISK_MODELS_DIR) on the same recent
    snapshots of this database whose 90-day outcomes are known (RISK_COMPARE_MONTHS), and
    print AUC, Brier, calibration and AUC by group side by side, with paired bootstrap
    intervals over persons, and the verdict `risk activate` applies: the challenger is worse
    when the interval of its AUC minus the champion's lies below zero, or that of its Brier
    score above zero. The snapshots stay in memory; the audit row holds the figures."""
    from flask import current_app

    from corrections.audit import service as audit
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import Conflict
    from corrections.core.i18n import cli_render
    from corrections.risk import artifact, compare, service

    loaded = [artifact.load(service._directory(v)) for v in (champion, challenger)]
    for model in loaded:
        problems = service.check_features(model.card)
        if problems:
            raise Conflict(problems[0], errors={model.version: problems})
    now = now_utc()
    result, why_none = compare.run(db.session, *loaded, now=now, config=current_app.config)
    if why_none is not None:
        raise Conflict(why_none)
    click.echo(compare.render(result))
    audit.record(
        db.session,
        actor=cli_actor(username),
        action="risk.model.compare",
        subject_type="risk_model",
        subject_id=challenger,
        detail={
            **compare.summary(result),
            **({"operator": _operator(username)} if username else {}),
        },
        now=now,
    )
    db.session.commit()
    if compare.worse(result):
        click.echo(cli_render(_("(`risk activate` refuses it without --force --reason)")))


@risk.command("activate")
@click.argument("version")
@click.option(
    "--force",
    is_flag=True,
    help="Activate despite the refusals (worse on the same data, too few training rows, no "
    "comparison possible)",
)
@click.option("--reason", default=None, help="Why (required with --force)")
@_by_option
@with_appcontext
def activate_cmd(version, force, reason, username) -> None:
    """Make VERSION (a directory in RISK_MODELS_DIR) the service model. Its card must be
    signed by this instance (`risk train` here, or `risk sign` after review). Over an active
    model, both are compared on this database's recent matured snapshots (`risk compare`):
    refused, with the figures, when VERSION is worse beyond the interval, when the
    comparison cannot be made, or when its card says it was fitted on fewer rows than
    RISK_MIN_TRAINING_ROWS, unless --force --reason (audited with the comparison)."""
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.risk import service

    actor = cli_actor(username)
    try:
        done = service.activate(
            db.session,
            actor=actor,
            version=version,
            now=now_utc(),
            force=force,
            reason=reason,
            operator=_operator(username),
        )
    except DomainError as exc:
        db.session.rollback()
        comparison = getattr(exc, "comparison", None)
        if comparison is not None:
            from corrections.risk import compare

            click.echo(compare.render(comparison))
        raise click.ClickException(domain_message(exc)) from exc
    db.session.commit()
    if done.comparison is not None:
        from corrections.risk import compare

        click.echo(compare.render(done.comparison))
    for why in done.overridden:
        click.echo(cli_text(_("activated with --force despite: {why}", why=why)))
    click.echo(f"active model: {done.row.version} (hold-out AUC {done.row.holdout_auc:.4f})")


@risk.command("activate-shipped")
@_by_option
@with_appcontext
def activate_shipped_cmd(username) -> None:
    """Make the model the package ships (models/README.md) the service model, once, after
    installing: copy it into RISK_MODELS_DIR if it is not there, sign its card with this
    instance's key (only the card reviewed in the repository) and activate it. Changes
    nothing while a model is active (run it again safely). Audited."""
    from corrections.core.cli_errors import domain_message
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.core.i18n import cli_render
    from corrections.risk import service

    try:
        shipped = service.activate_shipped(
            db.session, actor=cli_actor(username), now=now_utc(), operator=_operator(username)
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(domain_message(exc)) from exc
    db.session.commit()
    row = shipped.row
    if shipped.outcome == "already":
        message = _("{version} is already the active model; nothing changed", version=row.version)
    elif shipped.outcome == "other":
        message = _(
            "{version} is the active model (chosen here); the shipped {shipped} was not "
            "activated (`corrections risk activate {shipped}` after `risk sign` would)",
            version=row.version,
            shipped=service.DEFAULT_MODEL,
        )
    else:
        if shipped.copied_to is not None:
            folder = str(shipped.copied_to)
            copied = _("copied {version} into {folder}", version=row.version, folder=folder)
            click.echo(cli_render(copied))
        message = _(
            "active model: {version} (hold-out AUC {auc:.4f}), signed and activated by {by}",
            version=row.version,
            auc=row.holdout_auc,
            by=row.activated_by,
        )
    click.echo(cli_render(message))


@risk.command("score")
@with_appcontext
def score_cmd() -> None:
    """Score every active person now with the active model (what the nightly job does)."""
    from corrections.core.clock import now_utc
    from corrections.core.db import db
    from corrections.risk import service

    result = service.score_all(db.session, now=now_utc())
    db.session.commit()
    click.echo(json.dumps(result.counts(), ensure_ascii=False))


@risk.command("models")
@with_appcontext
def models_cmd() -> None:
    """List model versions, which one is active, each card's checksum (sha256 of the card's
    content as sorted compact JSON without its checksum and signature; not `sha256sum
    card.json`) and who signed it. AUC and checksum are the card's on disk; when it is not
    the card that was signed or activated, the line says so and gives the recorded ones."""
    from corrections.core.db import db
    from corrections.risk import service

    for m in service.list_models(db.session):
        auc = (m.get("card") or {}).get("metrics", {}) or {}
        mark = "*" if m.get("active") else " "
        signed = f"signed by {m['signed_by']}" if m.get("signed_by") else "unsigned"
        click.echo(
            f"{mark} {m['version']:<32} AUC {auc.get('auc', float('nan')):.4f} "
            f"card {m.get('card_sha256') or '-'} {signed} {m.get('problem') or ''}".rstrip()
        )
