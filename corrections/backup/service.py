"""Backups (容灾备份): make one, check one, put one back, rehearse putting one back (the drill),
keep the right ones, and say how old the newest is.

A backup is a directory named after its UTC time holding the database copy (PostgreSQL:
``database.dump`` from ``pg_dump --format=custom``; SQLite: ``database.sqlite3`` from the
online backup API) and ``manifest.json``: when, which database (URL masked), its migration
head, every table's row count, each file's sha256, where the audit chain ended and its newest
signed checkpoint, the app version, all signed with the audit key (HMAC, like the audit
checkpoints): who can write to the backup storage but does not hold the keyring cannot
change a backup unnoticed. The copy and its facts come from one snapshot, so a restore is
checked against exactly what was copied.

Backups are job runs (``backup``, ``backup_drill`` in ``job_runs``); the manifests on disk
are the rest of the record. The keyring is not in a backup: keep it apart (without it the
encrypted identity fields and the audit chain cannot be read or checked).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from corrections.audit import checkpoints
from corrections.audit import service as audit
from corrections.backup import dialects
from corrections.backup.dialects import Facts, ToolFailed
from corrections.core import keys
from corrections.core.auth import SYSTEM
from corrections.core.cli_identity import os_user
from corrections.core.clock import business_date
from corrections.core.errors import Conflict, DomainError
from corrections.core.i18n import _
from corrections.scheduler.models import JobRun

log = logging.getLogger(__name__)

FORMAT = "corrections-backup/1"
MANIFEST = "manifest.json"
DATA_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
BACKUP_JOB = "backup"
DRILL_JOB = "backup_drill"
_STAMP = "%Y%m%dT%H%M%SZ"
# Work directories (a backup being written, a drill's scratch copy) left by a crash are
# removed by the next pruning once this old.
_LEFTOVER_AGE = timedelta(hours=24)


class BackupInvalid(DomainError):
    """A backup that fails its checks (checksums, signature, manifest, readability)."""

    status, code = 422, "backup-invalid"


class RestoreMismatch(DomainError):
    """The restored database does not hold what the manifest says it should."""

    status, code = 500, "restore-mismatch"


class TargetNotEmpty(Conflict):
    """The restore target already holds a schema (``--force`` replaces it)."""


@dataclass(frozen=True)
class Finding:
    kind: str  # manifest | signature | checksum | contents | migrations | rows | audit
    text: str


@dataclass
class Report:
    """What checking a backup (or rehearsing its restore) found; ``ok`` when nothing."""

    path: Path
    manifest: dict[str, Any] | None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, text: str) -> None:
        self.findings.append(Finding(kind, text))

    def errors(self) -> dict[str, str]:
        """Finding kinds with their texts (ids, counts and revisions only), for a job run."""
        out: dict[str, str] = {}
        for f in self.findings:
            out[f.kind] = f"{out[f.kind]}; {f.text}" if f.kind in out else f.text
        return {k: v[:500] for k, v in out.items()}


@dataclass(frozen=True)
class Created:
    path: Path
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return self.manifest["id"]


def _config() -> dict[str, Any]:
    return current_app.config


def _bin_dir() -> str | None:
    return _config().get("BACKUP_PG_BIN_DIR") or None


# --- the manifest ------------------------------------------------------------------------


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _sign(manifest: dict[str, Any], keyring: keys.Keyring) -> dict[str, str]:
    key_id, key = keyring.active("audit")
    digest = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    return {"key_id": key_id, "hmac": digest}


def _signature_ok(manifest: dict[str, Any], keyring: keys.Keyring) -> str | None:
    """None when the manifest's signature holds, else why not."""
    sig = manifest.get("signature")
    if not isinstance(sig, dict) or not {"key_id", "hmac"} <= sig.keys():
        return _("the manifest is not signed")
    try:
        key = keyring.get("audit", str(sig["key_id"]))
    except keys.KeyringError:
        return _(
            "the manifest is signed with audit key {key_id!r}, not in this keyring",
            key_id=sig["key_id"],
        )
    expected = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(sig["hmac"])):
        return _("the manifest's signature does not match its content: it was changed")
    return None


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the backup at ``path``; :class:`BackupInvalid` if there is none."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupInvalid(
            _("{path} holds no manifest.json: give one backup's directory", path=str(path))
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupInvalid(
            _("manifest.json cannot be read: {error}", error=type(exc).__name__)
        ) from None
    if not isinstance(data, dict):
        raise BackupInvalid(_("manifest.json is not a JSON object"))
    return data


