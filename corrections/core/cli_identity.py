"""Who runs a ``corrections`` command, for the audit trail.

A command-line action has no signed-in user; recording it as ``system`` would hide who ran it.
The operating-system account and the host name are what the server knows about an operator at
a shell (the shell's own login records say the rest), so every audited CLI action is recorded as
``cli:<os user>@<host>``.
"""

from __future__ import annotations

import os
import socket

from corrections.core.auth import Actor

PREFIX = "cli:"
_MAX_USERNAME = 64  # audit_entries.actor_username


def os_user() -> str:
    """The name of the account this process runs as, from its user id (``uid<N>`` when the
    account has no name, as in some containers). Not ``getpass.getuser()``: that reads
    LOGNAME and USER first, which anyone can set (``LOGNAME=ops-zhang corrections ...``)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid{os.geteuid()}"


def os_identity() -> str:
    """``user@host`` of this process."""
    return f"{os_user()}@{socket.gethostname()}"


def cli_actor(by: str | None = None) -> Actor:
    """The actor of a CLI command: ``cli:<os user>@<host>``, or ``cli:<by>`` when the command
    names the person it acts for (``--by``, e.g. who reviewed a model card)."""
    name = by.strip() if by and by.strip() else os_identity()
    return Actor(user_id=None, username=(PREFIX + name)[:_MAX_USERNAME], role=None, unit_id=None)
