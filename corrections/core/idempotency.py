"""The ``Idempotency-Key`` request header: a client sends the same key when it retries a write
(a double click, a lost response), and the write happens once; the retry gets the first result
back (200 with ``Idempotent-Replayed: true``). Each write that takes one stores it with its
record and compares the retried body with the first."""

from __future__ import annotations

import re

from flask import request

from corrections.core.errors import RuleViolation
from corrections.core.i18n import _

_KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

# The header as the OpenAPI document describes it (``@blp.doc(parameters=[HEADER])``).
HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 100},
    "description": "Send the same key when retrying: the write happens once, and the "
    "retry gets the first result back (200 with Idempotent-Replayed: true).",
}

REPLAYED = {"Idempotent-Replayed": "true"}


def key() -> str | None:
    """The request's key, or None without one; a malformed key is a 422 naming the header."""
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not _KEY_RE.match(value):
        raise RuleViolation(
            _("1–100 letters, digits, '.', '_', ':' or '-'"), field="Idempotency-Key"
        )
    return value