def created_at(manifest: dict[str, Any]) -> datetime:
    at = datetime.fromisoformat(str(manifest["created_at"]))
    if at.tzinfo is None:
        raise ValueError("naive created_at")
    return at


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- create --------------------------------------------------------------------------------


def _new_id(root: Path, now: datetime) -> str:
    base = now.strftime(_STAMP)
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def create_backup(session: Session, *, out: Path, now: datetime) -> Created:
    """Back up the app's database into a new sub-directory of ``out`` (made private, 0700),
    with its signed manifest; audited (``backup.create``).

    The audit rows written so far are sealed first, so the copy holds them chained; rows
    written between that seal and the snapshot are listed in the manifest by id
    (``audit.unsealed_ids``). The directory appears under its final name only once complete.
    """
    from corrections import __version__

    engine = session.get_bind()
    url = dialects.parse_url(engine.url)
    kind = dialects.kind_of(url)
    audit.seal_and_commit(session)
    from corrections.config import private_folder

    private_folder(out)
    backup_id = _new_id(out, now)
    work = Path(tempfile.mkdtemp(prefix=f".partial-{now.strftime(_STAMP)}-", dir=out))
    try:
        data = work / DATA_FILES[kind]
        started = time.perf_counter()
        if kind == "postgresql":
            facts, database = dialects.pg_dump(engine, data, bin_dir=_bin_dir())
        else:
            dialects.sqlite_backup(dialects.sqlite_path(url), data)
            facts = dialects.sqlite_facts(data)
            database = {"sqlite_version": sqlite3.sqlite_version}
        _fsync(data)
        keyring = keys.current()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "id": backup_id,
            "created_at": now.isoformat(),
            "app_version": __version__,
            "database": {"kind": kind, "url": dialects.masked(url), **database},
            "migration_head": facts.migration_head,
            "tables": facts.tables,
            "rows": sum(facts.tables.values()),
            "files": {
                data.name: {"sha256": dialects.sha256_of(data), "bytes": data.stat().st_size}
            },
            "audit": {
                **facts.audit,
                "checkpoint": checkpoints.latest(_config()["AUDIT_CHECKPOINT_PATH"], keyring),
            },
            "seconds": round(time.perf_counter() - started, 3),
        }
        manifest["signature"] = _sign(manifest, keyring)
        _write_private(
            work / MANIFEST,
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode(),
        )
        work.rename(out / backup_id)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    path = out / backup_id
    log.info(
        "backup %s of %s written: %s bytes, %s tables, %s rows",
        backup_id,
        manifest["database"]["url"],
        manifest["files"][data.name]["bytes"],
        len(facts.tables),
        manifest["rows"],
    )
    audit.record(
        session,
        actor=SYSTEM,
        action="backup.create",
        detail={
            "backup": backup_id,
            "kind": kind,
            "bytes": manifest["files"][data.name]["bytes"],
            "rows": manifest["rows"],
            "os_user": os_user(),
            "host": socket.gethostname(),
        },
        now=now,
    )
    return Created(path=path, manifest=manifest)


# --- verify --------------------------------------------------------------------------------


