"""Caseload import (名单导入) as a use case of supervision: a bureau's persons already under
correction, from a spreadsheet, each row taken in as an intake is (persons' schema and checks),
with what it carries over from the system it comes from: the current grade (a decision of kind
``imported`` naming the file's sha256), whether the person reported (active, not awaiting
report) and the last report, check and visit, from which the obligations engine plans what is
due next (so the first sweep flags only who is really overdue).

All or nothing by default: one bad row and nothing is stored; every problem is reported with
its row and column. A file imported before is recognised (its sha256 and row number), and so
is a person an earlier import created for the same case: those rows are left unchanged, so a
re-run changes nothing. One audit row per stored import (counts, the file's sha256, the
persons created); no personal data in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core import crypto
from corrections.core.auth import Actor, Role
from corrections.core.clock import business_date, now_utc, start_of_business_day
from corrections.core.errors import Conflict, RuleViolation
from corrections.core.sqlfuncs import insert_many
from corrections.grading import rules as grading_rules
from corrections.grading import service as grading
from corrections.grading.models import GradeDecision
from corrections.persons import importer
from corrections.persons import service as persons
from corrections.persons.importer import Problem, Table
from corrections.persons.models import (
    ID_NUMBER_INDEX,
    OPEN_STATUSES,
    CaseloadImport,
    CaseloadImportRow,
    Person,
    PersonStatusChange,
)
from corrections.persons.schemas import CARRIED_OVER, CaseloadRowSchema
from corrections.supervision import obligations

# Persons are written in batches of this many (one multi-row INSERT each).
BATCH = 500
# The last contact each chained obligation kind is planned from.
LAST_CONTACTS = {"report": "last_report_on", "check": "last_check_on", "visit": "last_visit_on"}
# The facts that make two records the same case (a person can have several cases in time).
SAME_CASE = ("category", "judgment_date", "term_start", "term_end")

T = TypeVar("T")


@dataclass
class Outcome:
    """What an import did, or would do (``stored`` False: refused, or a dry run)."""

    sha256: str
    format: str
    rows: int
    problems: list[Problem] = field(default_factory=list)
    created: int = 0
    active: int = 0  # of those created: reported, under supervision
    graded: int = 0  # of those created: the grade carried over from the file
    unchanged_rows: list[int] = field(default_factory=list)
    skipped: int = 0  # bad rows left out (skip_invalid)
    stored: bool = False
    import_id: int | None = None
    person_ids: list[int] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return len(self.unchanged_rows)

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


@dataclass
class _Row:
    number: int
    checked: persons.CheckedIntake
    carried: dict[str, Any]


def import_caseload(
    session: Session,
    *,
    actor: Actor,
    table: Table,
    now: datetime | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    operator: str | None = None,
) -> Outcome:
    """Check every row of ``table`` as an intake and, unless a row is bad (or ``dry_run``),
    store the new persons with their grades, statuses and first obligations; the caller
    commits (or rolls back a refused import: nothing was written then but a duplicate's
    refusal rows). ``skip_invalid``: store the good rows and report the bad. ``progress`` is
    called with the number of rows done, twice per row in all (checking, storing)."""
    now = now or now_utc()
    today = business_date(now)
    tick = progress or (lambda _n: None)
    outcome = Outcome(sha256=table.sha256, format=table.format, rows=len(table.rows))
    # A user whose intakes were refused too often today may not probe by the thousand either.
    persons.limit_refused_intakes(session, actor, now)
    required = importer.required_fields()
    if actor.role != Role.OFFICER:
        required.append("office_code")  # an officer's rows default to their own office
    columns, problems = importer.map_columns(table, required)
    if problems:
        outcome.problems = problems
        tick(2 * outcome.rows)
        return outcome

    imported_rows = dict(
        session.execute(
            select(CaseloadImportRow.row_number, CaseloadImportRow.person_id).where(
                CaseloadImportRow.file_sha256 == table.sha256
            )
        ).all()
    )
    checked: list[_Row] = []
    first_row_of: dict[str, int] = {}
    check = _RowCheck(
        session, actor, CaseloadRowSchema(), columns, persons.offices_by_code(session), today
    )
    for number, cells in table.rows:
        tick(1)
        if number in imported_rows:
            outcome.unchanged_rows.append(number)
            continue
        row, row_problems = check(number, cells)
        if row is not None:
            id_number = row.checked.facts["id_number"]
            if id_number in first_row_of:
                message = f"the same ID number as row {first_row_of[id_number]}"
                row_problems.append(
                    Problem(number, columns.header("id_number"), *importer.translate(message))
                )
            else:
                first_row_of[id_number] = number
        if row_problems:
            outcome.problems.extend(row_problems)
        elif row is not None:
            checked.append(row)

    fresh = _recognise(session, actor, columns, checked, outcome, now)
    outcome.problems.sort(key=lambda p: p.row)
    outcome.skipped = outcome.bad_rows if skip_invalid else 0
    outcome.created = len(fresh)
    outcome.active = sum(1 for r in fresh if r.carried["reported_on"] is not None)
    outcome.graded = sum(1 for r in fresh if r.carried["grade"] is not None)
    if (outcome.problems and not skip_invalid) or dry_run or not fresh:
        tick(outcome.rows)
        return outcome
    _store(session, actor, table, fresh, outcome, now, tick, operator)
    tick(outcome.rows - len(fresh))
    return outcome


@dataclass(frozen=True)
class _RowCheck:
    """One row through the intake's schema and checks, and the checks of what it carries
    over: (the checked row or None, its problems)."""

    session: Session
    actor: Actor
    schema: ma.Schema
    columns: importer.Columns
    offices: dict[str, Any]
    today: date

    def __call__(self, number: int, cells: tuple[Any, ...]) -> tuple[_Row | None, list[Problem]]:
        columns, today = self.columns, self.today
        try:
            data = self.schema.load(importer.row_data(columns, cells))
        except ma.ValidationError as exc:
            return None, importer.problems_of(number, exc.messages, columns)
        carried = {name: data.pop(name) for name in CARRIED_OVER}
        errors = _check_carried(carried, data, today)
        row = None
        try:
            intake = persons.check_intake(
                self.session, actor=self.actor, data=data, today=today, offices=self.offices
            )
            row = _Row(number, intake, carried)
        except RuleViolation as exc:
            for name, messages in (exc.errors or {"id_number": [exc.detail]}).items():
                errors.setdefault(name, []).extend(messages)
        if errors:
            return None, importer.problems_of(number, errors, columns)
        return row, []


def _check_carried(
    carried: dict[str, Any], facts: dict[str, Any], today: date
) -> dict[str, list[str]]:
    """What a row carries over must fit its case: a known grade; dates not in the future, the
    report within the case, the last contacts after the report."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    grade, since, reported = carried["grade"], carried["grade_since"], carried["reported_on"]
    if grade is not None and grade not in grading_rules.current().grade_ids():
        bad("grade", "not a known grade")
    if since is not None:
        if grade is None:
            bad("grade_since", "needs the grade")
        if since > today:
            bad("grade_since", "must not be in the future")
        elif since < facts["judgment_date"]:
            bad("grade_since", "must not be before judgment_date")
    if reported is not None:
        if reported > today:
            bad("reported_on", "must not be in the future")
        elif reported < facts["judgment_date"]:
            bad("reported_on", "must not be before judgment_date")
        elif reported > facts["term_end"]:
            bad("reported_on", "must not be after term_end")
    for name in LAST_CONTACTS.values():
        day = carried[name]
        if day is None:
            continue
        if reported is None:
            bad(name, "needs reported_on (a person awaiting intake has no last contact)")
        elif day < reported:
            bad(name, "must not be before reported_on")
        if day > today:
            bad(name, "must not be in the future")
    return errors


