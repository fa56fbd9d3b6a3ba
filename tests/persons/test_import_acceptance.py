"""Acceptance (issue 16): a caseload file with twenty-odd kinds of bad rows gets a report that
names each row and column, in Chinese and English, and changes nothing at all."""

from __future__ import annotations

from datetime import date

from corrections.audit.models import AuditEntry
from corrections.grading.models import GradeDecision
from corrections.persons.models import CaseloadImport, Person, PersonStatusChange
from corrections.supervision.models import Obligation
from tests.conftest import count_rows
from tests.factories import id_number_for, person_payload
from tests.support.caseload import caseload_row, write_csv, write_xlsx

TABLES = (Person, GradeDecision, AuditEntry, PersonStatusChange, Obligation, CaseloadImport)


def _full_width(text: str) -> str:
    """Digits and X as an input method types them (NFKC reads them as ASCII, as the API)."""
    return text.translate({ord(c): ord(c) - 0x30 + 0xFF10 for c in "0123456789"} | {88: 0xFF38})


def _wrong_check_digit() -> str:
    good = id_number_for(date(1985, 2, 3))
    return good[:-1] + ("0" if good[-1] != "0" else "1")


# (the bad row, its column as the file's header reads, a piece of the Chinese problem)
BAD_ROWS = [
    ({"id_number": _wrong_check_digit(), "_birth": date(1985, 2, 3)}, "身份证号", "校验码"),
    ({"id_number": "32990119900517123"}, "身份证号", "应为17位数字加1位数字或X"),
    ({"office_code": "32999999"}, "司法所代码", "不是您权限内的司法所"),
    ({"category": "拘役"}, "矫正类别", "不是可选的值，应为：管制 / 缓刑 / 假释 / 暂予监外执行"),
    ({"term_start": "2026-11-01", "term_end": "2026-10-31"}, "矫正截止日期", "应晚于矫正起始日期"),
    ({"name": None}, "姓名", "必填"),
    ({"term_start": "2026/11/01"}, "矫正起始日期", "日期格式不正确"),
    ({"grade": "特级"}, "现管理等级", "不是已知的管理等级，应为：严格 / 从严 / 普通 / 从宽 / 宽松"),
    (
        # Juvenile rules: under the youngest age of criminal responsibility at the offence.
        {"_birth": date(2014, 6, 1), "offence_date": "2026-03-02"},
        "犯罪日期",
        "未满 12 周岁",
    ),
    ({"phone": "12345"}, "联系电话", "应为大陆手机号"),
    ({"family_contact_phone": "010-1234"}, "家属联系电话", "应为大陆手机号"),
    ({"date_of_birth": "1990-05-18"}, "出生日期", "与身份证号中的出生日期不一致"),
    ({"gender": "女"}, "性别", "与身份证号中的性别不一致"),
    ({"crime_type": "闯红灯"}, "罪名", "不是可选的值，应为：危险驾驶"),
    (
        # 刑法 69: a control order lasts at most 3 years.
        {"category": "管制", "term_start": "2026-11-01", "term_end": "2029-11-01"},
        "矫正截止日期",
        "管制的矫正期限应为 3–36 个月",
    ),
    ({"judgment_date": "2026-12-01", "term_start": "2026-12-02"}, "判决日期", "不能晚于今天"),
    ({"term_start": "2026-10-01"}, "矫正起始日期", "不能早于判决日期"),
    ({"offence_date": "2026-10-21"}, "犯罪日期", "不能晚于判决日期"),
    ({"has_guarantor": "也许"}, "有无保证人", "应为“是”或“否”"),
    ({"address": "长" * 201}, "居住地址", "不能超过 200 个字符"),
    ({"reported_on": "2026-12-01"}, "报到日期", "不能晚于今天"),
    (
        {"reported_on": "2026-11-10", "last_report_on": "2026-11-05"},
        "最近报到日期",
        "不能早于报到日期",
    ),
    ({"last_visit_on": "2026-11-20"}, "最近走访日期", "须同时填写报到日期"),
    ({"grade_since": "2026-11-05"}, "定级日期", "须同时填写现管理等级"),
    ({"employment": "宇航员"}, "就业情况", "不是可选的值，应为：就业 / 个体经营"),
]


