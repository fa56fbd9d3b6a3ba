"""The enforcement-supervision view per judicial office (执法监督): for one month, what each
office missed or left waiting beyond its clock, and its sanctions per 100 persons. One grouped
query per figure over all offices in scope (no query per person or office); each figure's
label and definition are the rules' (rules/oversight.yaml ``figures``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from corrections.alerts import rules as alert_rules
from corrections.core.auth import Actor
from corrections.core.clock import business_date, now_utc
from corrections.core.errors import RuleViolation
from corrections.core.i18n import _
from corrections.core.sqlfuncs import business_day
from corrections.grading.models import GradeDecision
from corrections.incidents.models import IncidentProposal
from corrections.org.models import Unit, UnitKind
from corrections.oversight import rules as oversight_rules
from corrections.oversight.service import figures_scope, local_midnight
from corrections.persons.models import Person, PersonStatusChange
from corrections.supervision.models import Obligation, SanctionDecision, TermEnd, TravelPermit

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The sanctions the office's rate counts (训诫, 警告): the ones a district decides itself.
RATE_SANCTIONS = ("admonition", "warning")


@dataclass(frozen=True)
class Month:
    first: date
    last: date

    @classmethod
    def parse(cls, text: str) -> Month:
        m = MONTH_RE.match(text or "")
        if not m:
            raise RuleViolation(_("a month as YYYY-MM"), field="month")
        first = date(int(m.group(1)), int(m.group(2)), 1)
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return cls(first, nxt - timedelta(days=1))


def office_figures(
    session: Session, *, actor: Actor, month: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Per office in ``actor``'s scope (a district procurator: its district's offices; the
    city and the city's procurators: all), the month's figures (``month`` YYYY-MM, default
    the current one; a month not yet begun is 422)."""
    now = now or now_utc()
    today = business_date(now)
    period = Month.parse(month) if month else Month.parse(f"{today:%Y-%m}")
    if period.first > today:
        raise RuleViolation(_("the month has not begun"), field="month")
    rules = oversight_rules.current()
    start = local_midnight(period.first)
    end = local_midnight(period.last + timedelta(days=1))
    # "At the month's end": decisions still waiting then, or now for the month under way.
    cutoff = min(end, now)
    # Intake deadlines that have run out (the last day on time is over).
    last_deadline = min(period.last, today - timedelta(days=1))

    district = aliased(Unit, name="office_district")
    offices_stmt = (
        select(Unit.id, Unit.code, Unit.name_zh, district.code, district.name_zh)
        .join(district, district.id == Unit.parent_id)
        .where(Unit.kind == UnitKind.OFFICE, Unit.active.is_(True))
        .order_by(Unit.code)
    )
    scoped_district = figures_scope(actor)
    if scoped_district is not None:
        offices_stmt = offices_stmt.where(Unit.parent_id == scoped_district)
    offices = session.execute(offices_stmt).all()
    ids = [row[0] for row in offices]

    def grouped(stmt) -> dict[int, int]:
        stmt = stmt.where(Person.office_id.in_(ids)).group_by(Person.office_id)
        return {office_id: n for office_id, n in session.execute(stmt)}

    counted = select(Person.office_id, func.count())
    figures: dict[str, dict[int, int]] = {
        "persons": grouped(
            counted.where(
                Person.term_start <= period.last,
                Person.term_end >= period.first,
                Person.status != "pending_intake",
                ~exists().where(TermEnd.person_id == Person.id, TermEnd.ended_on < period.first),
            )
        ),
        "obligations_missed": grouped(
            counted.select_from(Obligation)
            .join(Person, Person.id == Obligation.person_id)
            .where(
                Obligation.status == "missed",
                Obligation.due_on >= period.first,
                Obligation.due_on <= period.last,
            )
        ),
        "intake_deadlines_missed": grouped(
            counted.where(
                Person.intake_deadline >= period.first,
                Person.intake_deadline <= last_deadline,
                ~exists().where(
                    PersonStatusChange.person_id == Person.id,
                    PersonStatusChange.from_status == "pending_intake",
                    business_day(PersonStatusChange.changed_at) <= Person.intake_deadline,
                ),
            )
        ),
        "grade_decisions_overdue": grouped(
            counted.select_from(GradeDecision)
            .join(Person, Person.id == GradeDecision.person_id)
            .where(
                GradeDecision.proposed_at
                <= cutoff - timedelta(days=alert_rules.current().grade_approval_days),
                _waiting(GradeDecision.status, "proposed", GradeDecision.decided_at, cutoff),
            )
        ),
        "travel_permits_overdue": grouped(
            counted.select_from(TravelPermit)
            .join(Person, Person.id == TravelPermit.person_id)
            .where(
                TravelPermit.requested_at <= cutoff - rules.waiting_limit("travel_permit"),
                _waiting(TravelPermit.status, "requested", TravelPermit.decided_at, cutoff),
            )
        ),
        "sanction_proposals_overdue": grouped(
            counted.select_from(IncidentProposal)
            .join(Person, Person.id == IncidentProposal.person_id)
            .where(
                IncidentProposal.created_at <= cutoff - rules.waiting_limit("sanction_proposal"),
                _waiting(IncidentProposal.status, "proposed", IncidentProposal.decided_at, cutoff),
            )
        ),
        "sanctions": grouped(
            counted.select_from(SanctionDecision)
            .join(Person, Person.id == SanctionDecision.person_id)
            .where(
                SanctionDecision.kind.in_(RATE_SANCTIONS),
                SanctionDecision.decided_at >= start,
                SanctionDecision.decided_at < end,
            )
        ),
    }
    items = []
    for office_id, code, name_zh, district_code, district_name_zh in offices:
        values = {name: figures[name].get(office_id, 0) for name in figures}
        persons = values["persons"]
        values["sanctions_per_100"] = (
            round(values["sanctions"] * 100 / persons, 1) if persons else None
        )
        items.append(
            {
                "office": {"id": office_id, "code": code, "name_zh": name_zh},
                "district": {"code": district_code, "name_zh": district_name_zh},
                "figures": values,
            }
        )
    definitions = [{"key": name, **rules.figures[name]} for name in oversight_rules.FIGURES]
    clocks = [
        {
            "key": "grade_decision",
            "label_zh": rules.figures["grade_decisions_overdue"]["label_zh"],
            "days": alert_rules.current().grade_approval_days,
            "article": None,
            "basis": "local",
            "verified": True,
        },
        *(
            {
                "key": name,
                "label_zh": clock.label_zh,
                "days": clock.amount,
                "article": clock.article,
                "basis": clock.basis,
                "verified": clock.verified,
            }
            for name, clock in rules.waiting.clocks.items()
        ),
    ]
    return {
        "month": f"{period.first:%Y-%m}",
        "as_of": cutoff,
        "rules_version": rules.version,
        "definitions": definitions,
        "clocks": clocks,
        "items": items,
    }


def _waiting(status, waiting_status: str, decided_at, cutoff: datetime):
    """Still waiting at ``cutoff``: waiting now, or decided only after it."""
    return or_(status == waiting_status, and_(decided_at.is_not(None), decided_at > cutoff))
