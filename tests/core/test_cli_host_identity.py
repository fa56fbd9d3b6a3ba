"""Who ran a command, as the audit trail records it, when the shell is not what it looks like
(hostile review 16b): inside a user namespace (``unshare -Ur --uts``) anyone is root on any
host name, so a command acting as the operator is refused there; every CLI audit row carries
the machine id, which a namespace cannot set; the import's probing bound counts an operator by
numbers, not by a host name; the sealing backfill names the operator at the shell."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select, update

from corrections.audit.models import AuditEntry
from corrections.core import cli_identity
from corrections.core.cli_errors import OperatorError
from corrections.core.cli_identity import cli_actor, operator_key
from corrections.core.db import db
from corrections.org.models import User
from corrections.persons.models import Person
from tests.factories import juvenile_payload
from tests.support.caseload import write_csv
from tests.support.org import audit_rows

NAMESPACE_REFUSAL = "用户命名空间"


@pytest.fixture
def proc(monkeypatch, tmp_path):
    """The /proc files and the machine id the identity is read from, as files of the test's."""
    uid_map = tmp_path / "uid_map"
    uid_map.write_text("         0          0 4294967295\n")
    user_ns = tmp_path / "ns_user"
    os.symlink("user:[4026531837]", user_ns)
    machine = tmp_path / "machine-id"
    machine.write_text("5e1f00c2aa0b4d6f8c1d2e3f40516273\n")
    monkeypatch.setattr(cli_identity, "UID_MAP_PATH", str(uid_map))
    monkeypatch.setattr(cli_identity, "USER_NS_PATH", str(user_ns))
    monkeypatch.setattr(cli_identity, "MACHINE_ID_PATHS", (str(machine),))
    monkeypatch.setattr("sys.platform", "linux")
    return {"uid_map": uid_map, "user_ns": user_ns, "machine": machine}


def _in_namespace(proc) -> None:
    # What `unshare -Ur` leaves: the caller's uid mapped to root, one id long.
    proc["uid_map"].write_text("         0       1000          1\n")


def test_the_host_namespace_is_recognised_and_a_user_namespace_is_not(proc):
    assert cli_identity.in_host_user_namespace()
    _in_namespace(proc)
    assert not cli_identity.in_host_user_namespace()
    proc["uid_map"].write_text("0 0 4294967295\n")
    # A map bind-mounted over, in a namespace of its own: the namespace's inode says so.
    proc["user_ns"].unlink()
    os.symlink("user:[4026532461]", proc["user_ns"])
    assert not cli_identity.in_host_user_namespace()
    proc["user_ns"].unlink()
    proc["uid_map"].unlink()  # unreadable on Linux: not shown to be the host's
    assert not cli_identity.in_host_user_namespace()


def test_the_cli_actor_is_refused_inside_a_user_namespace_with_exit_status_2(proc, monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "prod-1")
    assert cli_actor().username.endswith("@prod-1")
    _in_namespace(proc)
    with pytest.raises(OperatorError) as refused:
        cli_actor()
    assert refused.value.exit_code == 2
    with pytest.raises(OperatorError):
        cli_actor("reviewer")  # --by names someone; the shell is still not the host's


def test_a_bureau_may_allow_user_namespaces_and_the_actor_then_says_unverified(proc, monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "prod-1")
    _in_namespace(proc)
    monkeypatch.setenv(cli_identity.ALLOW_NAMESPACE_ENV, "mark")
    actor = cli_actor()
    assert actor.username.startswith("cli:") and actor.username.endswith("@prod-1[userns]")
    long = cli_actor("x" * 100)
    assert len(long.username) == 64 and long.username.endswith("[userns]")
    monkeypatch.setenv(cli_identity.ALLOW_NAMESPACE_ENV, "yes")  # only "mark" allows it
    with pytest.raises(OperatorError):
        cli_actor()


def test_an_audited_command_in_a_user_namespace_is_refused_and_changes_nothing(
    app, runner, proc, monkeypatch
):
    monkeypatch.setattr("socket.gethostname", lambda: "prod-1")
    _in_namespace(proc)
    result = runner.invoke(args=["users", "disable", "officer-dongcheng-1"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and NAMESPACE_REFUSAL in lines[0]
    assert "cli:root@prod-1" not in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "officer-dongcheng-1"))
        assert user.active is True
        db.session.remove()
    assert audit_rows(app, "user.disable") == []


