"""Computing the public figures (the job ``public_statistics``) and reading them back.

The job counts, for each complete month it recomputes, set-based over all persons: one
statement per count and month, grouped by district. A person counts in the district their
office belonged to at the time (their office then: before any later change of the place of
supervision within the city; that office's district then: before any later move of the
office), so history stays where it happened. The disclosure rule (corrections/public/
disclosure.py) is applied per metric and month, and the month's rows replace the cached ones
in the job's transaction. Reading (the API, the page) touches the cache and the units only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, literal, or_, select
from sqlalchemy.orm import Session

from corrections.complaints.models import Complaint
from corrections.core import ruleset_store
from corrections.core.clock import add_months, business_date, start_of_business_day
from corrections.core.sqlfuncs import lock_name, newest_first
from corrections.core.types import UTCDateTime
from corrections.incidents.models import Incident
from corrections.org.models import Unit, UnitKind, UnitMove
from corrections.persons.models import SUPERVISED_STATUSES, Person, PersonStatusChange
from corrections.public import disclosure
from corrections.public import rules as public_rules
from corrections.public.models import PublicStatistic
from corrections.supervision.models import PersonTransfer

# Termination statuses that mean revocation or return to custody (term/service.py: a death
# ends in ``deceased``, a transfer out of the city in ``transferred``).
REVOKED_STATUS = "terminated"


# --- where a person was at an instant ------------------------------------------------------


def _office_at(at: ColumnElement) -> ColumnElement:
    """The person's office at ``at``: the office they left by the first change of the place of
    supervision within the city recorded after it, else their office now."""
    later = (
        select(PersonTransfer.from_office_id)
        .where(
            PersonTransfer.person_id == Person.id,
            PersonTransfer.to_office_id.is_not(None),
            PersonTransfer.recorded_at > at,
        )
        .order_by(PersonTransfer.recorded_at, PersonTransfer.id)
        .limit(1)
        .correlate_except(PersonTransfer)
        .scalar_subquery()
    )
    return func.coalesce(later, Person.office_id)


def _district_at(at: ColumnElement) -> ColumnElement:
    """The district of the person's office at ``at`` (an office's later move to another
    district leaves its past in the district it was in)."""
    office = _office_at(at)
    moved = (
        select(UnitMove.from_parent_id)
        .where(UnitMove.unit_id == office, UnitMove.moved_at > at)
        .order_by(UnitMove.moved_at, UnitMove.id)
        .limit(1)
        .correlate_except(UnitMove)
        .scalar_subquery()
    )
    # The persons (and the status change) of the enclosing query, at every level of nesting.
    parent = select(Unit.parent_id).where(Unit.id == office).correlate_except(Unit)
    parent = parent.scalar_subquery()
    return func.coalesce(moved, parent)


# --- the counts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    first: date

    @property
    def next_first(self) -> date:
        return add_months(self.first, 1)

    @property
    def start(self) -> datetime:
        return start_of_business_day(self.first)

    @property
    def end(self) -> datetime:
        return start_of_business_day(self.next_first)

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m}"


def _grouped(session: Session, stmt) -> dict[int, int]:
    """``stmt`` selects (person_id, district_id) rows: distinct persons per district."""
    sub = stmt.subquery()
    rows = session.execute(
        select(sub.c.district_id, func.count(func.distinct(sub.c.person_id))).group_by(
            sub.c.district_id
        )
    )
    return {district: n for district, n in rows if district is not None}


def _under_correction(session: Session, month: Month) -> dict[int, int]:
    end = literal(month.end, UTCDateTime())
    latest = (
        select(
            PersonStatusChange.person_id,
            PersonStatusChange.to_status,
            newest_first(
                PersonStatusChange.person_id, PersonStatusChange.changed_at, PersonStatusChange.id
            ),
        )
        .where(PersonStatusChange.changed_at < month.end)
        .subquery()
    )
    return _grouped(
        session,
        select(Person.id.label("person_id"), _district_at(end).label("district_id"))
        .join(latest, latest.c.person_id == Person.id)
        .where(latest.c.rn == 1, latest.c.to_status.in_(SUPERVISED_STATUSES)),
    )


def _changes(condition: ColumnElement) -> Callable[[Session, Month], dict[int, int]]:
    """Persons whose status changed as ``condition`` says during the month, by the district
    they were in when it was recorded."""

    def count(session: Session, month: Month) -> dict[int, int]:
        return _grouped(
            session,
            select(
                Person.id.label("person_id"),
                _district_at(PersonStatusChange.changed_at).label("district_id"),
            )
            .join(PersonStatusChange, PersonStatusChange.person_id == Person.id)
            .where(
                condition,
                PersonStatusChange.changed_at >= month.start,
                PersonStatusChange.changed_at < month.end,
            ),
        )

    return count


def _absconded(session: Session, month: Month) -> dict[int, int]:
    """Persons in an episode confirmed as absconding (脱管) at any time in the month."""
    return _grouped(
        session,
        select(
            Person.id.label("person_id"),
            _district_at(literal(month.end, UTCDateTime())).label("district_id"),
        )
        .join(Incident, Incident.person_id == Person.id)
        .where(
            Incident.absconded_at.is_not(None),
            Incident.absconded_at < month.end,
            or_(Incident.closed_at.is_(None), Incident.closed_at >= month.start),
        ),
    )


def _complaints(column) -> Callable[[Session, Month], dict[int, int]]:
    def count(session: Session, month: Month) -> dict[int, int]:
        rows = session.execute(
            select(Complaint.district_id, func.count())
            .where(column >= month.first, column < month.next_first)
            .group_by(Complaint.district_id)
        )
        return dict(rows.all())

    return count


COUNTERS: dict[str, Callable[[Session, Month], dict[int, int]]] = {
    "under_correction": _under_correction,
    "intakes": _changes(
        and_(
            PersonStatusChange.from_status == "pending_intake",
            PersonStatusChange.to_status == "active",
        )
    ),
    "discharges": _changes(PersonStatusChange.to_status == "discharged"),
    "revocations": _changes(PersonStatusChange.to_status == REVOKED_STATUS),
    "absconded": _absconded,
    "complaints_received": _complaints(Complaint.received_on),
    "complaints_answered": _complaints(Complaint.answered_on),
}
assert tuple(COUNTERS) == public_rules.COUNTS


# --- the figures of one month (pure) --------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    metric: str
    district_id: int | None  # None: the city
    value: int | None  # a count, or a rate in tenths of a per cent
    display: str
    suppressed: str | None


def _rounded(count: int, base: int) -> int:
    """``count`` to the nearest multiple of ``base``, halves up (never to 0 from above 0: a
    shown cell is at least the threshold anyway)."""
    return count if base <= 1 else max(base, (count + base // 2) // base * base)


def _rate_tenths(numerator: int, denominator: int) -> int:
    """numerator / denominator in tenths of a per cent, rounded half up (integers only)."""
    return (numerator * 2000 + denominator) // (2 * denominator)


def month_figures(
    counts: dict[str, dict[int, int]], districts: list[int], rules: public_rules.PublicRules
) -> list[Figure]:
    """The published figures of one month from its raw counts per district: every count row
    protected (disclosure.protect), every rate shown only where both its counts are shown and
    its denominator is not 0. Pure: table-tested in tests/public."""
    rows = {
        code: disclosure.protect({d: by.get(d, 0) for d in districts}, rules.threshold)
        for code, by in counts.items()
    }
    texts = {disclosure.SMALL: rules.small_text, disclosure.WITHHELD: rules.withheld_text}
    figures = []
    for metric in rules.metrics:
        for district in [*districts, None]:
            if metric.kind == "count":
                row = rows[metric.code]
                cell = row.total if district is None else row.districts[district]
                if cell.suppressed:
                    figures.append(
                        Figure(metric.code, district, None, texts[cell.suppressed], cell.suppressed)
                    )
                else:
                    shown = _rounded(cell.count, rules.stock_rounding.get(metric.code, 1))
                    figures.append(Figure(metric.code, district, shown, str(shown), None))
                continue
            num_row, den_row = rows[metric.numerator], rows[metric.denominator]
            num = num_row.total if district is None else num_row.districts[district]
            den = den_row.total if district is None else den_row.districts[district]
            if num.suppressed or den.suppressed:
                # Shown, it would give the withheld count back (rate x the other count).
                figures.append(Figure(metric.code, district, None, rules.withheld_text, "derived"))
            elif den.count == 0:
                figures.append(
                    Figure(metric.code, district, None, rules.not_applicable_text, "not_applicable")
                )
            else:
                tenths = _rate_tenths(num.count, den.count)
                figures.append(
                    Figure(metric.code, district, tenths, f"{tenths // 10}.{tenths % 10}%", None)
                )
    return figures


# --- stocks and flows together ---------------------------------------------------------------

# The month's flows in the stock's balance: stock(m) = stock(m-1) + intakes - discharges -
# revocations (deaths and transfers, unpublished, taken as none: the reader's best case).
FLOWS = {"intakes": 1, "discharges": -1, "revocations": -1}
STOCK = "under_correction"


def _possible(figure: Figure | None, rules: public_rules.PublicRules) -> range | None:
    """What a published figure can stand for; None: unknown or unbounded (safe)."""
    if figure is None or figure.suppressed in (disclosure.WITHHELD, "derived"):
        return None
    if figure.suppressed == disclosure.SMALL:
        return range(1, rules.threshold)
    base = rules.stock_rounding.get(figure.metric, 1)
    low = max(0, figure.value - base // 2)
    return range(low, figure.value + (base - 1) // 2 + 1)


def _pinned(flow: str, cells: dict[str, Figure], before: Figure | None, rules) -> bool:
    """Whether the balance pins a withheld ``flow`` of this month to fewer than two values."""
    ranges = {m: _possible(cells.get(m), rules) for m in FLOWS if m != flow}
    start, end = _possible(before, rules), _possible(cells.get(STOCK), rules)
    if start is None or end is None or any(r is None for r in ranges.values()):
        return False
    found: set[int] = set()
    sign = FLOWS[flow]
    others = list(ranges.items())

    def walk(i: int, moved: int) -> None:
        if len(found) > 1:
            return
        if i == len(others):
            for a in start:
                for b in end:
                    value = sign * (b - a - moved)
                    if 1 <= value < rules.threshold:
                        found.add(value)
            return
        name, values = others[i]
        for v in values:
            walk(i + 1, moved + FLOWS[name] * v)

    walk(0, 0)
    return len(found) < 2


def protect_stocks(
    months: list[list[Figure]], before: dict[int | None, Figure], rules: public_rules.PublicRules
) -> list[list[Figure]]:
    """Withhold a month's stock where it and the one before, with the month's published flows,
    would pin a withheld flow to one value (a hostile review recovered every withheld intake
    from exact headcounts). ``months``: oldest first; ``before``: the stock published for the
    month before the first, by district. Pure."""
    out = []
    previous = dict(before)
    for figures in months:
        by_unit: dict[int | None, dict[str, Figure]] = {}
        for f in figures:
            by_unit.setdefault(f.district_id, {})[f.metric] = f
        withheld = set()
        for unit, cells in by_unit.items():
            small = [m for m in FLOWS if (c := cells.get(m)) and c.suppressed == disclosure.SMALL]
            if STOCK in cells and any(_pinned(m, cells, previous.get(unit), rules) for m in small):
                withheld.add(unit)
        month = [
            Figure(f.metric, f.district_id, None, rules.withheld_text, disclosure.WITHHELD)
            if f.metric == STOCK and f.district_id in withheld and f.suppressed is None
            else f
            for f in figures
        ]
        previous = {f.district_id: f for f in month if f.metric == STOCK}
        out.append(month)
    return out


# --- the job --------------------------------------------------------------------------------


def months_to_compute(now: datetime, how_many: int) -> list[Month]:
    """The ``how_many`` complete months before ``now``'s month (Asia/Shanghai), newest first."""
    this_month = business_date(now).replace(day=1)
    return [Month(add_months(this_month, -i)) for i in range(1, how_many + 1)]