def _recognise(
    session: Session,
    actor: Actor,
    columns: importer.Columns,
    rows: list[_Row],
    outcome: Outcome,
    now: datetime,
) -> list[_Row]:
    """The one-open-record rule for the checked rows, looked up in batches: a person an
    earlier import created for the same case is this row, unchanged; any other open record
    with the ID number refuses the row as the intake does (audited, told only as far as the
    actor may see that record). Returns the rows to create."""
    by_index: dict[str, _Row] = {}
    for row in rows:
        for index in crypto.blind_indexes(row.checked.facts["id_number"], ID_NUMBER_INDEX):
            by_index[index] = row
    matches: dict[int, list[Any]] = {}
    for chunk in _chunks(list(by_index), BATCH):
        for match in session.execute(
            select(
                Person.id_number_bidx,
                Person.status,
                *(getattr(Person, name) for name in SAME_CASE),
                CaseloadImportRow.import_id,
            )
            .outerjoin(CaseloadImportRow, CaseloadImportRow.person_id == Person.id)
            .where(Person.id_number_bidx.in_(chunk))
        ):
            matches.setdefault(by_index[match.id_number_bidx].number, []).append(match)
    fresh = []
    for row in rows:
        found = matches.get(row.number, [])
        case = tuple(row.checked.facts[name] for name in SAME_CASE)
        if any(
            m.import_id is not None and tuple(getattr(m, name) for name in SAME_CASE) == case
            for m in found
        ):
            outcome.unchanged_rows.append(row.number)
            continue
        if any(m.status in OPEN_STATUSES for m in found):
            try:
                persons.ensure_no_open_record(
                    session,
                    actor,
                    row.checked.facts["id_number"],
                    action="person.intake_refused",
                    now=now,
                )
            except Conflict as exc:
                errors = exc.errors or {"id_number": [exc.detail]}
                outcome.problems.extend(importer.problems_of(row.number, errors, columns))
                continue
        fresh.append(row)
    outcome.unchanged_rows.sort()
    return fresh


