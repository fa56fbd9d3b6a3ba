"""The password policy for staff accounts, after NIST SP 800-63B (5.1.1.2): long enough, not
the account's own name, not repetitive, and not a password that breach corpora show is common.
No composition rules (a required digit or symbol makes passwords harder to remember, not to
guess), no expiry. The common passwords are data: ``common_passwords.txt`` beside this file.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

MIN_LENGTH = 10
MIN_DISTINCT_CHARACTERS = 4
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")

# Shown to the administrator who creates the account (the CLI), each naming what to change.
TOO_SHORT = f"密码至少 {MIN_LENGTH} 个字符，首尾空格不计 (at least {MIN_LENGTH} characters)"
TOO_REPETITIVE = (
    f"密码至少包含 {MIN_DISTINCT_CHARACTERS} 个不同字符 "
    f"(at least {MIN_DISTINCT_CHARACTERS} different characters)"
)
CONTAINS_USERNAME = "密码不能包含用户名 (must not contain the username)"
TOO_COMMON = "这是常见密码，容易被猜中 (a common password, easily guessed)"


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
    if len(password.strip()) < MIN_LENGTH:
        found.append(TOO_SHORT)
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        found.append(TOO_REPETITIVE)
    name = _folded(username)
    if name and name in folded:
        found.append(CONTAINS_USERNAME)
    if folded in common_passwords():
        found.append(TOO_COMMON)
    return found