def test_every_cli_audit_row_carries_the_machine_id_a_namespace_cannot_set(
    app, runner, proc, monkeypatch
):
    monkeypatch.setattr("socket.gethostname", lambda: "prod-1")
    result = runner.invoke(args=["users", "disable", "officer-dongcheng-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = list(
            db.session.scalars(select(AuditEntry).where(AuditEntry.actor_username.like("cli:%")))
        )
        db.session.remove()
    assert rows and all(r.detail["machine"] == "5e1f00c2" for r in rows)
    proc["machine"].unlink()  # no machine id: the rows say nothing of one
    assert cli_identity.machine_id() is None


def test_the_operator_key_is_numeric_and_ignores_the_host_name(proc, monkeypatch, tmp_path):
    loginuid = tmp_path / "loginuid"
    loginuid.write_text("1000")
    monkeypatch.setattr(cli_identity, "LOGINUID_PATH", str(loginuid))
    monkeypatch.setattr("socket.gethostname", lambda: "prod-1")
    first = operator_key()
    monkeypatch.setattr("socket.gethostname", lambda: "prod-2")
    assert operator_key() == first == "uid:1000@5e1f00c2"
    loginuid.write_text("4294967295")  # no login session: the process's own uid
    assert operator_key() == f"uid:{os.geteuid()}@5e1f00c2"


def test_the_probing_bound_counts_an_operator_whatever_host_name_each_run_shows(
    app, runner, tmp_path, login, intake, proc, monkeypatch
):
    """Each run under another host name (`unshare --uts`, hostname x) was a new operator: the
    bound's count is keyed on the login uid and the machine."""
    from tests.persons.test_import_probing import row_of, run, runs

    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 2)
    api = login("officer-dongcheng-2")
    a, b, c = (intake(api=api) for _ in range(3))  # open at 32990102
    # Three runs, each under another host name and for another user (--by, or none): only
    # the operator's count can refuse the third.
    plan = [
        ("box-0", row_of(a), ("--by", "officer-dongcheng-1")),
        ("box-1", row_of(b, office_code="32990101"), ()),
        ("box-2", row_of(c, office_code="32990301"), ("--by", "commander-nanhu")),
    ]
    outputs = []
    for n, (host, row, by) in enumerate(plan):
        monkeypatch.setattr("socket.gethostname", lambda host=host: host)
        outputs.append(run(runner, write_csv(tmp_path / f"{n}.csv", [row]), "--dry-run", *by))
    assert ["整体拒绝" in r.output for r in outputs] == [False, False, True], outputs[-1].output
    rows = runs(app)
    assert {r.detail["operator"].rsplit("@", 1)[1] for r in rows} == {"box-0", "box-1", "box-2"}
    assert {r.detail["operator_key"] for r in rows} == {operator_key()}
    assert rows[-1].detail["result"] == "refused_probing"


def test_seal_discharged_names_the_operator_at_the_shell(
    app, login, intake, runner, proc, monkeypatch
):
    """`persons seal-discharged --by city`: the seals are the city user's decision, run by
    whoever was at the shell; both are in each seal's audit row."""
    monkeypatch.setattr("socket.gethostname", lambda: "prod-1")
    person = intake(login("officer-dongcheng-1"), **juvenile_payload())
    with app.app_context():
        db.session.execute(
            update(Person).where(Person.id == person["id"]).values(status="discharged")
        )
        db.session.commit()
        db.session.remove()
    result = runner.invoke(args=["persons", "seal-discharged", "--by", "city"])
    assert result.exit_code == 0 and "已封存 1 条记录" in result.output, result.output
    (row,) = audit_rows(app, "person.sealed")
    assert row.actor_username == "city"
    assert row.detail["operator"] == cli_actor().username and row.detail["operator"].startswith(
        "cli:"
    )
    assert row.detail["operator"].endswith("@prod-1") and "machine" not in row.detail
    # In a user namespace the backfill is refused before anything is sealed.
    _in_namespace(proc)
    result = runner.invoke(args=["persons", "seal-discharged", "--by", "city"])
    assert result.exit_code == 2 and NAMESPACE_REFUSAL in result.output