def _store(
    session: Session,
    actor: Actor,
    table: Table,
    rows: list[_Row],
    outcome: Outcome,
    now: datetime,
    tick: Callable[[int], None],
    operator: str | None = None,
) -> None:
    """Write the new persons in batches, then their grade decisions, status histories, first
    obligations and import rows in bulk, and the import's one audit row."""
    today = business_date(now)
    record = CaseloadImport(
        file_sha256=table.sha256,
        file_format=table.format,
        rows=outcome.rows,
        created=len(rows),
        unchanged=outcome.unchanged,
        skipped=outcome.skipped,
        actor_id=actor.user_id,
        actor_username=actor.username,
        imported_at=now,
    )
    session.add(record)
    session.flush()
    created: list[tuple[_Row, Person, dict[str, Any]]] = []
    for batch in _chunks(rows, BATCH):
        for row in batch:
            person = persons.new_person(session, row.checked, now)
            since = row.carried["grade_since"]
            decision = grading.first_grade_of_import(
                person,
                grade=row.carried["grade"],
                since=start_of_business_day(since) if since else None,
                now=now,
            )
            decision["inputs"]["source_row"] = row.number
            if row.carried["reported_on"] is not None:
                person.status = "active"
            created.append((row, person, decision))
        session.flush()
        tick(len(batch))

    decisions = grading.first_grade_rows(
        session,
        actor=actor,
        decisions=[(person.id, decision) for _row, person, decision in created],
        source={"source_sha256": table.sha256, "import_id": record.id},
        now=now,
    )
    changes, planned, links = [], [], []
    for row, person, _decision in created:
        changes.append(
            _status_row(person.id, None, "pending_intake", "名单导入 (caseload import)", actor, now)
        )
        links.append(
            {
                "import_id": record.id,
                "file_sha256": table.sha256,
                "row_number": row.number,
                "person_id": person.id,
            }
        )
        reported = row.carried["reported_on"]
        if reported is None:
            continue
        changes.append(
            _status_row(
                person.id,
                "pending_intake",
                "active",
                f"名单导入：已于 {reported.isoformat()} 报到 (caseload import: reported for "
                f"intake on {reported.isoformat()})",
                actor,
                now,
            )
        )
        last = {
            kind: row.carried[name] for kind, name in LAST_CONTACTS.items() if row.carried[name]
        }
        planned += obligations.initial_rows(person, today, now, last=last)
    for model, values in (
        (GradeDecision, decisions),
        (PersonStatusChange, changes),
        (obligations.Obligation, planned),
        (CaseloadImportRow, links),
    ):
        insert_many(session, model.__table__, values)
    ids = [person.id for _row, person, _decision in created]
    audit.record(
        session,
        actor=actor,
        action="persons.import",
        subject_type="person",
        subject_id=ids[0] if len(ids) == 1 else None,
        person_ids=ids if len(ids) > 1 else None,
        juvenile=any(person.juvenile for _row, person, _decision in created),
        detail={
            "import_id": record.id,
            "sha256": table.sha256,
            "format": table.format,
            "rows": outcome.rows,
            "created": len(ids),
            "active": outcome.active,
            "graded": outcome.graded,
            "unchanged": outcome.unchanged,
            "skipped": outcome.skipped,
            # Who ran it at the shell when it acts for a user (--by): the user's scope
            # decided the offices; the trail still says who typed the command.
            **({"operator": operator} if operator else {}),
        },
        now=now,
    )
    outcome.stored, outcome.import_id, outcome.person_ids = True, record.id, ids


def _status_row(
    person_id: int,
    from_status: str | None,
    to_status: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "actor_id": actor.user_id,
        "actor_username": actor.username,
        "changed_at": now,
    }


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_of(outcome: Outcome) -> Iterable[tuple[int, str, str, str]]:
    """The report's lines: (row, column, Chinese, English), the unchanged rows among them."""
    lines = [(p.row, p.column, p.zh, p.en) for p in outcome.problems]
    lines += [
        (n, "", "已导入，未更改", "imported before, unchanged") for n in outcome.unchanged_rows
    ]
    return sorted(lines, key=lambda line: line[0])
