"""The caseload import is no register to look people up in (hostile review of issue 16): a row
whose ID number has an open case elsewhere is told that much only, every run (a dry run too) is
audited, and a run matching too many open cases outside the operator's scope is refused as a
whole."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.persons.models import Person
from tests.conftest import count_rows
from tests.support.caseload import caseload_row, write_csv

OPEN_CASE = ["身份证号", "此身份证号已有在矫记录", "already under correction"]


def run(runner, path, *extra):
    return runner.invoke(args=["persons", "import", str(path), *extra])


def report_lines(result) -> list[list[str]]:
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    return [line for line in lines if line[0] != "行"]


def row_of(person: dict, **overrides) -> dict:
    """A caseload row for the same person (ID number and birth date) as ``person``; without
    an office code unless one is given (an officer's rows go to their office)."""
    row = caseload_row(id_number=person["id_number"], date_of_birth=person["date_of_birth"])
    del row["office_code"]
    return {**row, **overrides}


def runs(app) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "persons.import_run")
                .order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


@pytest.fixture
def elsewhere(login, intake):
    """Persons open at office 32990102 (东城区 second office), outside officer-dongcheng-1's
    office and outside commander-nanhu's district."""

    def _make(n: int) -> list[dict]:
        api = login("officer-dongcheng-2")
        return [intake(api=api) for _ in range(n)]

    return _make


# Who runs the import, and the office their rows name (None: the officer's own).
RUNNERS = [
    (("--by", "officer-dongcheng-1"), None),
    (("--by", "commander-nanhu"), "32990301"),
    (("--by", "city"), "32990101"),
    ((), "32990101"),  # the operator at the command line
]


@pytest.mark.parametrize(("by", "office"), RUNNERS)
def test_a_dry_run_says_only_that_a_case_is_open_whoever_runs_it(
    app, runner, tmp_path, elsewhere, by, office
):
    (other,) = elsewhere(1)  # open at 32990102 (东城区东门司法所)
    codes = {"office_code": office} if office else {}
    fresh = {k: v for k, v in caseload_row().items() if k != "office_code"}
    rows = [row_of(other, **codes), {**fresh, **codes}]
    result = run(runner, write_csv(tmp_path / "f.csv", rows), "--dry-run", *by)
    assert result.exit_code == 1, result.output
    # Row 2 (the fresh row 3 may carry a note of its own, such as a grade set by the rule).
    assert [line for line in report_lines(result) if line[0] == "2"] == [["2", *OPEN_CASE]]
    # Nothing of where the case is: not the office's or district's code or name.
    for leak in ("32990102", "329901 ", "东门", "东城", "市司法局", "contact", "here"):
        assert leak not in result.stdout, leak


def test_every_run_is_audited_with_operator_hash_rows_and_matches(app, runner, tmp_path, elsewhere):
    from tests.support.org import CLI_ACTOR

    (other,) = elsewhere(1)
    path = write_csv(tmp_path / "f.csv", [row_of(other, office_code="32990101"), caseload_row()])
    assert run(runner, path, "--dry-run").exit_code == 1
    assert run(runner, path).exit_code == 1  # refused: one bad row
    assert run(runner, path, "--skip-invalid").exit_code == 0  # stored
    assert run(runner, path, "--dry-run", "--by", "officer-dongcheng-1").exit_code == 1
    first, refused, stored, by_officer = runs(app)
    assert [r.detail["result"] for r in (first, refused, stored, by_officer)] == [
        "dry_run",
        "refused",
        "stored",
        "dry_run",
    ]
    for row in (first, refused, stored):
        assert row.actor_username == CLI_ACTOR and row.detail["operator"] == CLI_ACTOR
        assert row.detail["rows"] == 2 and len(row.detail["sha256"]) == 64
        assert row.detail["open_case"] == 1 and row.detail["open_elsewhere"] == 1
        # The trail names whom the run matched; no ID number in it.
        assert row.subject_ids == f",{other['id']},"
        assert other["id_number"] not in str(row.detail)
    assert first.detail["dry_run"] is True and first.detail["matched"] == 1
    assert stored.detail["import_id"] and not stored.detail["dry_run"]
    # The officer's own file again: the row created by the stored run is theirs, unchanged.
    assert by_officer.actor_username == "officer-dongcheng-1"
    assert by_officer.detail["operator"] == CLI_ACTOR
    assert by_officer.detail["matched"] == 2 and by_officer.detail["unchanged"] == 1