def _check_manifest(report: Report, m: dict[str, Any]) -> str | None:
    """Sanity of the manifest's fields; the data file's name, or None if unusable."""
    if m.get("format") != FORMAT:
        message = _(
            "unknown format {format!r} (expected {expected})",
            format=m.get("format"),
            expected=FORMAT,
        )
        report.add("manifest", message)
        return None
    try:
        created_at(m)
    except (KeyError, ValueError, TypeError):
        report.add("manifest", _("created_at is missing or not a time with its offset"))
    kind = (m.get("database") or {}).get("kind") if isinstance(m.get("database"), dict) else None
    if kind not in DATA_FILES:
        report.add("manifest", _("database.kind is {kind!r}, not postgresql or sqlite", kind=kind))
        return None
    tables = m.get("tables")
    if (
        not isinstance(tables, dict)
        or not tables
        or not all(isinstance(n, int) and n >= 0 for n in tables.values())
    ):
        report.add("manifest", _("tables must map each table to its row count"))
    elif m.get("rows") != sum(tables.values()):
        report.add("manifest", _("rows is not the sum of the tables' row counts"))
    if not isinstance(m.get("migration_head"), str):
        report.add("manifest", _("migration_head is missing"))
    if not isinstance(m.get("audit"), dict):
        report.add("manifest", _("audit is missing"))
    files = m.get("files")
    name = DATA_FILES[kind]
    if not isinstance(files, dict) or name not in files:
        report.add("manifest", _("files does not list {name}", name=name))
        return None
    return name


def _check_files(report: Report, path: Path, files: dict[str, Any]) -> bool:
    intact = True
    for name, expected in files.items():
        if Path(name).name != name or not isinstance(expected, dict):
            report.add(
                "manifest", _("files lists {name!r}, not a file of this directory", name=name)
            )
            intact = False
            continue
        file = path / name
        if not file.is_file():
            report.add("checksum", _("{name} is missing", name=name))
            intact = False
        elif (size := file.stat().st_size) != expected.get("bytes"):
            message = _(
                "{name} has {size} bytes, the manifest says {expected}",
                name=name,
                size=size,
                expected=expected.get("bytes"),
            )
            report.add("checksum", message)
            intact = False
        elif dialects.sha256_of(file) != expected.get("sha256"):
            message = _("{name}: sha256 differs from the manifest's: it was changed", name=name)
            report.add("checksum", message)
            intact = False
    return intact


def verify_backup(path: Path) -> Report:
    """Check a backup without restoring it: the manifest (sane, signed with a key of this
    keyring), every file's size and sha256, and that the copy reads (PostgreSQL: ``pg_restore
    --list``, holding every table with rows; SQLite: ``PRAGMA integrity_check`` and the row
    counts)."""
    started = time.perf_counter()
    try:
        manifest = read_manifest(path)
    except BackupInvalid as exc:
        report = Report(path=path, manifest=None)
        report.add("manifest", exc.detail)
        return report
    report = Report(path=path, manifest=manifest)
    name = _check_manifest(report, manifest)
    problem = _signature_ok(manifest, keys.current())
    if problem:
        report.add("signature", problem)
    if name is None or not _check_files(report, path, manifest["files"]):
        return report
    data = path / name
    tables = manifest.get("tables") or {}
    try:
        if name == DATA_FILES["postgresql"]:
            held = dialects.pg_list(data, bin_dir=_bin_dir())
            for table, rows in sorted(tables.items()):
                if rows and table not in held:
                    report.add("contents", _("the dump holds no rows of {table}", table=table))
        else:
            complaints = dialects.sqlite_integrity(data)
            for text in complaints:
                report.add("contents", _("integrity_check: {text}", text=text[:200]))
            if not complaints:
                _compare(report, manifest, dialects.sqlite_facts(data))
    except ToolFailed as exc:
        report.add("contents", exc.detail)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _compare(report: Report, manifest: dict[str, Any], facts: Facts) -> None:
    """A restored (or copied) database against its manifest: migration head, every table's
    rows, and the audit chain's head."""
    if facts.migration_head != manifest.get("migration_head"):
        report.add(
            "migrations",
            _(
                "migration head {head!r}, the manifest says {expected!r}",
                head=facts.migration_head,
                expected=manifest.get("migration_head"),
            ),
        )
    expected = manifest.get("tables") or {}
    for table in sorted(set(expected) | set(facts.tables)):
        want, got = expected.get(table), facts.tables.get(table)
        if want != got:
            if got is None:
                message = _(
                    "{table}: no table, the manifest says {want} rows", table=table, want=want
                )
            elif want is None:
                message = _(
                    "{table}: {got} rows, the manifest has no such table", table=table, got=got
                )
            else:
                message = _(
                    "{table}: {got} rows, the manifest says {want}", table=table, got=got, want=want
                )
            report.add("rows", message)
    wanted = manifest.get("audit") or {}
    if (facts.audit.get("head_seq"), facts.audit.get("head_hash")) != (
        wanted.get("head_seq"),
        wanted.get("head_hash"),
    ):
        report.add(
            "audit",
            _(
                "the audit chain ends at seq {seq}, the manifest says {expected}",
                seq=facts.audit.get("head_seq"),
                expected=wanted.get("head_seq"),
            ),
        )


