# Copy to instance/config.py and edit. Environment variables CORRECTIONS_<KEY> override these.

# PostgreSQL in production (psycopg 3):
# DATABASE_URL = "postgresql+psycopg://corrections@db.internal:5432/corrections"

# At least 32 characters; keep it out of version control.
# SECRET_KEY = "..."

# Bearer tokens expire after 12 hours.
# TOKEN_TTL_SECONDS = 12 * 3600

# Sign-in rate limits over a sliding window.
# LOGIN_WINDOW_SECONDS = 900
# LOGIN_MAX_FAILURES_PER_USERNAME = 5
# LOGIN_MAX_ATTEMPTS_PER_ADDRESS = 50

# Number of trusted reverse proxies in front of the service (for the client address).
# PROXY_FIX_X_FOR = 1

# Largest accepted request body, in bytes.
# MAX_CONTENT_LENGTH = 1024 * 1024

# The keyring (field encryption, blind indexes, audit HMAC). Default: instance/keyring.json.
# Keep it on another disk or secret store than the database, and back it up separately.
# KEYRING_PATH = "/etc/corrections/keyring.json"

# Signed audit checkpoints (append-only). Put them where the database's users cannot write.
# AUDIT_CHECKPOINT_PATH = "/var/lib/corrections-audit/checkpoints.jsonl"
# A row sealed this long after the time it claims is reported by `audit verify` as backdated.
# AUDIT_LATE_TOLERANCE_SECONDS = 600
