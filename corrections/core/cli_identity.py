"""Who runs a ``corrections`` command, for the audit trail.

A command-line action has no signed-in user; recording it as ``system`` would hide who ran it.
The operating-system account and the host name are what the server knows about an operator at
a shell (the shell's own login records say the rest), so every audited CLI action is recorded as
``cli:<os user>@<host>``.

Run through the service account (``runuser -u corrections --``, ``sudo -u corrections``), the
process's user is ``corrections`` whoever typed the command. The kernel keeps the account that
logged in (``/proc/self/loginuid``, set by PAM at login, inherited across sudo, su and runuser,
and not changeable by the process or its environment): when it names another account, the
actor is ``cli:<login>(<os user>)@<host>``, e.g. ``cli:alice(corrections)@prod-1``.
"""

from __future__ import annotations

import os
import socket

from corrections.core.auth import Actor

PREFIX = "cli:"
_MAX_USERNAME = 64  # audit_entries.actor_username
# The login user id the kernel keeps for this process's session (audit subsystem); the
# value of "unset" (no login: a daemon, a container's process, a kernel without it).
LOGINUID_PATH = "/proc/self/loginuid"
_UNSET_LOGINUID = 4294967295


def _user_name(uid: int) -> str:
    """The account name of ``uid`` (``uid<N>`` when it has none, as in some containers)."""
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid{uid}"


def os_user() -> str:
    """The name of the account this process runs as, from its user id (``uid<N>`` when the
    account has no name, as in some containers). Not ``getpass.getuser()``: that reads
    LOGNAME and USER first, which anyone can set (``LOGNAME=ops-zhang corrections ...``)."""
    return _user_name(os.geteuid())


def login_uid() -> int | None:
    """The user id this process's login session began as (``/proc/self/loginuid``), None
    when unset or unreadable. The kernel sets it at login and keeps it across ``sudo``,
    ``su`` and ``runuser``; only a privileged process may set it, never the environment."""
    try:
        with open(LOGINUID_PATH, encoding="ascii") as fh:
            value = int(fh.read().strip())
    except (OSError, ValueError):
        return None
    return None if value in (_UNSET_LOGINUID, -1) else value


def login_user() -> str | None:
    """The account that logged in, when it is not the one this process runs as (a command
    run through the service account); None otherwise."""
    uid = login_uid()
    if uid is None or uid == os.geteuid():
        return None
    return _user_name(uid)


def os_identity() -> str:
    """``user@host`` of this process; ``login(user)@host`` when someone logged in as
    ``login`` runs it as ``user`` (:func:`login_user`)."""
    user, login = os_user(), login_user()
    who = f"{login}({user})" if login and login != user else user
    return f"{who}@{socket.gethostname()}"


def cli_actor(by: str | None = None) -> Actor:
    """The actor of a CLI command: ``cli:<os user>@<host>``, or ``cli:<by>`` when the command
    names the person it acts for (``--by``, e.g. who reviewed a model card)."""
    name = by.strip() if by and by.strip() else os_identity()
    return Actor(user_id=None, username=(PREFIX + name)[:_MAX_USERNAME], role=None, unit_id=None)
