"""``corrections org`` (the organisation file) and the account commands of ``corrections users``
beyond create/disable/list. Every change is audited as ``cli:<os user>@<host>``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from corrections.core.i18n import _, bilingual, cli_column, cli_render, cli_text

EXAMPLE_FILE = Path(__file__).with_name("org.example.yaml")

_ACTIONS = {
    "create": ("+", _("create")),
    "rename": ("~", _("rename")),
    "move": (">", _("move")),
    "activate": ("↑", _("activate")),
    "deactivate": ("↓", _("deactivate")),
}


def _kind(kind: str) -> str:
    """A unit's kind as the operator reads it: 司法所 (office)."""
    from corrections.org.models import UNIT_KIND_LABELS_ZH, UnitKind

    return cli_render(bilingual(kind, UNIT_KIND_LABELS_ZH[UnitKind(kind)]))


def _fail(exc) -> click.ClickException:
    """A domain error as the command's message (Chinese, the English in parentheses: see
    core/i18n.py ``cli_text``), each named field on a line of its own."""
    errors = exc.errors or {}
    if len(errors) == 1 and next(iter(errors.values())) == [exc.detail]:
        return click.ClickException(f"{next(iter(errors))}: {cli_text(exc.detail)}")
    lines = [cli_text(exc.detail)]
    for key, messages in errors.items():
        lines += [f"  {key}: {cli_text(m)}" for m in messages]
    return click.ClickException("\n".join(lines))


@click.group()
def org() -> None:
    """The organisation (组织架构): city, districts, judicial offices."""


@org.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the changes, change nothing.")
@click.option(
    "--deactivate-missing",
    is_flag=True,
    help="Make units missing from the file inactive, if nothing refers to them.",
)
@with_appcontext
def org_import(file: Path, dry_run: bool, deactivate_missing: bool) -> None:
    """Bring the units in line with FILE (YAML; `corrections org template` shows the form).

    Adds new units, renames renamed ones, moves offices the file puts in another district
    (their persons, accounts and records go with them), makes listed inactive units active.
    Units missing from the file are reported and kept (never deleted). Running it again
    changes nothing. A file with any error changes nothing and names every bad entry."""
    import yaml

    from corrections.core.cli_identity import cli_actor
    from corrections.core.db import db
    from corrections.core.errors import DomainError
    from corrections.org import orgfile

    try:
        data = orgfile.load_yaml(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        message = _("not a valid UTF-8 YAML file: {error}", error=str(exc))
        raise click.ClickException(f"{file.name}: {cli_text(message)}") from None
    try:
        result = orgfile.import_document(
            db.session,
            data,
            actor=cli_actor(),
            dry_run=dry_run,
            deactivate_missing=deactivate_missing,
        )
    except DomainError as exc:
        db.session.rollback()
        raise _fail(exc) from None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(cli_render(_("{file}: {count} units", file=file.name, count=result.units)))
    for change in result.changes:
        mark, label = _ACTIONS[change.action]
        text = f"{mark} {cli_column(cli_render(label), 10)} {cli_column(_kind(change.kind), 12)} "
        text += f"{cli_column(change.code, 10)} "
        if change.action == "rename":
            text += f"{change.before} → {change.after}"
        else:
            text += change.name_zh
        if change.action == "create" and change.after:
            text += "  " + cli_render(_("(under {parent})", parent=change.after))
        elif change.action == "move":
            follow = _(
                "{before} → {after}, {count} persons follow",
                before=change.before,
                after=change.after,
                count=change.persons,
            )
            text += "  " + cli_render(follow)
        click.echo(text)
    for gone in result.missing:
        if gone.deactivated:
            continue
        if not gone.active:
            state = _("inactive")
        elif gone.has_history:
            state = _("has history: kept active")
        else:
            state = _("no history: kept (--deactivate-missing makes it inactive)")
        missing = _(
            "not in the file: {kind} {code} {name} — {state}",
            kind=_kind(gone.kind),
            code=gone.code,
            name=gone.name_zh,
            state=state,
        )
        click.echo("? " + cli_render(missing))
    n = len(result.changes)
    if dry_run:
        click.echo(cli_render(_("dry run: {count} change(s) found, nothing changed", count=n)))
    else:
        click.echo(cli_render(_("done: {count} change(s)", count=n) if n else _("no changes")))


@org.command("show")
@click.option("--yaml", "as_yaml", is_flag=True, help="As an import file (active units).")
@click.option("--json", "as_json", is_flag=True, help="As JSON, every unit with its fields.")
@with_appcontext
def org_show(as_yaml: bool, as_json: bool) -> None:
    """The organisation as a tree: codes, Chinese names, kinds; inactive units marked."""
    from corrections.core.db import db
    from corrections.org import orgfile, structure
    from corrections.org.models import UNIT_KIND_LABELS_ZH, UnitKind

    if as_yaml:
        import yaml

        document = orgfile.export_document(db.session)
        click.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), nl=False)
        return
    units = structure.all_units(db.session)
    if as_json:
        rows = [
            {
                "code": u.code,
                "name_zh": u.name_zh,
                "kind": u.kind,
                "parent_code": u.parent.code if u.parent else None,
                "active": u.active,
            }
            for u in units
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    children: dict[int | None, list] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)

    def show(unit, depth: int) -> None:
        mark = "" if unit.active else f"  ({cli_render(_('inactive'))})"
        label = UNIT_KIND_LABELS_ZH[UnitKind(unit.kind)]
        click.echo(f"{'  ' * depth}{unit.code:<10} {unit.name_zh} [{label}]{mark}")
        for child in children.get(unit.id, []):
            show(child, depth + 1)

    for top in children.get(None, []):
        show(top, 0)
    if not units:
        command = "corrections org template > org.yaml"
        click.echo(cli_render(_("no units yet: {command}, then import it", command=command)))


