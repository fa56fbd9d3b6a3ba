# Copy to instance/config.py and edit. Environment variables CORRECTIONS_<KEY> override these.
# Every line below shows the built-in default (corrections/config.py, DEFAULTS) unless it says
# "example"; a setting you do not set keeps its default. Everything is checked at start-up: a
# bad value stops the service with "invalid configuration: KEY: ...".

# --- database and keys -------------------------------------------------------------------

# Default: a SQLite file in the instance folder. PostgreSQL in production (psycopg 3), example:
# DATABASE_URL = "postgresql+psycopg://corrections@db.internal:5432/corrections"
# Test each pooled connection before use (off: a dropped connection fails one request, 503).
# DATABASE_PRE_PING = True
# PostgreSQL's JIT compiler for the service's connections (off: it spent 100-250 ms compiling
# statements that run in milliseconds).
# DATABASE_JIT = False
# Check every API response's fast dump against marshmallow's own (a difference fails the
# request): for tests and debugging, it costs the dump's time again.
# FAST_DUMP_VERIFY = False
# PostgreSQL: the event log's monthly partitions kept created ahead of this month, and the
# months `corrections db detach-events` refuses (keep above the 12 the statistics read).
# EVENT_PARTITIONS_AHEAD = 3
# EVENT_RETENTION_MONTHS = 36
# Episodes the lost-contact detection moves in one run; a backlog goes over the next runs.
# LOST_CONTACT_MAX_PER_RUN = 3000

# At least 32 characters; keep it out of version control. Default: generated once into
# instance/secret_key.
# SECRET_KEY = "..."

# The keyring (field encryption, blind indexes, audit HMAC). Default: instance/keyring.json.
# Keep it on another disk or secret store than the database, and back it up separately.
# Example:
# KEYRING_PATH = "/etc/corrections/keyring.json"

# Rules as data (rules/*.yaml). Default: the repository's rules/. Example:
# RULES_DIR = "/srv/corrections/rules"

# --- sign-in and accounts ----------------------------------------------------------------

# Bearer tokens expire after 12 hours.
# TOKEN_TTL_SECONDS = 12 * 3600
# A one-time password reset code stays valid 24 hours (and works once).
# PASSWORD_RESET_CODE_TTL_SECONDS = 24 * 3600
# argon2id cost of password hashes.
# PASSWORD_HASH_TIME_COST = 3
# PASSWORD_HASH_MEMORY_KIB = 64 * 1024

# Sign-in limits, counted in the database in fixed windows.
# Failed sign-ins per (username, client address) per LOGIN_WINDOW_SECONDS, then 429 for that
# address only: a guesser locks out their own address, never the officer at theirs.
# LOGIN_WINDOW_SECONDS = 15 * 60
# LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS = 5
# Failed sign-ins per username from every address per LOGIN_USERNAME_WINDOW_SECONDS. Past
# them, each address the user has not signed in from within LOGIN_KNOWN_ADDRESS_DAYS gets one
# attempt per LOGIN_USERNAME_BACKOFF_SECONDS, and all such addresses together
# LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME more per window. A known address is never slowed.
# LOGIN_USERNAME_WINDOW_SECONDS = 60 * 60
# LOGIN_MAX_FAILURES_PER_USERNAME = 30
# LOGIN_USERNAME_BACKOFF_SECONDS = 15 * 60
# LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME = 30
# LOGIN_KNOWN_ADDRESS_DAYS = 30
# Sign-ins per client address per LOGIN_WINDOW_SECONDS, whatever the username.
# LOGIN_MAX_ATTEMPTS_PER_ADDRESS = 50

# Password of the demo accounts (`corrections demo`); refused for every other account.
# DEMO_PASSWORD = "demo-password"
# Heads of the district justice bureaus, the only accounts that approve electronic
# monitoring (社区矫正法 29). Default: nobody. Example:
# DISTRICT_HEADS = ["commander-dongcheng", "commander-xicheng"]

# --- requests ----------------------------------------------------------------------------

# Trusted reverse proxies in front of the service (for the client address); 1 behind one.
# PROXY_FIX_X_FOR = 0
# Largest accepted request body (413 beyond).
# MAX_CONTENT_LENGTH = 1024 * 1024
# A longer URL gets 414, a larger header field or more fields 431 (gunicorn's own limits must
# be higher: see README, Production serving).
# MAX_URL_BYTES = 4096
# MAX_HEADER_FIELD_BYTES = 8190
# MAX_HEADER_FIELDS = 100
# Duplicate-intake refusals per user in 24 hours before further intakes are refused (429).
# INTAKE_REFUSALS_PER_DAY = 5
# The same for a partner agency's refused documents (exchange/inbound), all its accounts
# together.
# EXCHANGE_REFUSALS_PER_DAY = 20
# The exchange relay's broker (unset: no push; the pull feed works alone), its topic
# exchange, and the prefix of the agencies' queues (<prefix><agency code>; give each instance
# on one broker its own). Example:
# EXCHANGE_BROKER_URL = "amqp://user:password@host:5672/vhost"
# EXCHANGE_BROKER_EXCHANGE = "corrections.exchange"
# EXCHANGE_BROKER_QUEUE_PREFIX = "corrections."
# Open cases outside the operator's scope that caseload imports may match (distinct persons,
# the operator's runs of 24 hours together) before a run is refused as a whole.
# IMPORT_MAX_OPEN_MATCHES = 20