def test_a_run_matching_too_many_open_cases_elsewhere_is_refused_as_a_whole(
    app, runner, tmp_path, elsewhere, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 2)
    others = elsewhere(3)
    before = count_rows(app, Person)
    rows = [caseload_row(), *(row_of(o, office_code="32990101") for o in others)]
    result = run(runner, write_csv(tmp_path / "f.csv", rows), "--dry-run")
    assert result.exit_code == 1
    assert "整体拒绝" in result.output and "IMPORT_MAX_OPEN_MATCHES" in result.output
    assert report_lines(result) == [] and "此身份证号已有在矫记录" not in result.output
    assert count_rows(app, Person) == before
    (refused,) = runs(app)
    assert refused.detail["result"] == "refused_probing" and refused.detail["open_elsewhere"] == 3
    assert refused.subject_ids == "," + ",".join(str(o["id"]) for o in others) + ","


def test_the_bound_counts_distinct_persons_over_a_days_runs(
    app, runner, tmp_path, elsewhere, monkeypatch, clock
):
    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 2)
    a, b, c = elsewhere(3)
    two = write_csv(tmp_path / "two.csv", [row_of(a, office_code="32990101"),
                                           row_of(b, office_code="32990101")])  # fmt: skip
    # The same two persons again (a dry run, then the run) count once.
    assert "整体拒绝" not in run(runner, two, "--dry-run").output
    assert "整体拒绝" not in run(runner, two).output
    third = write_csv(tmp_path / "third.csv", [row_of(c, office_code="32990101")])
    result = run(runner, third, "--dry-run")  # a third person in 24 hours: one too many
    assert "整体拒绝" in result.output and report_lines(result) == []
    # A file that matches nobody's open case still imports.
    clean = write_csv(tmp_path / "clean.csv", [caseload_row()])
    assert run(runner, clean).exit_code == 0
    # A day later the earlier runs no longer count.
    clock.advance(hours=24, seconds=1)
    assert "整体拒绝" not in run(runner, third, "--dry-run").output


def test_open_cases_in_the_operators_own_scope_do_not_count(
    app, runner, tmp_path, login, intake, monkeypatch
):
    """Padding a probe with one's own persons does not make a refusal an answer."""
    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 1)
    own = [intake(api=login("officer-dongcheng-1")) for _ in range(3)]
    rows = [row_of(p) for p in own]
    result = run(runner, write_csv(tmp_path / "f.csv", rows), "--dry-run", "--by",
                 "officer-dongcheng-1")  # fmt: skip
    assert "整体拒绝" not in result.output
    assert [line[0] for line in report_lines(result)] == ["2", "3", "4"]
    (row,) = runs(app)
    assert row.detail["open_case"] == 3 and row.detail["open_elsewhere"] == 0
    assert row.subject_ids is None


def _probe_of(row: dict) -> dict:
    """The case facts of ``row`` under another name, without an office (an officer's own)."""
    return {**{k: v for k, v in row.items() if k != "office_code"}, "name": "张三"}


def test_imported_before_is_said_only_of_a_record_the_user_may_see(app, runner, tmp_path,
                                                                  monkeypatch):  # fmt: skip
    """Hostile review (issue 16): "imported before, unchanged" confirmed another district's
    record to anyone holding its ID number and case dates, uncounted. Now it is said to whom
    sees the record in full; to anyone else the row is answered as an open case, counted and
    named in the run's audit row."""
    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 5)
    victim = caseload_row(office_code="32990301")  # 南湖区
    assert run(runner, write_csv(tmp_path / "city.csv", [victim])).exit_code == 0
    with app.app_context():
        person_id = db.session.scalar(select(Person.id))
        db.session.remove()
    probe = write_csv(tmp_path / "probe.csv", [_probe_of(victim)])
    result = run(runner, probe, "--dry-run", "--by", "officer-dongcheng-1")
    assert result.exit_code == 1, result.output
    assert report_lines(result) == [["2", *OPEN_CASE]]
    assert "已导入，未更改" not in result.output
    # The file itself again (its sha256 recognised): the same answer.
    same_file = run(runner, tmp_path / "city.csv", "--dry-run", "--by", "commander-dongcheng")
    assert report_lines(same_file) == [["2", *OPEN_CASE]]
    # Whom the record belongs to is told.
    own = {**victim, "name": "张三"}
    told = run(runner, write_csv(tmp_path / "own.csv", [own]), "--by", "commander-nanhu")
    assert told.exit_code == 0, told.output
    assert [line[2] for line in report_lines(told)] == ["已导入，未更改"]
    *_store, by_officer, by_commander, by_owner = runs(app)
    for row in (by_officer, by_commander):
        assert row.subject_ids == f",{person_id},"
        assert row.detail["open_elsewhere"] == 1 and row.detail["unchanged"] == 0
    assert by_owner.subject_ids is None and by_owner.detail["unchanged"] == 1


