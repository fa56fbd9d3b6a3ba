"""Configuration: defaults, then ``instance/config.py``, then ``CORRECTIONS_*`` variables.

Everything is validated at start-up; a bad value stops the app with a message naming the key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from corrections.core.i18n import _

PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    """``rules`` or ``models``: the copy a wheel carries (``corrections/_data``, see setup.py),
    else the repository's own folder (a source checkout or an editable install)."""
    packaged = PACKAGE_DIR / "_data" / name
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / name


DEFAULT_RULES_DIR = _data_dir("rules")
DEFAULT_MODELS_DIR = _data_dir("models")
# What an operator copies and edits: the settings file (``corrections config example``) and
# the systemd units with their settings file (``corrections deploy systemd``).
CONFIG_EXAMPLE = _data_dir("instance") / "config.example.py"
SYSTEMD_DIR = _data_dir("deploy") / "systemd"

DEFAULTS: dict[str, Any] = {
    # Database: a SQLite file in the instance folder unless a URL is given.
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "RULES_DIR": str(DEFAULT_RULES_DIR),
    # Bearer tokens live this long.
    "TOKEN_TTL_SECONDS": 12 * 3600,
    # Sign-in limits, counted in the database (shared by every worker) in fixed windows.
    # Failures per (username, client address): a guesser locks out their own address only.
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS": 5,
    # Failures per username from every address, over a longer window: past this count each
    # address the user has not signed in from within LOGIN_KNOWN_ADDRESS_DAYS gets one attempt
    # per LOGIN_USERNAME_BACKOFF_SECONDS (the slower back-off against guessing from many
    # addresses). It never refuses a first attempt from an address, nor any attempt from a
    # known one, so nobody can lock an officer out.
    "LOGIN_USERNAME_WINDOW_SECONDS": 60 * 60,
    "LOGIN_MAX_FAILURES_PER_USERNAME": 30,
    "LOGIN_USERNAME_BACKOFF_SECONDS": 15 * 60,
    # ... and all such addresses together get at most this many attempts per
    # LOGIN_USERNAME_WINDOW_SECONDS: a guesser with any number of addresses (IPv6 addresses
    # count by their /64) gets at most LOGIN_MAX_FAILURES_PER_USERNAME + this many an hour.
    "LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME": 30,
    "LOGIN_KNOWN_ADDRESS_DAYS": 30,
    # Attempts per client address, whatever the username (password spraying).
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": 50,
    # Request bodies larger than this get 413.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Longer URLs (path and query as sent) get 414, a larger header field, or more of them,
    # 431: answered by the app as problem+json (the server's own limits must be higher; see
    # README, Production serving).
    "MAX_URL_BYTES": 4096,
    "MAX_HEADER_FIELD_BYTES": 8190,
    "MAX_HEADER_FIELDS": 100,
    # How long a password reset code (corrections users reset-password, the admin API) stays
    # valid; it works once.
    "PASSWORD_RESET_CODE_TTL_SECONDS": 24 * 3600,
    # argon2id cost; lowered in tests only.
    "PASSWORD_HASH_TIME_COST": 3,
    "PASSWORD_HASH_MEMORY_KIB": 64 * 1024,
    # Number of trusted reverse proxies in front of the app (X-Forwarded-For hops).
    "PROXY_FIX_X_FOR": 0,
    # After a request that wrote audit rows, each worker seals the chain at most this often
    # (seconds; 0 = after every such request). The scheduler and `corrections audit seal`
    # seal too, so rows written just before traffic stops are sealed all the same.
    "AUDIT_SEAL_INTERVAL_SECONDS": 1,
    "DEMO_PASSWORD": "demo-password",
    # Usernames of the heads of the county-level justice bureaus (区司法局负责人), who approve
    # electronic monitoring (社区矫正法 29); CORRECTIONS_DISTRICT_HEADS takes "a,b". Empty:
    # nobody may. The demo names its district commanders (see README).
    "DISTRICT_HEADS": [],
    # Risk models: versioned directories (model.skops + card.json), one of them active.
    "RISK_MODELS_DIR": str(DEFAULT_MODELS_DIR),
    # The keyring (field encryption, blind indexes, audit HMAC): a JSON file, by default
    # instance/keyring.json (made on first start, mode 0600). CORRECTIONS_KEYRING may carry
    # the JSON itself instead. Never in the database; back it up apart from the database.
    "KEYRING_PATH": None,
    # Signed audit checkpoints, one JSON line per seal (append-only); default
    # instance/audit-checkpoints.jsonl.
    "AUDIT_CHECKPOINT_PATH": None,
    # A row sealed longer than this after the time it claims is reported by `audit verify`
    # as inserted late (a backdated row); a request's own rows are sealed within seconds.
    "AUDIT_LATE_TOLERANCE_SECONDS": 600,
    # The exchange (rules/exchange.yaml): the messages' CloudEvents source (default
    # urn:corrections:<city unit code>); whether the audit seal's checkpoints are also
    # published to the procuratorate's feed (anchored outside the bureau), at most one every
    # EXCHANGE_CHECKPOINT_MINUTES.
    "EXCHANGE_SOURCE": None,
    "EXCHANGE_PUBLISH_CHECKPOINTS": False,
    "EXCHANGE_CHECKPOINT_MINUTES": 60,
    # The push side of the exchange (`corrections exchange relay`): the AMQP 0-9-1 broker
    # (RabbitMQ) it publishes pending messages to, amqp://user:password@host:5672/vhost or
    # amqps://...; unset (the default): no broker, the relay refuses to start and partners
    # read their feed (pull) only. The durable topic exchange it publishes to (routing key
    # "<agency code>.<type>", one durable queue "corrections.<agency code>" per agency); how
    # many messages it takes per round, and how often (seconds) it looks for new ones when
    # there were none.
    "EXCHANGE_BROKER_URL": None,
    "EXCHANGE_BROKER_EXCHANGE": "corrections.exchange",
    # The agencies' queues are <prefix><agency code>: two instances on one broker (a bureau's
    # test and production) give each its own prefix, else they share their agencies' queues.
    "EXCHANGE_BROKER_QUEUE_PREFIX": "corrections.",
    "EXCHANGE_RELAY_BATCH": 100,
    "EXCHANGE_RELAY_POLL_SECONDS": 1,
    # Intakes (or ID corrections) a user may have refused as duplicates in 24 hours before
    # further intakes are refused with 429: the duplicate rule must not become a search.
    "INTAKE_REFUSALS_PER_DAY": 5,
    # The same for a partner agency as a whole (all its accounts): documents it sent in that
    # were refused in 24 hours (a judgment notice for someone already under correction, a
    # detention notice or an opinion that does not fit the case it names) before its next
    # ones get 429. Higher than a person's: a court's system meets honest duplicates when
    # the office registered the person from the paper judgment first.
    "EXCHANGE_REFUSALS_PER_DAY": 20,
    # A caseload import (dry run or not) whose rows match more open cases outside the
    # operator's scope than this, counted as distinct persons over the operator's runs of the
    # last 24 hours, is refused as a whole and says nothing per row: the import must not be
    # a way to learn who is under correction elsewhere (persons/importer.py, README).
    "IMPORT_MAX_OPEN_MATCHES": 20,
    # Key of the pseudonyms in risk exports; derived from SECRET_KEY when not set.
    "RISK_EXPORT_KEY": None,
    # Risk exports: every row's quasi-identifiers (age band, gender, district, category,
    # month, term bands) shared by at least this many persons; at least 2.
    "RISK_EXPORT_MIN_K": 5,
    # Persons scored per prediction batch by the nightly job.
    "RISK_SCORING_BATCH": 20000,
    # Model cards: a group with fewer positives or fewer negatives than this in the hold-out
    # part is listed with its counts only, and left out of the largest gaps.
    "RISK_CARD_MIN_GROUP_COUNT": 30,
    # Activating a model over the active one compares both on the same recent snapshots of
    # this database (risk/compare.py, `corrections risk compare`): snapshot days every
    # RISK_COMPARE_EVERY_DAYS over RISK_COMPARE_MONTHS months, the last one 90 days before
    # now (its outcomes known); intervals from RISK_COMPARE_BOOTSTRAP resamples of persons.
    # Fewer positives or negatives than RISK_COMPARE_MIN_POSITIVES: no comparison, and
    # activating needs --force --reason.
    "RISK_COMPARE_MONTHS": 6,
    "RISK_COMPARE_EVERY_DAYS": 30,
    "RISK_COMPARE_BOOTSTRAP": 200,
    "RISK_COMPARE_MIN_POSITIVES": 50,
    # A model whose card says it was fitted on fewer rows than this is activated only with
    # --force --reason (a model trained on the 300-person demo replaced the shipped one).
    "RISK_MIN_TRAINING_ROWS": 5000,
    "LOG_LEVEL": "INFO",
    # "json": one JSON object per line with the request id (for a log shipper); "text": for a
    # terminal; "auto": text when standard error is a terminal, else json. Either way every
    # line of a request carries its id.
    "LOG_FORMAT": "auto",
    # /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset, it is 404.
    "METRICS_TOKEN": None,
    # Test each pooled connection before use (one extra round trip per request). Off, a
    # request on a connection the database dropped fails once with 503 and the pool renews.
    "DATABASE_PRE_PING": True,
    # PostgreSQL's JIT compiler for the service's connections. Off: its 100-250 ms of
    # compiling is spent on statements that run in milliseconds whenever the planner
    # overestimates their rows (bench/sweep.py: a sweep's statements 2x slower with it).
    "DATABASE_JIT": False,
    # Check every fast response dump against marshmallow's own (core/fastdump.py): a
    # difference fails the request. The test suite and CI's API fuzzing turn it on.
    "FAST_DUMP_VERIFY": False,
    # Episodes the lost-contact detection moves to lost contact in one run (about 15 ms
    # each); a larger backlog is worked off over the next runs, longest overdue first.
    "LOST_CONTACT_MAX_PER_RUN": 3000,
    # Live alert streams (GET /api/v1/alerts/stream): open streams per user (across every
    # worker) and per server process, then 429; how often a stream re-checks its token
    # (seconds); how often a process on SQLite looks for new changes (on PostgreSQL it is
    # notified).
    "ALERT_STREAM_MAX_PER_USER": 5,
    "ALERT_STREAM_MAX_PER_PROCESS": 1000,
    "ALERT_STREAM_TOKEN_CHECK_SECONDS": 30,
    "ALERT_STREAM_POLL_SECONDS": 1,
    # How long one database statement may run, and how long it may wait for a lock, in an
    # HTTP request and in a job (scheduled jobs, CLI commands, migrations); seconds, 0: no
    # limit. Past them the request gets 503 with Retry-After and the job run fails. SQLite
    # has no statement timeout: its busy timeout is the lock timeout.
    "REQUEST_STATEMENT_TIMEOUT_SECONDS": 20,
    "REQUEST_LOCK_TIMEOUT_SECONDS": 10,
    "JOB_STATEMENT_TIMEOUT_SECONDS": 900,
    "JOB_LOCK_TIMEOUT_SECONDS": 60,
    # GET /healthz?deep=1 runs its reads under this statement and lock timeout (seconds), so a
    # monitor with a few seconds' patience gets a 503 "busy" while a lock is held, not a
    # timeout of its own.
    "HEALTHZ_TIMEOUT_SECONDS": 2,
    # The scheduler's leader lease: another scheduler takes over this long after the
    # leader stopped renewing it.
    "SCHEDULER_LEASE_SECONDS": 90,
    # Backups (corrections backup; the nightly "backup" job): where they go (default
    # instance/backups), how many to keep (the newest of each of the last N days and M
    # months), when /healthz?deep=1 calls the newest one stale, where pg_dump/pg_restore are
    # (default: PATH), and on which PostgreSQL server the drill makes its scratch database
    # (default: the database's own; the role needs CREATEDB).
    "BACKUP_DIR": None,
    "BACKUP_KEEP_DAILY": 7,
    "BACKUP_KEEP_MONTHLY": 12,
    "BACKUP_STALE_HOURS": 26,
    "BACKUP_PG_BIN_DIR": None,
    "BACKUP_DRILL_URL": None,
    # PostgreSQL: the event log is partitioned by month of recording (Asia/Shanghai); the
    # event_partitions job keeps this many months ahead of the current one created, and
    # `corrections db detach-events MONTH` detaches only months older than the retention.
    "EVENT_PARTITIONS_AHEAD": 3,
    "EVENT_RETENTION_MONTHS": 36,
    # When each job runs (Asia/Shanghai): "every 15m", "every 1h", "cron 0 3 1 * *".
    # instance/config.py may replace entries; CORRECTIONS_SCHEDULER_TRIGGERS takes
    # "job=spec;job=spec". Unknown jobs and bad specs stop start-up.
    "SCHEDULER_TRIGGERS": {
        "sweep_obligations": "every 15m",
        "detect_lost_contact": "every 15m",
        "travel_returns": "every 15m",
        "intake_deadlines": "every 1h",
        "term_endings": "cron 30 6 * * *",
        "monitoring_expiry": "cron 0 7 * * *",
        "monthly_assessment": "cron 0 3 1 * *",
        "flag_reviews": "cron 0 8 * * *",
        "alert_escalation": "every 5m",
        "risk_scoring": "cron 0 2 * * *",
        "audit_seal": "every 1m",
        "prune_login_attempts": "cron 0 4 * * *",
        # Nightly backup into BACKUP_DIR; the restore drill of the newest one, weekly.
        "backup": "cron 0 1 * * *",
        "backup_drill": "cron 0 5 * * sun",
        # 矫务公开: the public monthly figures, recomputed nightly (a month appears the day
        # after it ends).
        "public_statistics": "cron 30 4 * * *",
        "exchange_receipts": "every 1h",
        # 检察监督: a reply to a 纠正意见 / 检察建议 past its day raises an alert.
        "oversight_deadlines": "every 1h",
        # 模型监测: the risk model on its own outcomes and its drift, monthly (risk/monitoring.py).
        "risk_monitoring": "cron 0 4 1 * *",
        # The event log's months ahead (PostgreSQL; nothing to do elsewhere).
        "event_partitions": "cron 15 3 * * *",
    },
}

