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

The import must not be a way to learn who is under correction elsewhere (hostile review): a
row whose ID number has an open case is refused saying only that (no office, district or
anything the row did not hold), whoever runs it; every run, a dry run too, is audited
(``persons.import_run``: operator, sha256, rows, how many matched existing records, naming
the matched persons outside the operator's scope); and a run that matches more open cases
outside the operator's scope than ``IMPORT_MAX_OPEN_MATCHES`` (distinct persons, with the
last 24 hours' runs of the same user or of the same operator at the shell, counted and audited
under one lock: :func:`lock_runs`) is refused as a whole, reporting no row. "Imported before,
unchanged" is said only of a record the user may see in full and that is not sealed; any other
record of the same case is answered as an open case is (and counted), so the ID number and a
case's dates confirm nothing about another office's, a juvenile's or a sealed record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import marshmallow as ma
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core import crypto
from corrections.core.auth import Actor, Role
from corrections.core.clock import business_date, now_utc, start_of_business_day
from corrections.core.errors import RuleViolation
from corrections.core.i18n import _, bilingual
from corrections.core.sqlfuncs import insert_many, lock_name
from corrections.grading import rules as grading_rules
from corrections.grading import service as grading
from corrections.grading.models import GradeDecision
from corrections.persons import idnumber, importer
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
from corrections.persons.privacy import PersonRef, Visibility, policy
from corrections.persons.schemas import CARRIED_OVER, CaseloadRowSchema
from corrections.persons.sealing import sealed_for
from corrections.supervision import obligations

# Persons are written in batches of this many (one multi-row INSERT each).
BATCH = 500
# The last contact each chained obligation kind is planned from.
LAST_CONTACTS = {"report": "last_report_on", "check": "last_check_on", "visit": "last_visit_on"}
# The facts that make two records the same case (a person can have several cases in time).
SAME_CASE = ("category", "judgment_date", "term_start", "term_end")
# What a row whose ID number has an open case is told, whoever runs the import and wherever
# the case is: that much only (no office, district, status or date).
OPEN_CASE = _("already under correction")
# The audit action of every run, and what it was.
RUN_ACTION = "persons.import_run"

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
    # Rows refused because their ID number has an open case, and of those cases the ones
    # outside the operator's scope (id -> juvenile), which the probing bound counts.
    open_rows: list[int] = field(default_factory=list)
    open_elsewhere: dict[int, bool] = field(default_factory=dict)
    # Refused as a whole: the run matched more open cases elsewhere than the bound allows.
    probing_refused: bool = False
    # Not problems: what the import gives a row beyond its cells (the grade the intake rule
    # gives a row without one, and why), for the report of rows stored or, in a dry run,
    # that would be.
    notes: list[Problem] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return len(self.unchanged_rows)

    @property
    def matched(self) -> int:
        """Rows that matched existing records: imported before, or with an open case."""
        return self.unchanged + len(self.open_rows)

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


