"""Who runs a ``corrections`` command, for the audit trail.

A command-line action has no signed-in user; recording it as ``system`` would hide who ran it.
The operating-system account and the host name are what the server knows about an operator at a
shell (the shell's own login records say the rest), so every audited CLI action is recorded as
``cli:<os user>@<host>``.

Run through the service account (``runuser -u corrections --``, ``sudo -u corrections``), the
process's user is ``corrections`` whoever typed the command. The kernel keeps the account that
logged in (``/proc/self/loginuid``, set by PAM at login, inherited across sudo, su and runuser,
and not changeable by the process or its environment): when it names another account, the actor
is ``cli:<login>(<os user>)@<host>``, e.g. ``cli:alice(corrections)@prod-1``.

Inside a user namespace (``unshare -Ur --uts``, a rootless container) any user looks like root
and may set any host name: ``cli:root@prod-1`` would then be anyone's word. A command acting as
the operator (:func:`cli_actor`) is refused there (exit status 2), unless the bureau sets
``CORRECTIONS_CLI_IN_USER_NAMESPACE=mark``: then it runs as ``cli:<user>@<host>[userns]``. The
host name can be set in a UTS namespace, the machine id (``/etc/machine-id``) cannot without
root: every audit row of a CLI actor carries its first 8 characters (``machine``), and the
import's probing bound counts per numeric user id on that machine (:func:`operator_key`), not
per displayed name.
"""

from __future__ import annotations

import os
import socket
import sys

from corrections.core.auth import Actor
from corrections.core.i18n import _

PREFIX = "cli:"
_MAX_USERNAME = 64  # audit_entries.actor_username
# The login user id the kernel keeps for this process's session (audit subsystem); the
# value of "unset" (no login: a daemon, a container's process, a kernel without it).
LOGINUID_PATH = "/proc/self/loginuid"
_UNSET_LOGINUID = 4294967295
# The user-id map of this process's user namespace: the initial namespace maps every id to
# itself ("0 0 4294967295"); any other map is a namespace someone made (unshare -U).
UID_MAP_PATH = "/proc/self/uid_map"
_INITIAL_UID_MAP = ["0", "0", "4294967295"]
# The initial user namespace's fixed inode (the kernel's PROC_USER_INIT_INO), a second
# check a bind mount over uid_map does not fool.
USER_NS_PATH = "/proc/self/ns/user"
_INITIAL_USER_NS = "user:[4026531837]"
MACHINE_ID_PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id")
_MACHINE_ID_CHARS = 8

OUTSIDE_HOST_NAMESPACE = _(
    "refused: this command runs inside a user namespace (unshare, a rootless container), "
    "where any user looks like root and the host name can be set; the audit trail could not "
    "say who ran it: run it from a login shell on the host"
)


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


def in_host_user_namespace() -> bool:
    """Whether this process runs in the initial user namespace (its ids are the host's).
    Not on Linux (no ``/proc``): True, there is nothing to compare. On Linux an unreadable
    map is taken as a namespace: the identity is not shown to be the host's."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        with open(UID_MAP_PATH, encoding="ascii") as fh:
            lines = [line.split() for line in fh if line.strip()]
    except OSError:
        return False
    if lines != [_INITIAL_UID_MAP]:
        return False
    try:
        return os.readlink(USER_NS_PATH) == _INITIAL_USER_NS
    except OSError:  # no namespace links (an old kernel): the map is all there is
        return True


def machine_id() -> str | None:
    """The first 8 characters of this machine's id (``/etc/machine-id``), which only root
    may change (the host name can be set in a UTS namespace); None when there is none."""
    for path in MACHINE_ID_PATHS:
        try:
            with open(path, encoding="ascii") as fh:
                value = fh.read().strip()
        except (OSError, ValueError):
            continue
        if value:
            return value[:_MACHINE_ID_CHARS]
    return None


def operator_key() -> str:
    """The operator at this shell as numbers, for counting their runs: the login user id
    (else the effective one) and the machine id, ``uid:<n>@<machine>``. The displayed name
    (:func:`os_identity`) carries a host name anyone may set in a namespace."""
    uid = login_uid()
    return f"uid:{os.geteuid() if uid is None else uid}@{machine_id() or '-'}"


# A bureau whose operators work in rootless containers sets this (environment only) to run
# commands there anyway: each such actor is then marked unverified (NAMESPACE_MARK).
ALLOW_NAMESPACE_ENV = "CORRECTIONS_CLI_IN_USER_NAMESPACE"
NAMESPACE_MARK = "[userns]"


def require_host_identity() -> bool:
    """Refuse (exit status 2, one line) inside a user namespace: see the module's doc. With
    ``CORRECTIONS_CLI_IN_USER_NAMESPACE=mark`` the command runs and this returns True: its
    actor is to be marked as an identity nobody verified."""
    if in_host_user_namespace():
        return False
    if os.environ.get(ALLOW_NAMESPACE_ENV, "").strip().lower() == "mark":
        return True
    from corrections.core.cli_errors import OperatorError
    from corrections.core.i18n import cli_text

    raise OperatorError(cli_text(OUTSIDE_HOST_NAMESPACE))


def cli_actor(by: str | None = None) -> Actor:
    """The actor of a CLI command: ``cli:<os user>@<host>``, or ``cli:<by>`` when the command
    names the person it acts for (``--by``, e.g. who reviewed a model card). Refused inside a
    user namespace (:func:`require_host_identity`): its actions are audited; where a bureau
    allows it, the name ends in ``[userns]`` (the audit trail shows it was not verified)."""
    unverified = require_host_identity()
    name = by.strip() if by and by.strip() else os_identity()
    mark = NAMESPACE_MARK if unverified else ""
    username = (PREFIX + name)[: _MAX_USERNAME - len(mark)] + mark
    return Actor(user_id=None, username=username, role=None, unit_id=None)