# How long one statement may run and wait for a lock (seconds; 0: no limit): in an HTTP
# request, then in scheduled jobs and CLI commands (migrations included). Past them a request
# gets 503 with Retry-After and a job run fails. SQLite has no statement timeout.
# REQUEST_STATEMENT_TIMEOUT_SECONDS = 20
# REQUEST_LOCK_TIMEOUT_SECONDS = 10
# JOB_STATEMENT_TIMEOUT_SECONDS = 900
# JOB_LOCK_TIMEOUT_SECONDS = 60
# GET /healthz?deep=1 gives up (503 busy) after this long, under a monitor's own timeout.
# HEALTHZ_TIMEOUT_SECONDS = 2

# --- live alert streams ------------------------------------------------------------------

# Open streams per user (across every worker) and per server process, then 429; keep
# gunicorn's --worker-connections above the second.
# ALERT_STREAM_MAX_PER_USER = 5
# ALERT_STREAM_MAX_PER_PROCESS = 1000
# An open stream re-checks its sign-in at least this often (seconds).
# ALERT_STREAM_TOKEN_CHECK_SECONDS = 30
# SQLite only: how often each process looks for new alert changes (PostgreSQL notifies).
# ALERT_STREAM_POLL_SECONDS = 1

# --- audit trail -------------------------------------------------------------------------

# Each worker seals new audit rows into the chain at most this often (0: after every request).
# AUDIT_SEAL_INTERVAL_SECONDS = 1
# Signed audit checkpoints (append-only). Default: instance/audit-checkpoints.jsonl. Put them
# where the database's users cannot write. Example:
# AUDIT_CHECKPOINT_PATH = "/var/lib/corrections-audit/checkpoints.jsonl"
# A row sealed this long after the time it claims is reported by `audit verify` as backdated.
# AUDIT_LATE_TOLERANCE_SECONDS = 600

# --- scheduler and backups ---------------------------------------------------------------

# Another scheduler takes over this long after the leader stopped renewing its lease.
# SCHEDULER_LEASE_SECONDS = 90
# When each job runs: see SCHEDULER_TRIGGERS in corrections/config.py (a mapping here must
# name every job); CORRECTIONS_SCHEDULER_TRIGGERS="sweep_obligations=every 5m" changes one.

# Backups (corrections backup; the nightly "backup" job). Default folder: instance/backups.
# Example:
# BACKUP_DIR = "/var/backups/corrections"
# BACKUP_KEEP_DAILY = 7
# BACKUP_KEEP_MONTHLY = 12
# BACKUP_STALE_HOURS = 26
# Where pg_dump and pg_restore are. Default: found on PATH. Example:
# BACKUP_PG_BIN_DIR = "/usr/lib/postgresql/15/bin"
# The PostgreSQL server on which the restore drill makes its scratch database (the role needs
# CREATEDB). Default: the database's own. Example:
# BACKUP_DRILL_URL = "postgresql+psycopg://corrections@db-drill.internal:5432/postgres"

# --- risk model --------------------------------------------------------------------------

# Versioned model directories (model.skops + card.json). Default: the repository's models/.
# Example:
# RISK_MODELS_DIR = "/srv/corrections/models"
# Key of the pseudonyms in risk exports. Default: derived from SECRET_KEY.
# RISK_EXPORT_KEY = "..."
# Smallest number of persons sharing a risk-export row's quasi-identifiers (at least 2).
# RISK_EXPORT_MIN_K = 5
# Persons scored per prediction batch by the nightly job.
# RISK_SCORING_BATCH = 20000
# Activating a model over the active one compares both on the same recent matured snapshots
# of this database (`corrections risk compare`): months of snapshot days, days between them,
# bootstrap resamples, and the fewest positives (and negatives) a comparison needs.
# RISK_COMPARE_MONTHS = 6
# RISK_COMPARE_EVERY_DAYS = 30
# RISK_COMPARE_BOOTSTRAP = 200
# RISK_COMPARE_MIN_POSITIVES = 50
# A model fitted on fewer rows than this is activated only with --force --reason.
# RISK_MIN_TRAINING_ROWS = 5000

# --- logs and metrics --------------------------------------------------------------------

# LOG_LEVEL = "INFO"
# "json" (one object per line, for a log shipper), "text" (a terminal) or "auto" (text on a
# terminal, else json).
# LOG_FORMAT = "auto"
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (at least 24
# characters); unset, it is 404. Example:
# METRICS_TOKEN = "..."
