"""Caseload import (corrections persons import): the template, a good file in both formats and
with either language's headers, what it carries over (grade, activation, last contacts), the
audit, re-runs that change nothing, dry runs, scope and the progress bar."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.grading.models import GradeDecision
from corrections.persons import importer
from corrections.persons.models import (
    CaseloadImport,
    CaseloadImportRow,
    Person,
    PersonStatusChange,
)
from corrections.supervision.models import Obligation
from tests.conftest import count_rows
from tests.factories import person_payload
from tests.support.caseload import EN, caseload_row, write_csv, write_xlsx

TABLES = (Person, GradeDecision, AuditEntry, PersonStatusChange, Obligation, CaseloadImport)


def counts(app) -> dict[str, int]:
    """Rows of each table; the audit rows apart from the runs' own (every run is audited)."""
    found = {model.__name__: count_rows(app, model) for model in TABLES}
    found["AuditEntry"] -= import_runs(app)
    return found


def import_runs(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).where(AuditEntry.action == "persons.import_run"))
        db.session.remove()
    return n


def run(runner, path, *extra):
    return runner.invoke(args=["persons", "import", str(path), *extra])


def report_lines(result) -> list[list[str]]:
    """The report's rows (行, 列, 问题, problem) from standard output."""
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    return [line for line in lines if line[0] != "行"]


# The report's line for a row without 现管理等级 imported on the test's day (2026-11-27): the
# intake rule's grade (rules/grading.yaml intake_first_two_months_tight) from the import.
INTAKE_TIGHT_TODAY = (
    "文件未填现管理等级：按入矫定级规则（入矫前两个月一般列为从严）定为从严，自 2026-11-27 起"
)


def _carried(**overrides):
    """An active person carried over with grade 普通 since Nov 5 and recent last contacts."""
    carried = {
        "grade": "普通",
        "grade_since": "2026-11-05",
        "reported_on": "2026-11-03",
        "last_report_on": "2026-11-20",
        "last_check_on": "2026-11-25",
        "last_visit_on": "2026-11-10",
    }
    return caseload_row(**{**carried, **overrides})


def test_template_csv_has_every_column_under_its_chinese_header(runner):
    result = runner.invoke(args=["persons", "import", "--template"])
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    assert raw.startswith("\ufeff".encode())  # Excel opens UTF-8 Chinese headers with a BOM
    header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[:3] == ["姓名", "性别", "身份证号"]
    assert {"现管理等级", "报到日期", "最近报到日期", "最近核查日期", "最近走访日期"} <= set(header)
    assert len(header) == len(importer.spec().columns)