@dataclass
class _Row:
    number: int
    checked: persons.CheckedIntake
    carried: dict[str, Any]
    note: Problem | None = None


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
    operator_key: str | None = None,
) -> Outcome:
    """Check every row of ``table`` as an intake and, unless a row is bad (or ``dry_run``),
    store the new persons with their grades, statuses and first obligations; the caller
    commits (or rolls back a refused import: nothing was written then but a duplicate's
    refusal rows). ``skip_invalid``: store the good rows and report the bad. ``progress`` is
    called with the number of rows done, twice per row in all (checking, storing).
    ``operator``: who runs it at the shell, as the audit shows it; ``operator_key``: the same
    as numbers (core/cli_identity.py ``operator_key``), which the probing bound counts by."""
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
    told_rows, hidden = _rows_imported_before(session, actor, imported_rows)
    for number, cells in table.rows:
        tick(1)
        if number in told_rows:
            outcome.unchanged_rows.append(number)
            continue
        if number in hidden:
            outcome.open_rows.append(number)
            outcome.problems.extend(
                importer.problems_of(number, {"id_number": [OPEN_CASE]}, columns)
            )
            continue
        row, row_problems, id_number = check(number, cells)
        if id_number is not None:  # a bad row's number too: every problem of a row at once
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

    fresh = _recognise(session, actor, columns, checked, outcome, now, list(hidden.values()))
    if _too_many_open_elsewhere(session, actor, outcome, now, operator_key or operator):
        # Refused as a whole: which rows matched would be the answer a probe looks for.
        outcome.probing_refused = True
        outcome.problems = []
        tick(outcome.rows)
        return outcome
    outcome.problems.sort(key=lambda p: p.row)
    outcome.skipped = outcome.bad_rows if skip_invalid else 0
    outcome.created = len(fresh)
    outcome.active = sum(1 for r in fresh if r.carried["reported_on"] is not None)
    outcome.graded = sum(1 for r in fresh if r.carried["grade"] is not None)
    if dry_run or skip_invalid or not outcome.problems:
        outcome.notes = [r.note for r in fresh if r.note is not None]
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

    def __call__(
        self, number: int, cells: tuple[Any, ...]
    ) -> tuple[_Row | None, list[Problem], str | None]:
        """(the checked row or None, every problem of the row, its ID number as the intake
        reads it or None): a cell the schema refuses does not hide the other columns'
        problems (the checks that need it skip it), and reports its own problem only."""
        columns, today = self.columns, self.today
        errors: dict[str, Any] = {}
        try:
            data = self.schema.load(importer.row_data(columns, cells))
        except ma.ValidationError as exc:
            data = dict(exc.valid_data or {})
            errors = dict(exc.messages)
        failed = set(errors)
        carried = {name: data.pop(name, None) for name in CARRIED_OVER}
        found = _check_carried(carried, data, today, failed)
        intake = None
        try:
            intake = persons.check_intake(
                self.session, actor=self.actor, data=data, today=today, offices=self.offices
            )
        except RuleViolation as exc:
            for name, messages in (exc.errors or {"id_number": [exc.detail]}).items():
                found.setdefault(name, []).extend(messages)
        for name, messages in found.items():
            if name not in failed:  # what follows from a refused cell is not a problem of its own
                errors.setdefault(name, []).extend(messages)
        if errors or intake is None:
            id_number = None if "id_number" in errors else _id_number(data.get("id_number"))
            return None, importer.problems_of(number, errors, columns), id_number
        row = _Row(number, intake, carried, note=self._intake_grade_note(number, intake, carried))
        return row, [], intake.facts["id_number"]

    def _intake_grade_note(
        self, number: int, intake: persons.CheckedIntake, carried: dict[str, Any]
    ) -> Problem | None:
        """For a row without a grade: the grade the intake rule gives it and why, and since
        when (the day the person reported, else the import): the report says so."""
        if carried["grade"] is not None:
            return None
        result = grading.intake_grade_of(intake.facts, juvenile=intake.juvenile)
        reason = result.reasons[0]
        label_zh = grading_rules.current().grade(result.grade).label_zh
        message = _(
            "no grade in the file: {grade} by the intake rule ({rule}), since {since}",
            grade=bilingual(result.grade, label_zh),
            rule=bilingual(reason.rule_id, reason.text_zh),
            since=(carried["reported_on"] or self.today).isoformat(),
        )
        return Problem(number, self.columns.header("grade"), *importer.translate(message))


def _id_number(value: Any) -> str | None:
    """An ID number as the intake stores it (the duplicate check of a file's rows), or None
    if it is not one."""
    if value is None:
        return None
    try:
        return idnumber.parse(value).value
    except idnumber.IdNumberError:
        return None


def _check_carried(
    carried: dict[str, Any],
    facts: dict[str, Any],
    today: date,
    failed: set[str] | frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """What a row carries over must fit its case: a known grade, or none only where the
    intake rule grades the person (:func:`grading.intake_rule_applies`); dates not in the
    future, the report within the case, the last contacts after the report. A cell in
    ``failed`` (refused by the schema) is left out: nothing is said to need it, nothing is
    compared with it."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    grade, since, reported = carried["grade"], carried["grade_since"], carried["reported_on"]
    judgment, term_end = facts.get("judgment_date"), facts.get("term_end")
    if grade is not None and grade not in grading_rules.current().grade_ids():
        bad("grade", "not a known grade")
    if (
        grade is None
        and "grade" not in failed
        and reported is not None
        and not grading.intake_rule_applies(reported, today)
    ):
        months = grading_rules.current().intake_period_months
        bad(
            "grade",
            _(
                "required: the person reported more than {months} months ago, and the intake "
                "rule grades only the first {months} months",
                months=months,
            ),
        )
    if since is not None:
        if grade is None and "grade" not in failed:
            bad("grade_since", "needs the grade")
        if since > today:
            bad("grade_since", "must not be in the future")
        elif judgment is not None and since < judgment:
            bad("grade_since", "must not be before judgment_date")
    if reported is not None:
        if reported > today:
            bad("reported_on", "must not be in the future")
        elif judgment is not None and reported < judgment:
            bad("reported_on", "must not be before judgment_date")
        elif term_end is not None and reported > term_end:
            bad("reported_on", "must not be after term_end")
    for name in LAST_CONTACTS.values():
        day = carried[name]
        if day is None:
            continue
        if reported is None:
            if "reported_on" not in failed:
                bad(name, "needs reported_on (a person awaiting intake has no last contact)")
        elif day < reported:
            bad(name, "must not be before reported_on")
        if day > today:
            bad(name, "must not be in the future")
    return errors


def _record_columns() -> tuple[Any, ...]:
    """What deciding about a matched record needs: who may see it, whether sealed."""
    return (Person.id, Person.juvenile, Person.office_id, Person.district_id, Person.sealed)


def _rows_imported_before(
    session: Session, actor: Actor, imported_rows: dict[int, int]
) -> tuple[set[int], dict[int, Any]]:
    """Of the rows this file's earlier import stored (row number -> person id): those whose
    person ``actor`` may be told of (left unchanged), and the others (row number -> the
    person's record), answered as open cases are."""
    records: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(imported_rows.values())), BATCH):
        for record in session.execute(select(*_record_columns()).where(Person.id.in_(chunk))):
            records[record.id] = record
    told = _may_be_told(actor, list(records.values()))
    shown = {n for n, pid in imported_rows.items() if pid in told}
    hidden = {
        n: records[pid] for n, pid in imported_rows.items() if pid in records and n not in shown
    }
    return shown, hidden