def _require_intact(path: Path) -> dict[str, Any]:
    report = verify_backup(path)
    if not report.ok:
        raise BackupInvalid(
            _("the backup fails its checks; nothing was restored"),
            errors=report.errors(),
        )
    assert report.manifest is not None
    return report.manifest


# --- restore -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    facts: Facts
    target: str  # masked URL


def _put_back(manifest: dict[str, Any], path: Path, target: URL, *, force: bool) -> Facts:
    """Restore the copy into ``target`` (refused when it holds a schema, unless ``force``)
    and read back its facts."""
    kind = manifest["database"]["kind"]
    if dialects.kind_of(target) != kind:
        raise BackupInvalid(
            _(
                "a {kind} backup restores into {kind}, not {target}",
                kind=kind,
                target=dialects.kind_of(target),
            )
        )
    data = path / DATA_FILES[kind]
    refusal = _(
        "{target} already holds tables: restore into an empty database, or give --force to "
        "replace everything in it",
        target=dialects.masked(target),
    )
    if kind == "postgresql":
        schema = manifest["database"].get("schema") or "public"
        engine = dialects.scratch_engine(target)
        try:
            replacing = None
            if not dialects.pg_is_empty(engine, schema):
                if not force:
                    raise TargetNotEmpty(refusal)
                replacing = dialects.pg_drop_statements(engine, schema)
            dialects.pg_restore(data, target, bin_dir=_bin_dir(), replacing=replacing)
            with engine.connect() as conn:
                return dialects.read_facts(conn)
        finally:
            engine.dispose()
    file = dialects.sqlite_path(target)
    if not dialects.sqlite_is_empty(file) and not force:
        raise TargetNotEmpty(refusal)
    dialects.sqlite_restore(data, file)
    engine = dialects.scratch_engine(target)
    try:
        with engine.connect() as conn:
            return dialects.read_facts(conn)
    finally:
        engine.dispose()


def restore_backup(path: Path, *, to: str | URL, force: bool = False) -> Restored:
    """Restore the backup at ``path`` into the database ``to`` and check that it holds what
    the manifest says (migration head, every table's rows, the audit chain's head).

    The backup is verified first (a changed one is refused); a target that already holds a
    schema is refused unless ``force`` (then everything in it is replaced: PostgreSQL drops
    what the schema holds and restores in one transaction; SQLite replaces the file's pages).
    """
    manifest = _require_intact(path)
    target = dialects.parse_url(to)
    facts = _put_back(manifest, path, target, force=force)
    report = Report(path=path, manifest=manifest)
    _compare(report, manifest, facts)
    if not report.ok:
        raise RestoreMismatch(
            _("the restored database differs from the manifest"),
            errors=report.errors(),
        )
    log.info("backup %s restored into %s", manifest["id"], dialects.masked(target))
    return Restored(manifest=manifest, facts=facts, target=dialects.masked(target))


def acknowledge_restore(
    session: Session, *, restored: Restored, now: datetime, reason: str | None = None
) -> dict[str, Any]:
    """After restoring into this instance's own database: record, signed in the audit
    checkpoint file, where the restored trail ends (``corrections audit acknowledge-restore``),
    before anything seals on it; then audit the restore (``backup.restore``) and seal.

    ``session`` must be on the restored database. Checkpoints of the rows lost with the
    restore are then reported as that restore by ``audit verify``, not as truncation."""
    head = restored.facts.audit
    text = f"restored backup {restored.manifest['id']}" + (f": {reason}" if reason else "")
    record = checkpoints.acknowledge_restore(
        _config()["AUDIT_CHECKPOINT_PATH"],
        seq=int(head.get("head_seq") or 0),
        hash=head.get("head_hash") or audit.GENESIS_HASH,
        at=now,
        reason=text,
        keyring=keys.current(),
    )
    audit.record(
        session,
        actor=SYSTEM,
        action="backup.restore",
        detail={
            "backup": restored.manifest["id"],
            "seq": record["seq"],
            "os_user": os_user(),
            "host": socket.gethostname(),
        },
        now=now,
    )
    audit.seal_and_commit(session)
    return record