# The comments ``org template`` puts above the example's units, in the operator's language
# (the example file's own comment block says the same in English, for its reviewers).
TEMPLATE_HEADER = _(
    "Organisation file for `corrections org import FILE.yaml`.\n"
    "\n"
    "One city (市司法局), its districts (区(县)司法局) and their judicial offices (司法所).\n"
    "Codes are identities: a unit keeps its code for good.\n"
    "  city      4 digits, or the 6-digit GB/T 2260 division code ending in 00 (e.g. 330100)\n"
    "  district  its 6-digit GB/T 2260 division code; begins with the city's first 4 digits\n"
    "  office    its district's code followed by a 2- or 3-digit sequence (8 or 9 digits)\n"
    "Names are in Chinese: city and district names contain 司法局, office names 司法所.\n"
    "\n"
    "Importing again is safe: what is already so is left alone. A renamed entry is renamed;\n"
    "an office moved under another district is moved (its code stays; its persons, accounts\n"
    "and records go with it, and the move is recorded); a unit missing from the file is\n"
    "reported and kept (with --deactivate-missing it is made inactive if nothing refers to\n"
    "it). Try any change with --dry-run first.\n"
    "\n"
    "This example is the demo city 滨江市 (`corrections demo`)."
)


@org.command("template")
def org_template() -> None:
    """Print an example organisation file (the demo city 滨江市) to edit and import: its
    comments in the operator's language, then the units."""
    lines = EXAMPLE_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    # The example's own comment block is replaced by the header in the operator's language.
    start = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    for line in cli_render(TEMPLATE_HEADER).splitlines():
        click.echo(f"# {line}".rstrip())
    click.echo()
    click.echo("".join(lines[start:]), nl=False)


# --- users: what an operator does to accounts after creating them -------------------------


def _users_call(fn, **kwargs):
    from corrections.core.db import db
    from corrections.core.errors import DomainError

    try:
        result = fn(db.session, **kwargs)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise _fail(exc) from None
    return result


