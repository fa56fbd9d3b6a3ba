"""The password policy for staff accounts, after NIST SP 800-63B (5.1.1.2): long enough, not
the account's own name, not repetitive, and not a password that breach corpora show is common.
No composition rules (a required digit or symbol makes passwords harder to remember, not to
guess), no expiry. The common passwords are data: ``common_passwords.txt`` beside this file.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from corrections.core.i18n import _

MIN_LENGTH = 10
MIN_DISTINCT_CHARACTERS = 4
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")

# Shown to the administrator who creates the account (the CLI), each naming what to change.
# (Counted as typed: a password with a space at either end is refused, SURROUNDING_SPACE.)
TOO_SHORT = _("at least {count} characters", count=MIN_LENGTH)
TOO_REPETITIVE = _("at least {count} different characters", count=MIN_DISTINCT_CHARACTERS)
# A password is checked exactly as typed at sign-in, so spaces around it would have to be
# typed every time, and are easily lost (a copied line, a form that trims): refused.
SURROUNDING_SPACE = _("must not begin or end with a space or other whitespace")
CONTAINS_USERNAME = _("must not contain the username")
TOO_COMMON = _("a common password, easily guessed")
PUBLISHED = _("the published demo password")
# Published in the README and the demo's output: anyone may try it on any account.
DEMO_DEFAULT = "demo-password"
NOT_COMMON = _("not a common password, nor the published demo password")
# The policy as the pages show it beside a new password's field, one rule a line, in the
# words the checks below refuse with.
RULES = (TOO_SHORT, TOO_REPETITIVE, SURROUNDING_SPACE, CONTAINS_USERNAME, NOT_COMMON)


def _published() -> set[str]:
    """The demo's password (the configured one and the README's default), folded."""
    from flask import current_app, has_app_context

    found = {_folded(DEMO_DEFAULT)}
    if has_app_context() and current_app.config.get("DEMO_PASSWORD"):
        found.add(_folded(current_app.config["DEMO_PASSWORD"]))
    return found


def _folded(text: str) -> str:
    """One spelling to compare: full-width forms made plain (NFKC), case folded."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, folded as passwords are before the lookup."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(_folded(line) for line in lines if line and not line.startswith("# "))


def problems(password: str, *, username: str) -> list[str]:
    """What is wrong with ``password`` for the account ``username`` (empty: acceptable)."""
    folded = _folded(password)
    found = []
    if password != password.strip():
        found.append(SURROUNDING_SPACE)
    if len(password.strip()) < MIN_LENGTH:
        found.append(TOO_SHORT)
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        found.append(TOO_REPETITIVE)
    name = _folded(username)
    if name and name in folded:
        found.append(CONTAINS_USERNAME)
    if folded in common_passwords():
        found.append(TOO_COMMON)
    if folded in _published():
        found.append(PUBLISHED)
    return found