def test_template_xlsx_explains_each_column_and_keeps_id_numbers_as_text(runner, tmp_path):
    import openpyxl

    result = runner.invoke(args=["persons", "import", "--template", "--xlsx"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "template.xlsx"
    path.write_bytes(result.stdout_bytes)
    book = openpyxl.load_workbook(path)
    sheet, help_sheet = book[importer.SHEET], book[importer.HELP_SHEET]
    headers = [c.value for c in sheet[1]]
    assert headers == importer.template_headers()
    id_column = headers.index("身份证号") + 1
    assert sheet.cell(row=2, column=id_column).number_format == "@"
    explained = {row[0].value: row for row in help_sheet.iter_rows(min_row=2)}
    assert explained["矫正类别"][2].value == "是"  # required
    assert "暂予监外执行" in explained["矫正类别"][4].value
    assert "从严" in explained["现管理等级"][4].value  # values from rules/grading.yaml
    # The empty template imports as an empty file: no rows, nothing stored.
    assert run(runner, path).exit_code != 0


def test_import_creates_persons_and_carries_over_grade_activation_and_contacts(
    app, runner, tmp_path
):
    before = counts(app)
    rows = [caseload_row(), _carried(), caseload_row(reported_on="2026-11-20")]
    result = run(runner, write_csv(tmp_path / "名单.csv", rows))
    assert result.exit_code == 0, result.output
    assert "已导入 3 人（其中在矫 2，沿用等级 1）" in result.stdout
    after = counts(app)
    assert after["Person"] == before["Person"] + 3
    assert after["GradeDecision"] == before["GradeDecision"] + 3
    assert after["CaseloadImport"] == before["CaseloadImport"] + 1
    assert after["AuditEntry"] == before["AuditEntry"] + 1  # one row for the import
    with app.app_context():
        people = db.session.scalars(select(Person).order_by(Person.id)).all()
        pending, carried, reported = people
        assert pending.status == "pending_intake"
        assert carried.status == reported.status == "active"
        assert carried.office.code == "32990101"
        # The file's grade, as a decision of kind imported naming the file.
        assert carried.grade == "ordinary"
        decision = db.session.scalar(
            select(GradeDecision).where(GradeDecision.person_id == carried.id)
        )
        assert decision.kind == "imported"
        assert decision.status == "effective"
        assert decision.inputs["source_sha256"] == importer.read(tmp_path / "名单.csv").sha256
        assert decision.inputs["source_row"] == 3
        assert decision.reasons[0]["rule_id"] == "imported"
        assert decision.effective_at.date() == date(2026, 11, 4)  # 00:00 Nov 5 in Shanghai
        # Without a grade in the file: the intake rule's grade, as the API gives it.
        first = db.session.scalar(
            select(GradeDecision).where(GradeDecision.person_id == pending.id)
        )
        assert first.kind == "intake"
        assert pending.grade == first.to_grade
        # Obligations planned from the last contacts (ordinary: report 30, check 7, visit 60).
        due = dict(
            db.session.execute(
                select(Obligation.kind, Obligation.due_on).where(
                    Obligation.person_id == carried.id, Obligation.status == "open"
                )
            ).all()
        )
        assert due["report"] == date(2026, 12, 20)
        assert due["check"] == date(2026, 12, 2)
        assert due["visit"] == date(2027, 1, 9)
        # Nothing was planned for the person awaiting report.
        assert not db.session.scalar(select(func.count()).where(Obligation.person_id == pending.id))
        history = db.session.scalars(
            select(PersonStatusChange.to_status)
            .where(PersonStatusChange.person_id == carried.id)
            .order_by(PersonStatusChange.id)
        ).all()
        assert history == ["pending_intake", "active"]
        db.session.remove()


def test_the_import_is_audited_in_one_row_without_personal_data(app, runner, tmp_path):
    rows = [caseload_row(), caseload_row()]
    path = write_csv(tmp_path / "f.csv", rows)
    assert run(runner, path, "--by", "commander-dongcheng").exit_code == 0
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "persons.import"))
        ids = db.session.scalars(select(Person.id).order_by(Person.id)).all()
        text = str(entry.detail)
        for row in rows:
            for value in (row["name"], row["id_number"], row["phone"], row["address"]):
                assert value not in text
        assert entry.actor_username == "commander-dongcheng"
        assert entry.subject_ids == "," + ",".join(map(str, ids)) + ","
        assert entry.detail["sha256"] == importer.read(path).sha256
        assert entry.detail["created"] == 2 and entry.detail["rows"] == 2
        imports = db.session.scalars(select(CaseloadImport)).all()
        assert [i.actor_username for i in imports] == ["commander-dongcheng"]
        db.session.remove()


def test_the_same_file_again_changes_nothing_and_reports_each_row_unchanged(app, runner, tmp_path):
    path = write_csv(tmp_path / "f.csv", [caseload_row(), _carried()])
    assert run(runner, path).exit_code == 0
    before = counts(app)
    again = run(runner, path)
    assert again.exit_code == 0, again.output
    assert counts(app) == before
    assert [line[0] for line in report_lines(again)] == ["2", "3"]
    assert all(line[2] == "已导入，未更改" for line in report_lines(again))
    assert "没有新的人员：2 行已导入过" in again.stdout


def test_an_edited_file_recognises_the_persons_imported_and_adds_only_the_new(
    app, runner, tmp_path
):
    first, second = caseload_row(), _carried()
    assert run(runner, write_csv(tmp_path / "v1.csv", [first, second])).exit_code == 0
    before = counts(app)
    newcomer = caseload_row()
    # Another file (another sha256): rows in another order, one added.
    edited = write_csv(tmp_path / "v2.csv", [newcomer, second, first])
    result = run(runner, edited)
    assert result.exit_code == 0, result.output
    after = counts(app)
    assert after["Person"] == before["Person"] + 1
    lines = report_lines(result)
    assert {line[0] for line in lines} == {"2", "3", "4"}
    # The new row carries no grade: the report says which one the intake rule gave it.
    assert [line[1:3] for line in lines if line[0] == "2"] == [["现管理等级", INTAKE_TIGHT_TODAY]]
    with app.app_context():
        rows = db.session.execute(
            select(CaseloadImportRow.row_number, CaseloadImportRow.file_sha256)
        ).all()
        assert sorted(n for n, sha in rows if sha == importer.read(edited).sha256) == [2]
        db.session.remove()