def _recognise(
    session: Session,
    actor: Actor,
    columns: importer.Columns,
    rows: list[_Row],
    outcome: Outcome,
    now: datetime,
    hidden: Iterable[Any] = (),
) -> list[_Row]:
    """The one-open-record rule for the checked rows, looked up in batches: a person an
    earlier import created for the same case is this row, unchanged, when ``actor`` may be
    told of that record (:func:`_may_be_told`); any other open record with the ID number, or
    such a record the actor may not be told of, refuses the row, saying only that a case is
    open (:data:`OPEN_CASE`), and is noted in ``outcome`` (outside the actor's scope or not),
    for the run's audit row and the probing bound, with the ``hidden`` records of rows this
    file's earlier import stored. Returns the rows to create."""
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
                Person.id,
                Person.juvenile,
                Person.office_id,
                Person.district_id,
                Person.sealed,
            )
            .outerjoin(CaseloadImportRow, CaseloadImportRow.person_id == Person.id)
            .where(Person.id_number_bidx.in_(chunk))
        ):
            matches.setdefault(by_index[match.id_number_bidx].number, []).append(match)
    same_case: dict[int, list[Any]] = {}
    for row in rows:
        case = tuple(row.checked.facts[name] for name in SAME_CASE)
        same_case[row.number] = [
            m
            for m in matches.get(row.number, [])
            if m.import_id is not None and tuple(getattr(m, name) for name in SAME_CASE) == case
        ]
    told = _may_be_told(actor, [m for ms in same_case.values() for m in ms])
    fresh, open_cases = [], []
    for row in rows:
        found = matches.get(row.number, [])
        same = same_case[row.number]
        if same and all(m.id in told for m in same):
            outcome.unchanged_rows.append(row.number)
            continue
        # A record of the same case the actor may not see in full (another office's, a
        # juvenile's, a sealed one): "imported before, unchanged" would confirm it to anyone
        # holding an ID number and the case's dates (hostile review). Answered as an open case
        # is, counted by the probing bound and named in the run's audit row.
        open_now = [m for m in found if m.status in OPEN_STATUSES or m in same]
        if open_now:
            outcome.open_rows.append(row.number)
            outcome.problems.extend(
                importer.problems_of(row.number, {"id_number": [OPEN_CASE]}, columns)
            )
            open_cases += open_now
            continue
        fresh.append(row)
    outcome.unchanged_rows.sort()
    outcome.open_elsewhere = _outside_scope(session, actor, [*open_cases, *hidden])
    return fresh


def _may_be_told(actor: Actor, records: list[Any]) -> set[int]:
    """The ids of these matched records ``actor`` may be told an earlier import created: not
    sealed (whatever grant the actor holds) and fully visible to them (their office's or
    district's, a juvenile's only to whom juveniles are shown; the operator at the command
    line, who ran the earlier import, any)."""
    refs = [
        PersonRef(r.id, r.juvenile, r.office_id, r.district_id, sealed=r.sealed)
        for r in records
        if not r.sealed
    ]
    return {ref.id for ref in refs if policy(actor, ref, sealed=False) is Visibility.FULL}


def _outside_scope(session: Session, actor: Actor, cases: list[Any]) -> dict[int, bool]:
    """Of these matched cases, the ones ``actor`` may not see in full (id -> juvenile): another
    office's or district's, a juvenile's masked, a sealed one (under a grant too); for the
    operator at the command line (no user, no scope) every one: the import is no register to
    look people up in."""
    refs = {
        c.id: PersonRef(c.id, c.juvenile, c.office_id, c.district_id, sealed=c.sealed)
        for c in cases
    }
    if actor.is_system:
        return {pid: ref.juvenile for pid, ref in refs.items()}
    sealed = sealed_for(session, actor, list(refs.values()))
    return {
        pid: ref.juvenile
        for pid, ref in refs.items()
        if ref.sealed or policy(actor, ref, sealed=pid in sealed) is not Visibility.FULL
    }