@click.command("enable")
@click.argument("username")
@with_appcontext
def users_enable(username: str) -> None:
    """Enable a disabled account (it signs in again; its old tokens stay revoked)."""
    from corrections.core.cli_identity import cli_actor
    from corrections.org import accounts

    _users_call(accounts.enable_user, username=username, actor=cli_actor())
    click.echo(cli_render(_("enabled {username}", username=username)))


@click.command("set-role")
@click.argument("username")
@click.argument(
    "role", type=click.Choice(["officer", "commander", "city", "analyst", "auditor", "admin"])
)
@click.option("--unit", "unit_code", help="The new unit too, when the role needs another kind")
@click.option(
    "--issue-code",
    is_flag=True,
    help="Then print a one-time reset code for the account (shown here only)",
)
@with_appcontext
def users_set_role(username: str, role: str, unit_code: str | None, issue_code: bool) -> None:
    """Change an account's role (and unit): an officer belongs to a judicial office, a
    commander to a district, the other roles to the city. Revokes the account's tokens and
    withdraws its reset codes. Made an administrator, the account also loses its password:
    --issue-code prints a new reset code here (or run reset-password NAME afterwards)."""
    from corrections.core.auth import Role
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import BUSINESS_TZ
    from corrections.org import accounts, credentials

    changes = {"role": role, **({"unit_code": unit_code} if unit_code else {})}
    actor = cli_actor()

    def change(session, **kwargs):
        before = accounts.service.get_user(session, username).role
        user = accounts.update_user(session, **kwargs)
        promoted = user.role == Role.ADMIN and before != Role.ADMIN
        issued = None
        if issue_code:
            issued = credentials.issue_reset_code(session, username=user.username, actor=actor)
        return user, promoted, issued

    user, promoted, issued = _users_call(change, username=username, changes=changes, actor=actor)
    click.echo(cli_render(_changed(user)))
    if promoted:
        click.echo(
            cli_render(
                _(
                    "made an administrator: its password is cleared and its reset codes "
                    "withdrawn; it signs in only after setting a password with a new code "
                    "issued here"
                )
            )
        )
    if issued is not None:
        click.echo(reset_code_text(issued, BUSINESS_TZ))
    elif promoted:
        command = f"corrections users reset-password {user.username}"
        click.echo(cli_render(_("issue that code now: {command}", command=command)))


@click.command("set-unit")
@click.argument("username")
@click.argument("unit_code")
@with_appcontext
def users_set_unit(username: str, unit_code: str) -> None:
    """Move an account to another unit of the kind its role needs. Revokes its tokens."""
    from corrections.core.cli_identity import cli_actor
    from corrections.org import accounts

    user = _users_call(
        accounts.update_user,
        username=username,
        changes={"unit_code": unit_code},
        actor=cli_actor(),
    )
    click.echo(cli_render(_changed(user)))


@click.command("reset-password")
@click.argument("username")
@with_appcontext
def users_reset_password(username: str) -> None:
    """Issue a one-time reset code (printed here only; stored hashed). Hand it to the user,
    who sets a new password with it (POST /api/v1/auth/password/reset); then every token of
    the account is revoked. An earlier code is withdrawn."""
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import BUSINESS_TZ
    from corrections.org import credentials

    issued = _users_call(credentials.issue_reset_code, username=username, actor=cli_actor())
    click.echo(reset_code_text(issued, BUSINESS_TZ))


def _changed(user):
    return _(
        "{username}: {role}, {unit}; tokens revoked, reset codes withdrawn",
        username=user.username,
        role=user.role,
        unit=user.unit.code,
    )