def test_english_headers_and_an_xlsx_file_with_native_dates(app, runner, tmp_path):
    before = count_rows(app, Person)
    rows = [_carried(category="缓刑", gender="男"), caseload_row(has_guarantor=True)]
    path = write_xlsx(tmp_path / "caseload.xlsx", rows, headers=EN)
    result = run(runner, path)
    assert result.exit_code == 0, result.output
    assert count_rows(app, Person) == before + 2
    with app.app_context():
        people = db.session.scalars(select(Person).order_by(Person.id)).all()
        assert people[0].term_start == date(2026, 11, 1)
        assert people[0].category == "suspended_sentence"
        assert people[1].has_guarantor is True
        db.session.remove()


def test_a_title_row_above_the_header_and_a_gbk_file_are_read(app, runner, tmp_path):
    path = write_csv(
        tmp_path / "gbk.csv",
        [caseload_row()],
        encoding="gb18030",
        above=[["东城区社区矫正对象名单（2026年11月）"]],
    )
    result = run(runner, path)
    assert result.exit_code == 0, result.output
    assert count_rows(app, Person) == 1


def test_dry_run_checks_every_row_and_stores_nothing(app, runner, tmp_path):
    before = counts(app)
    path = write_csv(tmp_path / "f.csv", [caseload_row(), _carried()])
    result = run(runner, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "试运行：将导入 2 人" in result.stdout
    assert counts(app) == before
    # A dry run with a bad row says so, and exits non-zero.
    bad = write_csv(tmp_path / "bad.csv", [caseload_row(), caseload_row(phone="12345")])
    result = run(runner, bad, "--dry-run")
    assert result.exit_code == 1
    assert [line[:3] for line in report_lines(result)] == [
        ["2", "现管理等级", INTAKE_TIGHT_TODAY],  # what the good row would get
        ["3", "联系电话", "应为大陆手机号（11位）或固定电话（区号-号码）"],
    ]
    assert counts(app) == before


def test_skip_invalid_stores_the_good_rows_and_a_fixed_file_adds_the_rest(app, runner, tmp_path):
    good, bad = caseload_row(), caseload_row(term_end="2026-10-01")
    path = write_csv(tmp_path / "f.csv", [good, bad])
    result = run(runner, path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "跳过有问题的 1 行" in result.stdout
    assert count_rows(app, Person) == 1
    fixed = write_csv(tmp_path / "fixed.csv", [good, {**bad, "term_end": "2028-10-31"}])
    result = run(runner, fixed)
    assert result.exit_code == 0, result.output
    assert count_rows(app, Person) == 2
    # The first unchanged; the fixed one stored, with the intake rule's grade.
    assert [line[:3] for line in report_lines(result)] == [
        ["2", "—", "已导入，未更改"],
        ["3", "现管理等级", INTAKE_TIGHT_TODAY],
    ]


def test_a_skip_invalid_rerun_with_only_bad_rows_left_says_so_and_succeeds(app, runner, tmp_path):
    """New-operator review: the second --skip-invalid run of a file (its good rows imported
    by the first) ended "未导入：1 行有问题，未保存任何数据" with exit status 1."""
    good, bad = caseload_row(), caseload_row(term_end="2026-10-01")
    path = write_csv(tmp_path / "f.csv", [good, bad])
    assert run(runner, path, "--skip-invalid").exit_code == 0
    before = counts(app)
    again = run(runner, path, "--skip-invalid")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == (
        "没有新的人员：1 行已导入过，未更改；跳过有问题的 1 行"
    )
    assert counts(app) == before
    dry = run(runner, path, "--skip-invalid", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "跳过有问题的 1 行" in dry.stdout.splitlines()[-1]
    # Without --skip-invalid the bad row still refuses the file.
    assert run(runner, path).exit_code == 1
    # A file with no good row at all is refused, --skip-invalid or not.
    only_bad = run(runner, write_csv(tmp_path / "bad.csv", [bad]), "--skip-invalid")
    assert only_bad.exit_code == 1
    assert only_bad.stdout.splitlines()[-1] == "未导入：全部 1 行都有问题，未保存任何数据"


def test_an_officer_imports_into_their_own_office_only(app, runner, tmp_path):
    before = counts(app)
    own = caseload_row()
    del own["office_code"]  # an officer's rows default to their office
    other = caseload_row(office_code="32990102")
    result = run(runner, write_csv(tmp_path / "f.csv", [own, other]), "--by", "officer-dongcheng-1")
    assert result.exit_code == 1
    assert report_lines(result)[0][:3] == [
        "3",
        "司法所代码",
        "不是您权限内的司法所（代码不存在，或不归您管辖）",
    ]
    assert counts(app) == before
    result = run(runner, write_csv(tmp_path / "g.csv", [own]), "--by", "officer-dongcheng-1")
    assert result.exit_code == 0, result.output
    with app.app_context():
        person = db.session.scalar(select(Person))
        assert person.office.code == "32990101"
        db.session.remove()


def test_a_person_open_at_another_office_is_refused_without_saying_where(
    app, runner, login, intake, tmp_path
):
    other = intake(api=login("officer-dongcheng-2"))  # open at 32990102
    row = caseload_row(id_number=other["id_number"], date_of_birth=other["date_of_birth"])
    del row["office_code"]
    before = counts(app)
    result = run(runner, write_csv(tmp_path / "f.csv", [row]), "--by", "officer-dongcheng-1")
    assert result.exit_code == 1
    # That a case is open, as anyone is told (tests/persons/test_import_probing.py): no more.
    assert report_lines(result) == [
        ["2", "身份证号", "此身份证号已有在矫记录", "already under correction"]
    ]
    assert counts(app) == before


@pytest.mark.parametrize("username", ["analyst", "auditor", "nobody"])
def test_only_staff_and_admins_may_import(runner, tmp_path, username):
    result = run(runner, write_csv(tmp_path / "f.csv", [caseload_row()]), "--by", username)
    assert result.exit_code != 0
    assert "不是可导入名单的在用账号" in result.output


def test_admin_and_cli_operator_import_anywhere_named_in_the_audit(app, runner, tmp_path):
    path = write_csv(tmp_path / "f.csv", [caseload_row(office_code="32990501")])
    assert run(runner, path, "--by", "admin").exit_code == 0
    path = write_csv(tmp_path / "g.csv", [caseload_row(office_code="32990201")])
    assert run(runner, path).exit_code == 0
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.actor_username, AuditEntry.detail)
            .where(AuditEntry.action == "persons.import")
            .order_by(AuditEntry.id)
        ).all()
        db.session.remove()
    assert rows[0][0] == "admin"
    # Acting for a user (--by), the trail still names who ran the command (hostile review).
    assert rows[0][1]["operator"].startswith("cli:")
    assert rows[1][0].startswith("cli:") and "operator" not in rows[1][1]


def test_the_first_sweep_flags_only_who_is_really_overdue(app, runner, run_job, tmp_path):
    on_time, overdue, unknown = (
        _carried(),
        _carried(last_report_on="2026-11-03", last_check_on="2026-11-03"),
        caseload_row(grade="普通", reported_on="2026-11-03"),
    )
    result = run(runner, write_csv(tmp_path / "f.csv", [on_time, overdue, unknown]))
    assert result.exit_code == 0, result.output
    run_job("sweep_obligations")
    with app.app_context():
        missed = db.session.execute(
            select(Person.id, Obligation.kind)
            .join(Obligation, Obligation.person_id == Person.id)
            .where(Obligation.status == "missed")
        ).all()
        ids = db.session.scalars(select(Person.id).order_by(Person.id)).all()
        db.session.remove()
    # Ordinary: a report every 30 days, a check every 7 (due Dec 3 and Nov 10).
    assert {(pid, kind) for pid, kind in missed} == {(ids[1], "check")}


def test_progress_goes_to_standard_error(runner, tmp_path):
    result = run(runner, write_csv(tmp_path / "f.csv", [caseload_row()]))
    assert result.exit_code == 0
    assert "正在导入" in result.stderr  # importing
    assert "正在导入" not in result.stdout


def test_a_dry_run_says_checking_not_importing(runner, tmp_path):
    result = run(runner, write_csv(tmp_path / "f.csv", [caseload_row()]), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "正在检查" in result.stderr  # checking
    assert "正在导入" not in result.stderr


def test_a_report_file_that_cannot_be_written_stops_the_import_before_it_stores(
    app, runner, tmp_path
):
    """New-operator review: the rows were stored, then the report's open failed with a
    PermissionError traceback. Now: one line, exit 2, nothing stored, not even the run's
    audit row."""
    before, runs = counts(app), import_runs(app)
    path = write_csv(tmp_path / "f.csv", [caseload_row()])
    report = tmp_path / "no-such-folder" / "report.csv"
    result = run(runner, path, "--report", str(report))
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()[-1:]
    assert line.startswith(f"错误：无法写入报告文件 {report}：文件夹不存在；未导入任何数据")
    assert "Traceback" not in result.output
    assert counts(app) == before and import_runs(app) == runs


def test_a_report_replaces_an_older_longer_one_whole(runner, tmp_path):
    report = tmp_path / "report.csv"
    report.write_text("an older report\n" * 100, encoding="utf-8")
    path = write_csv(tmp_path / "f.csv", [caseload_row()])
    assert run(runner, path, "--report", str(report)).exit_code == 0
    with report.open(encoding="utf-8-sig") as lines_in:
        lines = list(csv.reader(lines_in))
    assert lines[0] == ["行", "列", "问题", "problem"]
    assert [line[:2] for line in lines[1:]] == [["2", "现管理等级"]]  # the intake grade note


def test_a_report_file_lists_the_problems(runner, tmp_path):
    path = write_csv(tmp_path / "f.csv", [caseload_row(gender="female")])
    report = tmp_path / "report.csv"
    result = run(runner, path, "--report", str(report))
    assert result.exit_code == 1
    with report.open(encoding="utf-8-sig") as lines_in:
        lines = list(csv.reader(lines_in))
    assert lines[0] == ["行", "列", "问题", "problem"]
    assert lines[1] == [
        "2",
        "性别",
        "与身份证号中的性别不一致",
        "does not match the gender encoded in the ID number",
    ]


def test_the_header_row_is_checked_before_any_row(app, runner, tmp_path):
    row = caseload_row()
    fields = [f for f in row if f != "term_end"]
    headers = {**EN, "name": "姓名"}
    path = tmp_path / "f.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([headers[f] for f in fields] + ["备注", "姓名"])
        writer.writerow([row[f] for f in fields] + ["x", "y"])
    result = run(runner, path)
    assert result.exit_code == 1
    assert report_lines(result) == [
        ["1", "备注", "无法识别的列名（见模板的列名）", "unknown column"],
        ["1", "姓名", "与第 1 列是同一列", "the same column as column 1"],
        ["1", "矫正截止日期", "缺少必填列", "required column missing"],
    ]
    assert count_rows(app, Person) == 0


def test_the_api_intake_reports_office_and_facts_together(officer):
    """The intake's checks, shared with the import, name every bad field at once."""
    resp = officer.post(
        "/api/v1/persons",
        json=person_payload(office_code="32990201", term_end="2026-10-01"),
    )
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"office_code", "term_end"}


def test_five_hundred_rows_in_a_few_seconds(app, runner, tmp_path):
    """A smaller cousin of bench/import_caseload.py, so a slow path shows in the suite."""
    import time

    births = [date(1960, 1, 1) + timedelta(days=13 * i) for i in range(500)]
    rows = [caseload_row(_birth=b, reported_on="2026-11-03") for b in births]
    path = write_csv(tmp_path / "big.csv", rows)
    started = time.perf_counter()
    result = run(runner, path)
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert count_rows(app, Person) == 500
    assert took < 30


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("list.xls", b"\xd0\xcf\x11\xe0", "只能导入 .csv 或 .xlsx 文件"),
        ("list.xlsx", b"PK\x03\x04 not really a workbook", "不是可读取的 .xlsx 文件"),
        ("list.csv", "姓名,性别\n".encode(), "文件中没有数据行"),
        ("list.csv", b"", "文件中没有数据行"),
    ],
)
def test_an_unreadable_file_is_refused_naming_why(app, runner, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = run(runner, path)
    assert result.exit_code == 1
    assert message in result.output
    assert count_rows(app, CaseloadImport) == 0


def test_insert_many_refuses_rows_that_leave_out_a_python_default(app, city):
    from corrections.core.sqlfuncs import insert_many

    with app.app_context():
        with pytest.raises(ValueError, match="juvenile"):
            insert_many(db.session, Person.__table__, [{"name": "x"}])
        db.session.remove()


def test_a_workbook_declaring_a_huge_sheet_is_read_within_bounds(tmp_path, runner):
    """Hostile review: one cell at XFD1048576 in a 4.9 KB workbook made openpyxl pad every
    row to 16,384 columns and a million rows (2.9 GB) before the row limit was checked."""
    import resource

    import openpyxl

    from corrections.persons import importer

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([c.header_zh for c in importer.spec().columns])
    sheet["XFD1048576"] = "x"
    path = tmp_path / "bomb.xlsx"
    book.save(path)
    assert path.stat().st_size < 20_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = runner.invoke(args=["persons", "import", str(path), "--dry-run"])
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.exit_code != 0
    assert grown_mib < 300, grown_mib


def test_a_report_file_quotes_what_excel_would_run_as_a_formula(runner, tmp_path):
    """Hostile review: a header cell "=1+1" went into the report as it was, and the report
    is meant to be opened in Excel (CSV injection)."""
    row = caseload_row()
    fields = list(row)
    path = tmp_path / "f.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([EN[f] for f in fields] + ['=HYPERLINK("http://x")'])
        writer.writerow([row[f] for f in fields] + ["x"])
    report = tmp_path / "report.csv"
    result = run(runner, path, "--report", str(report))
    assert result.exit_code == 1
    with report.open(encoding="utf-8-sig") as lines_in:
        cells = [cell for line in csv.reader(lines_in) for cell in line]
    assert '\'=HYPERLINK("http://x")' in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


# --- a row without a grade (实施办法 21; rules/grading.yaml intake) ------------------------


def test_a_person_who_reported_past_the_intake_period_needs_the_grade_column(app, runner, tmp_path):
    """The intake rule grades the first 2 months after reporting; someone supervised for
    longer is refused without 现管理等级, not put into 严管 from the import day."""
    before = counts(app)
    long_ago = caseload_row(
        judgment_date="2026-09-01",
        judgment_effective_date="2026-09-12",
        term_start="2026-09-15",
        term_end="2028-09-14",
        reported_on="2026-09-27",  # 2 months before 2026-11-27, to the day
    )
    result = run(runner, write_csv(tmp_path / "f.csv", [long_ago]))
    assert result.exit_code == 1
    assert [line[:3] for line in report_lines(result)] == [
        [
            "2",
            "现管理等级",
            "必填：此人报到已超过 2 个月，入矫定级规则只适用于入矫后的前 2 个月，"
            "请填写原系统的现管理等级",
        ]
    ]
    assert counts(app) == before
    # With the grade the source system had, the same row imports.
    graded = run(runner, write_csv(tmp_path / "g.csv", [{**long_ago, "grade": "普通"}]))
    assert graded.exit_code == 0, graded.output


def test_a_person_within_the_intake_period_gets_the_intake_grade_from_their_report_day(
    app, runner, tmp_path
):
    recent = caseload_row(reported_on="2026-10-20", intake_risk="高")
    result = run(runner, write_csv(tmp_path / "f.csv", [recent]))
    assert result.exit_code == 0, result.output
    # Exactly the intake rule (high intake risk: 严格), and the report says which and why.
    assert [line[:3] for line in report_lines(result)] == [
        [
            "2",
            "现管理等级",
            "文件未填现管理等级：按入矫定级规则（入矫评估风险高的，列为严格）定为严格，"
            "自 2026-10-20 起",
        ]
    ]
    with app.app_context():
        person = db.session.scalar(select(Person))
        decision = db.session.scalar(select(GradeDecision))
        assert person.grade == decision.to_grade == "strict"
        assert decision.kind == "intake"
        assert decision.reasons[0]["rule_id"] == "intake_high_risk_strict"
        # The intake period and the time in grade count from the day they reported
        # (00:00 on Oct 20 in Shanghai), not from the import.
        assert decision.effective_at == datetime(2026, 10, 19, 16, 0, tzinfo=UTC)
        assert person.grade_since == decision.effective_at
        db.session.remove()