# One row with a problem in five columns at once, of every kind of check: the schema (a date
# that is no date), the facts (the ID number's check digit), the office, and what the row
# carries over (a grade date without its grade, a contact in the future): every one is
# reported, not only the first.
MANY_PROBLEMS = (
    {
        "id_number": _wrong_check_digit(),
        "_birth": date(1985, 2, 3),
        "term_start": "2026/11/01",
        "office_code": "32999999",
        "grade_since": "2026-11-05",
        "reported_on": "2026-11-03",
        "last_check_on": "2026-12-25",
    },
    [
        ("身份证号", "校验码"),
        ("矫正起始日期", "日期格式不正确"),
        ("司法所代码", "不是您权限内的司法所"),
        ("定级日期", "须同时填写现管理等级"),
        ("最近核查日期", "不能晚于今天"),
    ],
)


def _file_rows(app, intake):
    """The acceptance file: good rows, the bad rows above, a person already open in the
    database, an ID number twice (the second time in full-width digits)."""
    existing = intake(api=None)  # registered through the API
    twice = person_payload(_birth=date(1979, 9, 9))["id_number"]
    good = [
        caseload_row(),
        caseload_row(
            id_number=_full_width(id_number_for(date(1991, 1, 1))), _birth=date(1991, 1, 1)
        ),
    ]
    rows = list(good)
    expected = []
    for overrides, column, zh in BAD_ROWS:
        rows.append(caseload_row(**overrides))
        expected.append((len(rows) + 1, column, zh))
    rows.append(
        caseload_row(
            id_number=existing["id_number"],
            date_of_birth=existing["date_of_birth"],
        )
    )
    expected.append((len(rows) + 1, "身份证号", "此身份证号已有在矫记录"))
    rows.append(caseload_row(id_number=twice, _birth=date(1979, 9, 9)))
    first = len(rows) + 1
    rows.append(caseload_row(id_number=_full_width(twice), _birth=date(1979, 9, 9)))
    expected.append((len(rows) + 1, "身份证号", f"与第 {first} 行的身份证号相同"))
    overrides, problems = MANY_PROBLEMS
    rows.append(caseload_row(**overrides))
    expected += [(len(rows) + 1, column, zh) for column, zh in problems]
    # The same ID number again, in a row with another problem: both are reported.
    rows.append(caseload_row(id_number=twice, _birth=date(1979, 9, 9), phone="12345"))
    expected += [
        (len(rows) + 1, "身份证号", f"与第 {first} 行的身份证号相同"),
        (len(rows) + 1, "联系电话", "应为大陆手机号"),
    ]
    return rows, expected


def _counts(app):
    """Rows of each table; the audit rows apart from the runs' own (every run is audited)."""
    from tests.persons.test_import import import_runs

    found = {model.__name__: count_rows(app, model) for model in TABLES}
    found["AuditEntry"] -= import_runs(app)
    return found


def _check(app, runner, path, expected):
    before = _counts(app)
    result = runner.invoke(args=["persons", "import", str(path), "--by", "city"])
    assert result.exit_code == 1, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line][1:]
    got = {(int(row), column): (zh, en) for row, column, zh, en in lines}
    for row, column, zh in expected:
        assert (row, column) in got, (row, column, zh, sorted(got))
        assert zh in got[(row, column)][0], (row, column, got[(row, column)])
        assert got[(row, column)][1]  # and the English
    # Nothing else is reported: the good rows (full-width digits included) are not.
    assert {row for row, _column in got} == {row for row, _c, _z in expected}
    # Every message has its Chinese (none falls back to the general heading).
    assert all(zh != "不符合要求" for zh, _en in got.values()), got
    bad_rows = {row for row, _column, _zh in expected}
    assert f"未导入：{len(bad_rows)} 行有问题" in result.stdout
    assert _counts(app) == before


def test_a_file_of_bad_rows_is_reported_row_by_row_and_changes_nothing(
    app, runner, intake, tmp_path
):
    rows, expected = _file_rows(app, intake)
    assert len(expected) >= 20
    _check(app, runner, write_csv(tmp_path / "bad.csv", rows), expected)


def test_the_same_rows_in_a_workbook_are_reported_alike(app, runner, intake, tmp_path):
    rows, expected = _file_rows(app, intake)
    _check(app, runner, write_xlsx(tmp_path / "bad.xlsx", rows), expected)


def test_a_missing_required_column_is_named_and_no_row_is_read(app, runner, tmp_path):
    rows = [caseload_row(), caseload_row(phone="1")]
    for row in rows:
        del row["category"]
    before = _counts(app)
    result = runner.invoke(
        args=["persons", "import", str(write_csv(tmp_path / "f.csv", rows)), "--by", "city"]
    )
    assert result.exit_code == 1
    assert "1\t矫正类别\t缺少必填列\trequired column missing" in result.stdout
    assert "联系电话" not in result.stdout  # the rows wait until the header is right
    assert _counts(app) == before