def test_a_sealed_record_is_confirmed_to_nobody(app, runner, tmp_path, monkeypatch):
    """Not even to the operator who imported it, nor with the case's other dates."""
    from sqlalchemy import update

    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 5)
    victim = caseload_row(office_code="32990301")
    first = write_csv(tmp_path / "city.csv", [victim])
    assert run(runner, first).exit_code == 0
    with app.app_context():
        db.session.execute(update(Person).values(status="discharged", juvenile=True, sealed=True))
        db.session.commit()
        person_id = db.session.scalar(select(Person.id))
        db.session.remove()
    for extra in ((), ("--by", "commander-nanhu"), ("--by", "city")):
        result = run(runner, write_csv(tmp_path / "again.csv", [_probe_of(victim) | {
            "office_code": "32990301"}]), "--dry-run", *extra)  # fmt: skip
        assert report_lines(result) == [["2", *OPEN_CASE]], (extra, result.output)
        again = run(runner, first, "--dry-run", *extra)  # the same file
        assert report_lines(again) == [["2", *OPEN_CASE]], extra
    for row in runs(app)[1:]:
        assert row.subject_ids == f",{person_id},"
        assert row.juvenile is True and row.detail["open_elsewhere"] == 1


def test_the_bound_counts_the_operators_runs_whichever_user_they_name(
    app, runner, tmp_path, elsewhere, monkeypatch
):
    """Hostile review (issue 16): naming another user with --by for each run split the
    bound into one per user. The operator at the shell (the audit's ``operator``) has a bound
    of their own: a run is refused when the user's or the operator's day is over it."""
    monkeypatch.setitem(app.config, "IMPORT_MAX_OPEN_MATCHES", 1)
    a, b, c = elsewhere(3)  # open at 32990102 (东城区)
    first = write_csv(tmp_path / "a.csv", [row_of(a, office_code="32990301")])
    assert "整体拒绝" not in run(runner, first, "--dry-run", "--by", "commander-nanhu").output
    second = write_csv(tmp_path / "b.csv", [row_of(b, office_code="32990201")])
    refused = run(runner, second, "--dry-run", "--by", "commander-xicheng")
    assert "整体拒绝" in refused.output and report_lines(refused) == []
    third = write_csv(tmp_path / "c.csv", [row_of(c)])
    assert "整体拒绝" in run(runner, third, "--dry-run", "--by", "officer-nanhu-1").output
    *_ok, by_xicheng, by_officer = runs(app)
    assert by_xicheng.detail["result"] == by_officer.detail["result"] == "refused_probing"


def test_a_second_import_run_by_the_same_operator_waits_for_the_first_to_commit(app, city):
    """The bound's count and the run's audit row are one step: two runs in parallel cannot
    both pass on the same count. A run holds its lock until it commits."""
    import threading

    from corrections.core.cli_identity import cli_actor
    from corrections.supervision import caseload

    operator = cli_actor().username
    second_locked = threading.Event()
    timeline: list[str] = []

    def second() -> None:
        with app.app_context():
            caseload.lock_runs(db.session, actor=cli_actor("someone-else"), operator=operator)
            db.session.execute(select(Person.id).limit(1))  # SQLite: the write lock
            timeline.append("second locked")
            second_locked.set()
            db.session.rollback()
            db.session.remove()

    with app.app_context():
        caseload.lock_runs(db.session, actor=cli_actor(), operator=operator)
        db.session.execute(select(Person.id).limit(1))
        thread = threading.Thread(target=second)
        thread.start()
        assert not second_locked.wait(0.5)  # still waiting
        timeline.append("first committed")
        db.session.commit()
        db.session.remove()
    thread.join(30)
    assert timeline == ["first committed", "second locked"]