# --- the drill -----------------------------------------------------------------------------


def list_backups(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The backups directly under ``root`` (a readable manifest of this format, signed under
    this keyring), newest first; anything else there is left alone. An unsigned or altered
    manifest is not a backup here: planted ones dated in the future would otherwise count as
    the newest and push the real backups out of the retention (hostile review)."""
    found = []
    if not root.is_dir():
        return found
    keyring = keys.current()
    for path in root.iterdir():
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            manifest = read_manifest(path)
            if manifest.get("format") != FORMAT or _signature_ok(manifest, keyring):
                continue
            found.append((created_at(manifest), path.name, path, manifest))
        except (BackupInvalid, KeyError, ValueError, TypeError):
            continue
    found.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [(path, manifest) for _at, _name, path, manifest in found]


def resolve(source: Path) -> Path:
    """``source`` if it is a backup, else the newest backup under it."""
    if (source / MANIFEST).exists():
        return source
    backups = list_backups(source)
    if not backups:
        raise BackupInvalid(_("no backup under {path}", path=str(source)))
    return backups[0][0]


def code_head() -> str | None:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(current_app.extensions["migrate"].directory).get_current_head()


def _check_trail(report: Report, url: URL, manifest: dict[str, Any], facts: Facts, now) -> None:
    """``audit verify`` on the restored copy, against a copy of this instance's checkpoints
    with the restore acknowledged at the copy's head (as an operator would after a real
    restore): every checkpoint up to the head must match the copy's chain. The rows the
    backup held unsealed (its manifest lists them) are not "stalled": nobody seals a copy."""
    expected_unsealed = set((manifest.get("audit") or {}).get("unsealed_ids") or [])
    live = Path(_config()["AUDIT_CHECKPOINT_PATH"])
    with tempfile.TemporaryDirectory(prefix=".drill-book-", dir=_drill_folder()) as tmp:
        book = Path(tmp) / "checkpoints.jsonl"
        if live.exists():
            shutil.copyfile(live, book)
        checkpoints.acknowledge_restore(
            book,
            seq=int(facts.audit.get("head_seq") or 0),
            hash=facts.audit.get("head_hash") or audit.GENESIS_HASH,
            at=now,
            reason=f"backup drill of {manifest['id']}",
            keyring=keys.current(),
        )
        engine = dialects.scratch_engine(url, **_engine_options())
        try:
            with Session(bind=engine) as session:
                result = audit.verify(session, checkpoint_path=str(book))
        finally:
            engine.dispose()
    stalled = [f for f in result.findings if f.kind == "stalled"]
    unexpected = [f for f in stalled if f.entry_id not in expected_unsealed]
    for f in result.findings:
        if f.kind != "stalled" or f in unexpected:
            report.add("audit", _("{kind}: {text}", kind=f.kind, text=f.text))
    for kind, n in result.counts.items():
        listed = sum(1 for f in result.findings if f.kind == kind)
        if kind != "stalled" and n > listed:
            report.add("audit", _("{count} more {kind} finding(s)", count=n - listed, kind=kind))
    if result.counts.get("stalled", 0) > len(expected_unsealed):
        report.add("audit", _("more unsealed rows than the backup held unsealed"))
    report.notes.append(
        _(
            "audit trail of the copy: {checked} rows verified against {checkpoints} checkpoint(s)",
            checked=result.checked,
            checkpoints=result.checkpoints,
        )
    )


def _live_head(session: Session) -> str | None:
    """The migration the live database is at (the drill runs as a job: it has a schema)."""
    return session.scalar(text("SELECT version_num FROM alembic_version"))


def _older_revisions(head: str | None) -> set[str]:
    """The migrations before ``head``: an older schema of this code (not an unknown or a
    newer one)."""
    from alembic.script import ScriptDirectory

    if not head:
        return set()
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    return {r.revision for r in script.walk_revisions("base", head)} - {head}


def _older(revision: str | None, head: str | None) -> bool:
    return bool(revision) and revision in _older_revisions(head)


def _drill_folder() -> Path:
    """Where a drill works (its SQLite copy, its copy of the checkpoints): the instance
    folder, private and writable even when the backups are on read-only storage."""
    from corrections.config import private_folder

    return private_folder(Path(current_app.instance_path))


def _remove_leftovers(folder: Path, now: datetime) -> None:
    """Work directories (``.partial-<time>-…``, ``.drill-<time>-…``) a crash left behind over
    a day ago."""
    if not folder.is_dir():
        return
    for leftover in folder.iterdir():
        if not leftover.is_dir() or not leftover.name.startswith((".partial-", ".drill-")):
            continue
        try:
            made = datetime.strptime(leftover.name.split("-")[1], _STAMP).replace(tzinfo=UTC)
        except (IndexError, ValueError):
            continue
        if now - made > _LEFTOVER_AGE:
            shutil.rmtree(leftover, ignore_errors=True)


def _engine_options() -> dict[str, Any]:
    from corrections.config import engine_options

    return engine_options(_config())


def drill(session: Session, *, source: Path, now: datetime) -> Report:
    """Rehearse a restore (恢复演练): restore the newest backup under ``source`` (or the
    backup ``source`` names) into a scratch database (PostgreSQL: a new, uniquely named
    database on ``BACKUP_DRILL_URL``'s server or this one, dropped afterwards; SQLite: a
    temporary file), then check that its schema is this code's migration head, that every
    table holds the manifest's rows, and that its audit trail verifies against this
    instance's checkpoints. A drill that passes proves the backup can be put back."""
    started = time.perf_counter()
    path = resolve(source)
    report = verify_backup(path)
    if not report.ok or report.manifest is None:
        return report
    manifest = report.manifest
    kind = manifest["database"]["kind"]
    data_url = dialects.parse_url(session.get_bind().url)

    head = code_head()
    live_head = _live_head(session)

    def rehearse(scratch: URL) -> None:
        facts = _put_back(manifest, path, scratch, force=False)
        _compare(report, manifest, facts)
        upgraded_since = live_head == head and _older(facts.migration_head, head)
        if upgraded_since:
            # The database was upgraded since the backup: the backup is stale, not the
            # database (new-operator review: "db upgrade" was asked for after db upgrade).
            message = _(
                "the backup was made before this upgrade (its schema is at {schema}, this "
                "code's at {head}): make a new backup first (corrections backup create), "
                "then drill it",
                schema=facts.migration_head,
                head=head,
            )
            report.add("migrations", message)
        elif facts.migration_head != head:
            report.add(
                "migrations",
                _(
                    "the restored schema is at {schema!r}, this code's head is {head!r} "
                    "(corrections db upgrade would be needed)",
                    schema=facts.migration_head,
                    head=head,
                ),
            )
        _check_trail(report, scratch, manifest, facts, now)

    if kind == "postgresql":
        server = _config().get("BACKUP_DRILL_URL") or data_url
        server = dialects.parse_url(server)
        if dialects.kind_of(server) != "postgresql":
            raise BackupInvalid(_("BACKUP_DRILL_URL must be a PostgreSQL URL"))
        with dialects.pg_scratch(server, now) as scratch:
            rehearse(scratch)
    else:
        folder = _drill_folder()
        _remove_leftovers(folder, now)
        work = Path(tempfile.mkdtemp(prefix=f".drill-{now.strftime(_STAMP)}-", dir=folder))
        try:
            rehearse(URL.create("sqlite", database=str(work / "drill.sqlite3")))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def record_drill(session: Session, report: Report, *, now: datetime) -> None:
    """Audit a drill (``backup.drill``): which backup, whether it passed, the finding kinds."""
    audit.record(
        session,
        actor=SYSTEM,
        action="backup.drill",
        detail={
            "backup": (report.manifest or {}).get("id"),
            "ok": report.ok,
            "findings": sorted({f.kind for f in report.findings}),
        },
        now=now,
    )