def reset_code_text(issued, tz) -> str:
    """The code and how long it holds, in the operator's language."""
    until = issued.expires_at.astimezone(tz)
    lines = (
        _(
            "one-time reset code for {username}: {code}",
            username=issued.user.username,
            code=issued.code,
        ),
        _(
            "valid until {until} (Asia/Shanghai); works once",
            until=until.strftime("%Y-%m-%d %H:%M"),
        ),
        _(
            "hand it to the user in person; they set a new password with it on the page "
            "{page} of the command centre (linked from its sign-in form), or with POST {api}",
            page="/password-reset",
            api="/api/v1/auth/password/reset",
        ),
    )
    return "\n".join(cli_render(line) for line in lines)


USER_COMMANDS = (users_enable, users_set_role, users_set_unit, users_reset_password)


# --- wall displays (大屏, org/displays.py) ------------------------------------------------


@click.group()
def display() -> None:
    """Wall displays (大屏): read-only device tokens, one district each."""


@display.command("create")
@click.option("--district", "district_code", required=True, help="The district's unit code")
@click.option("--name", required=True, help="Where it hangs, e.g. 东城区指挥中心大屏")
@with_appcontext
def display_create(district_code: str, name: str) -> None:
    """Create a display; its secret is printed here once (stored hashed, never logged). Open
    /display#token=<secret> on the display once, or paste the secret into its form."""
    from corrections.core.cli_identity import cli_actor
    from corrections.org import displays

    issued = _users_call(displays.create, actor=cli_actor(), district_code=district_code, name=name)
    shown = issued.display
    created = _(
        "display {id} created: {name} ({district})",
        id=shown.id,
        name=shown.name,
        district=shown.unit.code,
    )
    click.echo(cli_render(created))
    # Each on a line of its own, to copy whole (stdout only: nothing of it is logged).
    click.echo(cli_render(_("its token (shown this once; keep it off chats and e-mail):")))
    click.echo(issued.secret)
    click.echo(cli_render(_("open this on the display once, or paste the token into its form:")))
    click.echo(f"/display#token={issued.secret}")


@display.command("list")
@click.option("--district", "district_code", default=None, help="Only this district's")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts")
@with_appcontext
def display_list(district_code: str | None, as_json: bool) -> None:
    """List the displays with their district, creation, last use and revocation."""
    from corrections.core.cli_identity import cli_actor
    from corrections.core.clock import BUSINESS_TZ
    from corrections.core.db import db
    from corrections.org import displays

    def when(moment) -> str:
        return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if moment else "-"

    found = displays.list_displays(db.session, actor=cli_actor(), district_code=district_code)
    rows = [
        {
            "id": d.id,
            "name": d.name,
            "district_code": d.unit.code,
            "created_at": d.created_at.isoformat(),
            "created_by": d.created_by,
            "last_used_at": d.last_used_at.isoformat() if d.last_used_at else None,
            "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
            "revoked_by": d.revoked_by,
        }
        for d in found
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    widths = (6, 10, 17, 17, 17)
    heading = (_("id"), _("district"), _("created"), _("last used"), _("revoked"), _("name"))
    headings = [cli_render(h) for h in heading]
    click.echo(" ".join([*map(cli_column, headings[:-1], widths), headings[-1]]))
    for d in found:
        cells = (str(d.id), d.unit.code, when(d.created_at), when(d.last_used_at))
        cells += (when(d.revoked_at),)
        click.echo(" ".join([*map(cli_column, cells, widths), d.name]))
    if not found:
        click.echo(cli_render(_("no displays yet: corrections display create")))


@display.command("revoke")
@click.argument("display_id", type=click.IntRange(min=1, max=2**62))
@with_appcontext
def display_revoke(display_id: int) -> None:
    """Revoke a display: refused at once, its open live stream ends within 30 s."""
    from corrections.core.cli_identity import cli_actor
    from corrections.org import displays

    revoked = _users_call(displays.revoke, actor=cli_actor(), display_id=display_id)
    click.echo(cli_render(_("display {id} revoked: {name}", id=revoked.id, name=revoked.name)))