def _stocks_before(session: Session, month: Month) -> dict[int | None, Figure]:
    """The stocks published for the month before ``month`` (kept from an earlier run)."""
    rows = session.execute(
        select(
            PublicStatistic.district_id, PublicStatistic.value, PublicStatistic.suppressed
        ).where(
            PublicStatistic.period == add_months(month.first, -1),
            PublicStatistic.metric == STOCK,
        )
    ).all()
    return {d: Figure(STOCK, d, value, str(value), suppressed) for d, value, suppressed in rows}


def compute(session: Session, *, now: datetime) -> dict[str, int]:
    """Recompute the public figures of the complete months the rules name and replace them in
    the cache (one transaction; a second run at once waits for the first). Months before the
    first record of any person or complaint are left out."""
    rules = public_rules.current()
    lock_name(session, "public_statistics")
    version = ruleset_store.ensure_recorded(session, "public_statistics", now)
    districts = list(
        session.scalars(
            select(Unit.id)
            .where(Unit.kind == UnitKind.DISTRICT, Unit.active.is_(True))
            .order_by(Unit.code)
        )
    )
    earliest = [
        session.scalar(select(func.min(PersonStatusChange.changed_at))),
        session.scalar(select(func.min(Complaint.created_at))),
    ]
    first_record = min((business_date(t) for t in earliest if t is not None), default=None)
    needed = {
        part
        for m in rules.metrics
        for part in ((m.numerator, m.denominator) if m.kind == "rate" else (m.code,))
    }
    months = [
        m
        for m in months_to_compute(now, rules.months_computed)
        if first_record is not None and m.next_first > first_record
    ]
    rows = []
    # Oldest first: each month's stock is checked against the one before (exchange of flows).
    months = sorted(months, key=lambda m: m.first)
    figures = [
        month_figures(
            {code: COUNTERS[code](session, month) for code in COUNTERS if code in needed},
            districts,
            rules,
        )
        for month in months
    ]
    if months:
        figures = protect_stocks(figures, _stocks_before(session, months[0]), rules)
    for month, month_figs in zip(months, figures, strict=True):
        for figure in month_figs:
            rows.append(
                {
                    "period": month.first,
                    "district_id": figure.district_id,
                    "metric": figure.metric,
                    "value": figure.value,
                    "display": figure.display,
                    "suppressed": figure.suppressed,
                    "rules_version": version,
                    "computed_at": now,
                }
            )
    if months:
        session.execute(
            delete(PublicStatistic).where(PublicStatistic.period.in_([m.first for m in months]))
        )
        if rows:
            session.execute(PublicStatistic.__table__.insert(), rows)
    return {"months": len(months), "figures": len(rows)}