def lock_runs(
    session: Session, *, actor: Actor, operator: str | None, operator_key: str | None = None
) -> None:
    """Serialise this run with every other run of the same operator at the shell, or for the
    same user (``--by``), until the transaction ends: the probing bound's count and the run's
    audit row (:func:`record_run`) then happen as one step, and two runs in parallel cannot
    both pass on the same count (hostile review). Taken before anything else of the run, and
    held to its commit: a refused run rolls back to a savepoint, not the transaction.
    ``operator_key`` (the operator's numeric ids) names the lock when given: a host name set
    in a namespace makes no new operator."""
    lock_name(session, f"caseload-import:operator:{operator_key or operator or actor.username}")
    if operator and operator != actor.username:
        lock_name(session, f"caseload-import:user:{actor.username}")


def _too_many_open_elsewhere(
    session: Session, actor: Actor, outcome: Outcome, now: datetime, operator: str | None
) -> bool:
    """Whether this run, with the runs of the last 24 hours by the same user or by the same
    operator (the OS identity at the shell by its numeric ids, ``operator_key`` in the runs'
    rows, else the displayed ``operator``; whichever user ``--by`` named), matched more
    distinct open cases outside the user's scope than ``IMPORT_MAX_OPEN_MATCHES``: refused if
    either count is over. A run that matches none is never refused by it (the operator's own
    caseload still imports)."""
    from corrections.audit.models import AuditEntry

    if not outcome.open_elsewhere:
        return False
    limit = current_app.config["IMPORT_MAX_OPEN_MATCHES"]
    operator = operator or actor.username
    by_user, by_operator = set(outcome.open_elsewhere), set(outcome.open_elsewhere)
    if len(by_user) > limit:
        return True
    # A day's runs are few: their rows are read whole and the operator (in the JSON detail,
    # a column neither database indexes alike) compared here.
    for username, detail, ids in session.execute(
        select(AuditEntry.actor_username, AuditEntry.detail, AuditEntry.subject_ids).where(
            AuditEntry.action == RUN_ACTION,
            AuditEntry.occurred_at >= now - timedelta(days=1),
            AuditEntry.subject_ids.is_not(None),
        )
    ):
        matched = {int(i) for i in ids.split(",") if i}
        if username == actor.username:
            by_user |= matched
        detail = detail or {}
        if detail.get("operator_key", detail.get("operator", username)) == operator:
            by_operator |= matched
    return len(by_user) > limit or len(by_operator) > limit


def record_run(
    session: Session,
    *,
    actor: Actor,
    outcome: Outcome,
    dry_run: bool,
    operator: str | None,
    now: datetime | None = None,
    operator_key: str | None = None,
) -> None:
    """Audit one run of the import, whatever came of it (the caller commits, after rolling
    back a run that stored nothing): who ran it, the file's sha256, its rows, how many
    matched existing records, and the persons with an open case outside the operator's
    scope it matched (named in the row, counted by the probing bound)."""
    if outcome.stored:
        result = "stored"
    elif outcome.probing_refused:
        result = "refused_probing"
    elif dry_run:
        result = "dry_run"
    elif outcome.problems:
        result = "refused"
    else:
        result = "nothing_new"
    elsewhere = outcome.open_elsewhere
    audit.record(
        session,
        actor=actor,
        action=RUN_ACTION,
        subject_type="person" if elsewhere else None,
        person_ids=sorted(elsewhere) or None,
        juvenile=any(elsewhere.values()),
        detail={
            "operator": operator or actor.username,
            **({"operator_key": operator_key} if operator_key else {}),
            "sha256": outcome.sha256,
            "format": outcome.format,
            "rows": outcome.rows,
            "matched": outcome.matched,
            "unchanged": outcome.unchanged,
            "open_case": len(outcome.open_rows),
            "open_elsewhere": len(elsewhere),
            "dry_run": dry_run,
            "result": result,
            **({"import_id": outcome.import_id} if outcome.import_id else {}),
        },
        now=now,
    )


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
            # The grade's start: the file's 定级日期 with its grade; without one, the intake
            # rule's grade from the day the person reported (grading.intake_rule_applies).
            graded = row.carried["grade"] is not None
            since = row.carried["grade_since"] if graded else row.carried["reported_on"]
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
    """The report's lines: (row, column, Chinese, English), the unchanged rows and the notes
    (the grade the intake rule gave a row without one) among them; none for a run refused as
    a whole."""
    if outcome.probing_refused:
        return []
    lines = [(p.row, p.column, p.zh, p.en) for p in [*outcome.problems, *outcome.notes]]
    lines += [
        (n, "", "已导入，未更改", "imported before, unchanged") for n in outcome.unchanged_rows
    ]
    return sorted(lines, key=lambda line: line[0])