# --- retention -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    kept: list[str]
    deleted: list[str]


def retained(
    backups: list[tuple[Path, dict[str, Any]]], *, keep_daily: int, keep_monthly: int
) -> set[Path]:
    """Which backups to keep (restic's ``--keep-daily``/``--keep-monthly``): for each of the
    ``keep_daily`` newest days that have a backup, that day's newest; for each of the
    ``keep_monthly`` newest months, that month's newest. Days and months in Asia/Shanghai."""
    keep: set[Path] = set()
    days: set[Any] = set()
    months: set[tuple[int, int]] = set()
    for path, manifest in sorted(backups, key=lambda b: created_at(b[1]), reverse=True):
        day = business_date(created_at(manifest))
        month = (day.year, day.month)
        if day not in days and len(days) < keep_daily:
            keep.add(path)
        days.add(day)
        if month not in months and len(months) < keep_monthly:
            keep.add(path)
        months.add(month)
    return keep


def prune(
    root: Path,
    *,
    now: datetime,
    keep_daily: int,
    keep_monthly: int,
    dry_run: bool = False,
    on_delete: Callable[[Path], None] | None = None,
) -> Pruned:
    """Delete the backups under ``root`` that :func:`retained` does not keep (and work
    directories a crash left behind over a day ago). Only this format's backups are touched;
    the newest is always kept, and so is the rollback point: the newest backup made at an
    older migration than this code's (before the last upgrade), whatever its age, until a
    later upgrade makes another one the rollback point."""
    backups = list_backups(root)
    keep = retained(backups, keep_daily=max(1, keep_daily), keep_monthly=keep_monthly)
    older = _older_revisions(code_head())
    rollback = next((p for p, m in backups if m.get("migration_head") in older), None)
    if rollback is not None:
        keep.add(rollback)
    deleted = []
    for path, _manifest in backups:
        if path in keep:
            continue
        deleted.append(path.name)
        if not dry_run:
            shutil.rmtree(path)
            if on_delete:
                on_delete(path)
    if not dry_run:
        _remove_leftovers(root, now)
    if deleted and not dry_run:
        log.info("backups pruned: %s deleted, %s kept", len(deleted), len(keep))
    return Pruned(kept=sorted(p.name for p in keep), deleted=sorted(deleted))