ENV_PREFIX = "CORRECTIONS_"


class ConfigError(RuntimeError):
    """Settings that are wrong: ``problems``, each a message naming its key (core/i18n.py).
    ``str()`` is their English after "invalid configuration:" (``listed``), or the one
    problem alone; :meth:`render` is what a command or the server prints."""

    def __init__(self, *problems: str, listed: bool = True):
        self.problems, self.listed = problems, listed
        text = "\n  ".join(problems)
        super().__init__(f"invalid configuration:\n  {text}" if listed else text)

    def render(self) -> str:
        """The problems for the operator: "invalid configuration:" and each problem, in their
        language (core/i18n.py ``cli_text``)."""
        from corrections.core.i18n import cli_render, cli_text

        heading = cli_render(_("invalid configuration:"))
        lines = [cli_text(problem) for problem in self.problems]
        if self.listed:
            return heading + "\n  " + "\n  ".join(lines)
        return f"{heading} {lines[0]}"


def _coerce(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        message = _("{name}: expected true or false, got {raw!r}", name=ENV_PREFIX + key, raw=raw)
        raise ConfigError(message, listed=False)
    if isinstance(default, dict):
        pairs = [p.partition("=") for p in raw.split(";") if p.strip()]
        if any(not sep for _name, sep, _value in pairs):
            message = _(
                "{name}: expected name=value;name=value, got {raw!r}",
                name=ENV_PREFIX + key,
                raw=raw,
            )
            raise ConfigError(message, listed=False)
        return {**default, **{k.strip(): v.strip() for k, _sep, v in pairs}}
    if isinstance(default, list):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            message = _(
                "{name}: expected a whole number, got {raw!r}", name=ENV_PREFIX + key, raw=raw
            )
            raise ConfigError(message, listed=False) from exc
    return raw


def load(app: Flask, overrides: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in order: defaults, instance/config.py, environment, ``overrides``."""
    for key, value in DEFAULTS.items():
        if app.config.get(key) is None:  # Flask pre-sets some keys (MAX_CONTENT_LENGTH) to None
            app.config[key] = value
    app.config.from_pyfile("config.py", silent=True)
    for key, default in DEFAULTS.items():
        raw = os.environ.get(ENV_PREFIX + key)
        if raw is not None:
            app.config[key] = _coerce(key, raw, default)
    if overrides:
        app.config.update(overrides)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + str(Path(app.instance_path) / "corrections.db")
    # Before any file is written (the secret key here, the keyring next).
    _require_driver(str(app.config["DATABASE_URL"]))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config.get("KEYRING_PATH"):
        app.config["KEYRING_PATH"] = str(Path(app.instance_path) / "keyring.json")
    if not app.config.get("BACKUP_DIR"):
        app.config["BACKUP_DIR"] = str(Path(app.instance_path) / "backups")
    if not app.config.get("AUDIT_CHECKPOINT_PATH"):
        app.config["AUDIT_CHECKPOINT_PATH"] = str(
            Path(app.instance_path) / "audit-checkpoints.jsonl"
        )
    validate(app.config)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config))


def engine_options(config: dict[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options: pre-ping as configured, orjson for JSON columns, and bound
    values kept out of SQL logging and of database error messages (they carry names)."""
    import orjson

    from corrections.core.jsonio import dumps_str

    return {
        "pool_pre_ping": config["DATABASE_PRE_PING"],
        "hide_parameters": True,
        # Plain functions, not closures: psycopg caches one adapter per function and warns
        # (at every connect) that a closure would leak one per connection.
        "json_serializer": dumps_str,
        "json_deserializer": orjson.loads,
    }


def _require_driver(url: str) -> None:
    """A PostgreSQL URL needs psycopg, which only the ``postgres`` extra installs: say so in
    one line (not SQLAlchemy's ModuleNotFoundError after a keyring was written)."""
    import importlib.util

    if not url.startswith("postgresql") or importlib.util.find_spec("psycopg") is not None:
        return
    message = _(
        "DATABASE_URL: a PostgreSQL database needs the psycopg driver, which is not "
        "installed: {command}",
        command="pip install 'corrections[postgres]'",
    )
    raise ConfigError(message, listed=False)


def private_folder(path: Path, mode: int = 0o700) -> Path:
    """``path``, made if missing with ``mode`` (0700: the instance folder holds the keyring,
    the secret key and the SQLite database; a backup holds personal data), each missing
    folder above it 0750 (``/var/lib/corrections``: the service's group may look in, others
    may not). An existing folder keeps its mode."""
    path = Path(path)
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            folder.mkdir(mode=mode if folder is missing[0] else 0o750)
    return missing[0] if missing else path


def _instance_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so a fresh install works and stays stable."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    private_folder(instance)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


_NON_NEGATIVE_INTS = (
    "PROXY_FIX_X_FOR",
    "AUDIT_SEAL_INTERVAL_SECONDS",
    "REQUEST_STATEMENT_TIMEOUT_SECONDS",
    "REQUEST_LOCK_TIMEOUT_SECONDS",
    "JOB_STATEMENT_TIMEOUT_SECONDS",
    "JOB_LOCK_TIMEOUT_SECONDS",
    "BACKUP_KEEP_MONTHLY",
)
_POSITIVE_INTS = (
    "TOKEN_TTL_SECONDS",
    "LOST_CONTACT_MAX_PER_RUN",
    "LOGIN_WINDOW_SECONDS",
    "LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS",
    "LOGIN_USERNAME_WINDOW_SECONDS",
    "LOGIN_MAX_FAILURES_PER_USERNAME",
    "LOGIN_USERNAME_BACKOFF_SECONDS",
    "LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME",
    "LOGIN_KNOWN_ADDRESS_DAYS",
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS",
    "MAX_CONTENT_LENGTH",
    "MAX_URL_BYTES",
    "MAX_HEADER_FIELD_BYTES",
    "MAX_HEADER_FIELDS",
    "PASSWORD_HASH_TIME_COST",
    "PASSWORD_HASH_MEMORY_KIB",
    "PASSWORD_RESET_CODE_TTL_SECONDS",
    "SCHEDULER_LEASE_SECONDS",
    "HEALTHZ_TIMEOUT_SECONDS",
    "RISK_EXPORT_MIN_K",
    "RISK_CARD_MIN_GROUP_COUNT",
    "RISK_COMPARE_MONTHS",
    "RISK_COMPARE_EVERY_DAYS",
    "RISK_COMPARE_BOOTSTRAP",
    "RISK_COMPARE_MIN_POSITIVES",
    "RISK_MIN_TRAINING_ROWS",
    "AUDIT_LATE_TOLERANCE_SECONDS",
    "INTAKE_REFUSALS_PER_DAY",
    "EXCHANGE_REFUSALS_PER_DAY",
    "IMPORT_MAX_OPEN_MATCHES",
    "ALERT_STREAM_MAX_PER_USER",
    "ALERT_STREAM_MAX_PER_PROCESS",
    "ALERT_STREAM_TOKEN_CHECK_SECONDS",
    "ALERT_STREAM_POLL_SECONDS",
    "BACKUP_KEEP_DAILY",
    "BACKUP_STALE_HOURS",
    "EXCHANGE_RELAY_BATCH",
    "EXCHANGE_RELAY_POLL_SECONDS",
    "EVENT_PARTITIONS_AHEAD",
    "EVENT_RETENTION_MONTHS",
)


def validate(config: dict[str, Any]) -> None:
    errors = []
    url = str(config["DATABASE_URL"])
    if not url.startswith(("sqlite://", "postgresql+psycopg://", "postgresql://")):
        errors.append(_("DATABASE_URL: must be sqlite:///PATH or postgresql+psycopg://..."))
    if url.startswith("postgresql://"):
        config["DATABASE_URL"] = "postgresql+psycopg://" + url[len("postgresql://") :]
    if len(str(config["SECRET_KEY"])) < 32:
        errors.append(_("SECRET_KEY: must be at least 32 characters"))
    elif "change-me" in str(config["SECRET_KEY"]).lower():
        # The example settings file's placeholder (deploy/systemd/corrections.env.example).
        errors.append(_("SECRET_KEY: still the example's placeholder; generate one"))
    for key in _POSITIVE_INTS:
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                _("{key}: must be a positive whole number, got {value!r}", key=key, value=value)
            )
    for key in _NON_NEGATIVE_INTS:
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(_("{key}: must be 0 or more, got {value!r}", key=key, value=value))
    retention = config.get("EVENT_RETENTION_MONTHS")
    if isinstance(retention, int) and not isinstance(retention, bool) and 0 < retention < 13:
        # The public statistics read 12 months of events, the risk features 6.
        errors.append(
            _(
                "EVENT_RETENTION_MONTHS: at least 13 (the statistics read 12 months of "
                "events), got {value!r}",
                value=retention,
            )
        )
    if not Path(config["RULES_DIR"]).is_dir():
        errors.append(_("RULES_DIR: {path} is not a directory", path=str(config["RULES_DIR"])))
    if config.get("LOG_FORMAT") not in ("auto", "json", "text"):
        message = _(
            "LOG_FORMAT: must be auto, json or text, got {value!r}", value=config.get("LOG_FORMAT")
        )
        errors.append(message)
    token = config.get("METRICS_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < 24):
        errors.append(_("METRICS_TOKEN: must be a string of at least 24 characters (or unset)"))
    drill = config.get("BACKUP_DRILL_URL")
    if drill and not str(drill).startswith(("postgresql+psycopg://", "postgresql://")):
        errors.append(_("BACKUP_DRILL_URL: must be a postgresql+psycopg://... URL (or unset)"))
    broker = config.get("EXCHANGE_BROKER_URL")
    if broker and not str(broker).startswith(("amqp://", "amqps://")):
        errors.append(_("EXCHANGE_BROKER_URL: must be an amqp://... or amqps://... URL (or unset)"))
    exchange_name = config.get("EXCHANGE_BROKER_EXCHANGE")
    if not isinstance(exchange_name, str) or not 1 <= len(exchange_name) <= 127:
        errors.append(_("EXCHANGE_BROKER_EXCHANGE: must be a name of 1 to 127 characters"))
    prefix = config.get("EXCHANGE_BROKER_QUEUE_PREFIX")
    if not isinstance(prefix, str) or not 1 <= len(prefix) <= 100:
        errors.append(_("EXCHANGE_BROKER_QUEUE_PREFIX: must be a name of 1 to 100 characters"))
    if config.get("PASSWORD_HASH_MEMORY_KIB", 8) < 8:
        errors.append(_("PASSWORD_HASH_MEMORY_KIB: must be at least 8"))
    if type(config.get("RISK_EXPORT_MIN_K")) is int and config["RISK_EXPORT_MIN_K"] == 1:
        errors.append(_("RISK_EXPORT_MIN_K: must be at least 2 (1 would allow unique rows)"))
    from corrections.scheduler.triggers import trigger_errors

    errors += trigger_errors(config.get("SCHEDULER_TRIGGERS"))
    if errors:
        raise ConfigError(*errors)