# --- reading the cache ----------------------------------------------------------------------


def cached_periods(session: Session) -> list[date]:
    """The months in the cache, newest first."""
    return list(
        session.scalars(
            select(PublicStatistic.period).distinct().order_by(PublicStatistic.period.desc())
        )
    )


def published(session: Session, *, month: date | None = None) -> dict[str, Any] | None:
    """The cached figures of ``month``, or of the newest months the rules show; None when the
    month asked for is not in the cache. Reads the cache and the units only."""
    rules = public_rules.current()
    if month is not None:
        periods = [month] if month in cached_periods(session) else []
        if not periods:
            return None
    else:
        periods = cached_periods(session)[: rules.months_shown]
    figures = session.scalars(
        select(PublicStatistic)
        .where(PublicStatistic.period.in_(periods))
        .order_by(PublicStatistic.period.desc(), PublicStatistic.id)
    ).all()
    unit_ids = {f.district_id for f in figures if f.district_id is not None}
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(unit_ids or {0})))}
    kinds = {m.code: m.kind for m in rules.metrics}
    by_period: dict[date, list[dict[str, Any]]] = {p: [] for p in periods}
    for f in figures:
        if f.metric not in kinds:
            continue  # a metric since taken out of the rules
        unit = units.get(f.district_id)
        value: Any = f.value
        if value is not None and kinds[f.metric] == "rate":
            value = value / 10
        by_period[f.period].append(
            {
                "metric": f.metric,
                "district_code": unit.code if unit else None,
                "district_name_zh": unit.name_zh if unit else "全市",
                "value": value,
                "display": f.display,
                "withheld": f.suppressed is not None,
            }
        )
    district_list = sorted(units.values(), key=lambda u: u.code)
    return {
        "computed_at": max((f.computed_at for f in figures), default=None),
        "rules_version": rules.version,
        "disclosure": {
            "threshold": rules.threshold,
            "small_text": rules.small_text,
            "withheld_text": rules.withheld_text,
            "not_applicable_text": rules.not_applicable_text,
            "note_zh": rules.note_zh,
        },
        "metrics": [
            {
                "code": m.code,
                "kind": m.kind,
                "unit": "percent" if m.kind == "rate" else "count",
                "label_zh": m.label_zh,
                "definition_zh": m.definition_zh,
            }
            for m in rules.metrics
        ],
        "districts": [{"code": u.code, "name_zh": u.name_zh} for u in district_list],
        "months": [{"month": f"{p:%Y-%m}", "figures": by_period[p]} for p in periods],
    }