# --- what the health check says ------------------------------------------------------------

_FAILED = ("failed", "interrupted")


def _last_run(session: Session, job: str, statuses: tuple[str, ...] | None = None):
    stmt = select(JobRun).where(JobRun.job == job, JobRun.status != "running")
    if statuses:
        stmt = stmt.where(JobRun.status.in_(statuses))
    return session.scalar(stmt.order_by(JobRun.id.desc()).limit(1))


def health(session: Session, *, now: datetime, stale_after: timedelta) -> dict[str, Any]:
    """The backups as ``/healthz?deep=1`` reports them: ``status`` ``ok``, ``stale`` (the
    newest backup is older than ``stale_after``), ``failed`` (the latest backup run failed)
    or ``none`` (never backed up); when and how old the newest backup is; the last drill."""
    last = _last_run(session, BACKUP_JOB)
    good = _last_run(session, BACKUP_JOB, ("succeeded", "partial"))
    if last is not None and last.status in _FAILED:
        status = "failed"
    elif good is None:
        status = "none"
    elif now - good.started_at > stale_after:
        status = "stale"
    else:
        status = "ok"
    drill_run = _last_run(session, DRILL_JOB)
    return {
        "status": status,
        "last_backup_at": good.started_at.isoformat() if good else None,
        "age_hours": round((now - good.started_at).total_seconds() / 3600, 1) if good else None,
        "last_run_status": last.status if last else None,
        "drill": {
            "status": "none"
            if drill_run is None
            else ("failed" if drill_run.status in _FAILED else "ok"),
            "last_drill_at": drill_run.started_at.isoformat() if drill_run else None,
        },
    }


def degraded(backup: dict[str, Any]) -> bool:
    """Whether the backups make the service ``degraded``: a stale or failed backup, or a
    failed drill (never backing up yet is not: the first nightly run comes)."""
    return backup["status"] in ("stale", "failed") or backup["drill"]["status"] == "failed"
