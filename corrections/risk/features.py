"""Point-in-time features of the absconding risk model (脱管风险特征).

For a set of persons and one as-of time ``T``, every feature is computed only from rows
*recorded* before ``T``: events by ``recorded_at``, sanctions by their event, obligations by
``missed_at``, lost-contact episodes by ``lost_contact_at``, trips by ``requested_at`` /
``departed_at``, grades by ``effective_at``, monitoring by ``approved_at``. Behaviour windows
count what *happened* in the 30/90/180 days before ``T`` (``occurred_at``). One code path
serves the training export (many as-of times, past populations) and live scoring (now,
current population): :func:`compute`.

Person columns that change in place (employment, housing, address, phone) are not features:
no history of them is kept, so their value at a past ``T`` is unknown and using today's
would look ahead. Their changes are visible as ``address_change`` / ``job_change`` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from corrections.core.clock import business_date
from corrections.core.sqlfuncs import newest_first
from corrections.grading.models import GradeDecision
from corrections.incidents.models import Incident
from corrections.persons import privacy
from corrections.persons.models import Person, PersonStatusChange
from corrections.supervision.models import (
    MonitoringPeriod,
    Obligation,
    SupervisionEvent,
    SupervisionEventCorrection,
    TravelPermit,
)
from corrections.supervision.obligations import recorded_since

WINDOWS = (30, 90, 180)
HORIZON_DAYS = 90
LABEL = "lost_contact_90d"


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # "numeric" | "categorical"
    label_zh: str
    label_en: str


# Behaviour counted per window: (stem, label_zh, label_en).
_COUNTED = (
    ("missed_reports", "未按期报到次数", "missed reports"),
    ("late_reports", "迟到报到次数", "late reports"),
    ("failed_checks", "核查/联系未果次数", "failed checks and contact attempts"),
    ("admonitions", "训诫次数", "admonitions"),
    ("warnings", "警告次数", "warnings"),
    ("police_penalties", "治安管理处罚次数", "police penalties"),
    ("address_changes", "居所变更次数", "address changes"),
    ("job_changes", "工作变动次数", "job changes"),
    ("monitor_alarms", "电子定位报警次数", "monitoring alarms"),
    ("travel_requests", "外出申请次数", "travel requests"),
)
_STATIC = (
    Feature("age_band", "categorical", "年龄段", "age band"),
    Feature("gender", "categorical", "性别", "gender"),
    Feature("juvenile", "numeric", "未成年", "juvenile"),
    Feature("category", "categorical", "矫正类别", "correction category"),
    Feature("crime_type", "categorical", "罪名类型", "crime type"),
    Feature("intake_risk", "categorical", "入矫评估风险", "intake risk assessment"),
    Feature("term_days", "numeric", "矫正期限（天）", "term length (days)"),
    Feature("served_days", "numeric", "已矫正天数", "days served"),
    Feature("remaining_days", "numeric", "剩余矫正天数", "days remaining"),
    Feature("grade", "categorical", "当前管理等级", "current grade"),
    Feature("days_in_grade", "numeric", "当前等级持续天数", "days in current grade"),
    Feature("monitored", "numeric", "电子定位中", "under electronic monitoring"),
)
_EPISODES = (
    Feature("prior_lost_contact", "numeric", "既往失联次数", "prior lost-contact episodes"),
    Feature(
        "days_since_lost_contact",
        "numeric",
        "距上次失联天数",
        "days since last lost contact",
    ),
    Feature("overdue_returns_180d", "numeric", "近180天外出逾期未归", "overdue returns, 180 days"),
    Feature(
        "days_since_failed_contact",
        "numeric",
        "距上次核查/联系未果天数",
        "days since the last failed check or contact attempt",
    ),
    Feature(
        "days_since_report_problem",
        "numeric",
        "距上次迟到/未按期报到天数",
        "days since the last late or missed report",
    ),
)
# Days since something last happened: missing (never, within 180 days) is kept missing.
_RECENCY = ("days_in_grade", "days_since_lost_contact", "days_since_failed_contact")
_RECENCY += ("days_since_report_problem",)

FEATURES: tuple[Feature, ...] = (
    *_STATIC,
    *(
        Feature(f"{stem}_{w}d", "numeric", f"近{w}天{zh}", f"{en}, {w} days")
        for stem, zh, en in _COUNTED
        for w in WINDOWS
    ),
    *_EPISODES,
)
BY_NAME = {f.name: f for f in FEATURES}
# Columns of an export that describe a row but are never features.
GROUP_COLUMNS = ("gender_group", "age_group", "juvenile_group", "district")

# One set of age bands for features, exports and the de-identified view of a person.
AGE_BANDS = privacy.AGE_BANDS

_SANCTION_TYPES = {"admonition": "admonitions", "warning": "warnings"}
_SANCTION_TYPES["police_penalty"] = "police_penalties"
_PLAIN_TYPES = {
    "address_change": "address_changes",
    "job_change": "job_changes",
    "monitor_alarm": "monitor_alarms",
}


# --- populations --------------------------------------------------------------------------


def active_at(as_of: datetime) -> Select:
    """Persons whose status, by the status changes recorded before ``as_of``, was active."""
    ranked = select(
        PersonStatusChange.person_id,
        PersonStatusChange.to_status,
        newest_first(
            PersonStatusChange.person_id, PersonStatusChange.changed_at, PersonStatusChange.id
        ),
    ).where(PersonStatusChange.changed_at < as_of)
    r = ranked.subquery("ranked")
    return select(r.c.person_id).where(r.c.rn == 1, r.c.to_status == "active")


def active_now() -> Select:
    """Persons active now (the live scoring population): the status column says so."""
    return select(Person.id.label("person_id")).where(Person.status == "active")


# --- computing ----------------------------------------------------------------------------


def _frame(session: Session, stmt: Select) -> pd.DataFrame:
    result = session.execute(stmt)
    # Plain tuples: pandas probes each Row for the attributes of a named tuple or a
    # dataclass, which a Row answers through its key lookup (a second of a 100,000-person
    # night went to those probes).
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def _count(cond, since: datetime, at_column):
    return func.coalesce(func.sum(case((and_(cond, at_column >= since), 1), else_=0)), 0)


def counted_conditions() -> dict[str, ColumnElement[bool]]:
    """Per stem, the condition of an event it counts (they exclude each other). Their OR is
    the predicate of the partial index ix_supervision_events_counted (the model's
    COUNTED_EVENTS), which the nightly read goes through."""
    ev = SupervisionEvent
    late = ev.payload["late"].as_boolean()
    success = ev.payload["success"].as_boolean()
    conds = {
        "late_reports": and_(ev.type == "report", late.is_(True)),
        "failed_checks": or_(
            and_(ev.type.in_(("phone_check", "location_check")), success.is_(False)),
            ev.type == "contact_attempt_failed",
        ),
    }
    for t, stem in (_SANCTION_TYPES | _PLAIN_TYPES).items():
        conds[stem] = ev.type == t
    return conds


def _events(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    """The event counts per window and the last failed contact and late report. Each event
    counts for at most one stem (their conditions exclude each other), so the statement
    names each counted event's stem once (its payload read once) and counts per (person,
    stem); the stems become columns here."""
    ev = SupervisionEvent
    correction = SupervisionEventCorrection
    oldest = as_of - timedelta(days=max(WINDOWS))
    conds = counted_conditions()
    counted = (
        select(
            ev.person_id,
            ev.occurred_at,
            case(*((cond, stem) for stem, cond in conds.items())).label("stem"),
        )
        .where(
            ev.person_id.in_(select(pop.c.person_id)),
            ev.recorded_at < as_of,
            ev.occurred_at < as_of,
            ev.occurred_at >= oldest,
            # No event is recorded long before it occurred: on PostgreSQL the read keeps to
            # the event log's months of the window (its partitions by month of recording).
            ev.recorded_at >= recorded_since(business_date(oldest)),
            # Only the events some count counts (a successful check or a report in time
            # counts for nothing: most events are those, and they were sorted and aggregated
            # for nothing), which the partial index ix_supervision_events_counted holds; a
            # person without any gets zeros from compute's fill.
            or_(*conds.values()),
            # An event corrected before T counts as its correction, not twice (the claims
            # table of corrections: one small index, not one per month of the log).
            ~select(correction.corrects_id)
            .where(correction.corrects_id == ev.id, correction.recorded_at < as_of)
            .exists(),
        )
        .subquery("counted")
    )
    stmt = select(
        counted.c.person_id,
        counted.c.stem,
        *(
            _count(literal(True), as_of - timedelta(days=w), counted.c.occurred_at).label(f"n{w}")
            for w in WINDOWS
        ),
        func.max(counted.c.occurred_at).label("last"),
    ).group_by(counted.c.person_id, counted.c.stem)
    long = _frame(session, stmt)
    columns = [f"{stem}_{w}d" for stem in conds for w in WINDOWS]
    counts = long.pivot(index="person_id", columns="stem", values=[f"n{w}" for w in WINDOWS])
    counts.columns = [f"{stem}_{n[1:]}d" for n, stem in counts.columns]
    wide = counts.reindex(columns=columns, fill_value=0).fillna(0)
    last = long.pivot(index="person_id", columns="stem", values="last")
    for stem, column in (("failed_checks", "_last_failed"), ("late_reports", "_last_late")):
        wide[column] = last[stem] if stem in last.columns else None
    return wide.reset_index()


def _missed(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    ob = Obligation
    oldest = as_of - timedelta(days=max(WINDOWS))
    cols = [
        _count(literal(True), as_of - timedelta(days=w), ob.missed_at).label(f"missed_reports_{w}d")
        for w in WINDOWS
    ]
    stmt = (
        select(ob.person_id, *cols, func.max(ob.due_on).label("_last_missed"))
        .where(
            ob.person_id.in_(select(pop.c.person_id)),
            ob.kind == "report",
            ob.missed_at < as_of,
            ob.missed_at >= oldest,
        )
        .group_by(ob.person_id)
    )
    return _frame(session, stmt)


def _travel(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    tp = TravelPermit
    today = business_date(as_of)
    oldest = as_of - timedelta(days=max(WINDOWS))
    cols = [
        _count(literal(True), as_of - timedelta(days=w), tp.requested_at).label(
            f"travel_requests_{w}d"
        )
        for w in WINDOWS
    ]
    # Away past the end day: not back by the end of it (back after T is still away at T).
    overdue = and_(
        tp.departed_at.is_not(None),
        tp.departed_at < as_of,
        tp.end_date < today,
        tp.end_date >= business_date(oldest),
        or_(tp.returned_at.is_(None), func.date(tp.returned_at) > tp.end_date),
    )
    stmt = (
        select(
            tp.person_id,
            *cols,
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0).label("overdue_returns_180d"),
        )
        .where(tp.person_id.in_(select(pop.c.person_id)), tp.requested_at < as_of)
        .group_by(tp.person_id)
    )
    return _frame(session, stmt)


def _episodes(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    stmt = (
        select(
            Incident.person_id,
            func.count().label("prior_lost_contact"),
            func.max(Incident.lost_contact_at).label("_last_lost"),
        )
        .where(
            Incident.person_id.in_(select(pop.c.person_id)),
            Incident.lost_contact_at < as_of,
        )
        .group_by(Incident.person_id)
    )
    return _frame(session, stmt)


def _grades(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    gd = GradeDecision
    ranked = (
        select(
            gd.person_id,
            gd.to_grade.label("grade"),
            gd.effective_at.label("_grade_since"),
            newest_first(gd.person_id, gd.effective_at, gd.id),
        )
        .where(
            gd.person_id.in_(select(pop.c.person_id)),
            gd.status == "effective",
            gd.effective_at < as_of,
        )
        .subquery("ranked")
    )
    return _frame(
        session,
        select(ranked.c.person_id, ranked.c.grade, ranked.c._grade_since).where(ranked.c.rn == 1),
    )


def _monitored(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    mp = MonitoringPeriod
    today = business_date(as_of)
    stmt = (
        select(mp.person_id, literal(1).label("monitored"))
        .where(
            mp.person_id.in_(select(pop.c.person_id)),
            mp.approved_at < as_of,
            mp.start_date <= today,
            mp.end_date >= today,
            or_(mp.removed_at.is_(None), mp.removed_at >= as_of),
        )
        .distinct()
    )
    return _frame(session, stmt)


def _persons(session: Session, pop, as_of: datetime) -> pd.DataFrame:
    p = Person
    stmt = select(
        p.id.label("person_id"),
        p.date_of_birth,
        p.gender,
        p.category,
        p.crime_type,
        p.intake_risk,
        p.term_start,
        p.term_end,
        p.district_id,
    ).where(p.id.in_(select(pop.c.person_id)))
    return _frame(session, stmt)


def age_band(age: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=age.index, dtype="object")
    for low, high, label in AGE_BANDS:
        out[(age >= low) & (age < high)] = label
    return out


def _days(later, earlier) -> pd.Series:
    return (pd.to_datetime(later) - pd.to_datetime(earlier)).dt.days


def compute(session: Session, population: Select, as_of: datetime) -> pd.DataFrame:
    """Features of every person of ``population`` (a select of ``person_id``) as of ``as_of``:
    one row per person, ordered by ``person_id``, columns ``person_id``, :data:`FEATURES`
    and the group columns (``gender_group``, ``age_group``, ``juvenile_group``,
    ``district``)."""
    pop = population.subquery("pop")
    persons = _persons(session, pop, as_of).sort_values("person_id", ignore_index=True)
    today = pd.Timestamp(business_date(as_of))
    out = persons[["person_id"]].copy()
    if persons.empty:
        for f in FEATURES:
            out[f.name] = pd.Series(dtype="float64" if f.kind == "numeric" else "object")
        for g in GROUP_COLUMNS:
            out[g] = pd.Series(dtype="object")
        return out
    dob = pd.to_datetime(persons["date_of_birth"])
    age = (today.year - dob.dt.year) - (
        (today.month < dob.dt.month) | ((today.month == dob.dt.month) & (today.day < dob.dt.day))
    ).astype(int)
    out["age_band"] = age_band(age)
    out["gender"] = persons["gender"]
    out["juvenile"] = (age < 18).astype(int)
    out["category"] = persons["category"]
    out["crime_type"] = persons["crime_type"]
    out["intake_risk"] = persons["intake_risk"]
    out["term_days"] = _days(persons["term_end"], persons["term_start"]) + 1
    out["served_days"] = _days(today, persons["term_start"]).clip(lower=0)
    out["remaining_days"] = _days(persons["term_end"], today).clip(lower=0)

    merged = out
    for part in (
        _grades(session, pop, as_of),
        _monitored(session, pop, as_of),
        _events(session, pop, as_of),
        _missed(session, pop, as_of),
        _travel(session, pop, as_of),
        _episodes(session, pop, as_of),
    ):
        merged = merged.merge(part, on="person_id", how="left")
    at = pd.Series(as_of, index=merged.index).dt.tz_convert(None)

    def since(column: str) -> pd.Series:
        return _days(at, pd.to_datetime(merged[column], utc=True).dt.tz_convert(None))

    merged["days_in_grade"] = since("_grade_since")
    merged["days_since_lost_contact"] = since("_last_lost")
    merged["days_since_failed_contact"] = since("_last_failed")
    missed_day = pd.to_datetime(merged["_last_missed"]) + pd.Timedelta(days=1)
    merged["_last_missed"] = missed_day.dt.tz_localize("Asia/Shanghai")
    merged["days_since_report_problem"] = pd.concat(
        [since("_last_late"), since("_last_missed")], axis=1
    ).min(axis=1)
    for f in FEATURES:
        if f.kind == "numeric" and f.name not in _RECENCY:
            merged[f.name] = merged[f.name].fillna(0)
        if f.kind == "numeric":
            merged[f.name] = merged[f.name].astype("float64")
    merged["gender_group"] = merged["gender"]
    merged["age_group"] = merged["age_band"]
    merged["juvenile_group"] = np.where(merged["juvenile"] > 0, "juvenile", "adult")
    merged["district"] = persons["district_id"].astype("int64").to_numpy()
    return merged[["person_id", *(f.name for f in FEATURES), *GROUP_COLUMNS]]


def positives(session: Session, population: Select, as_of: datetime) -> set[int]:
    """Who of ``population`` lost contact in ``(as_of, as_of + 90 days]`` (the label)."""
    pop = population.subquery("pop")
    hit = session.scalars(
        select(Incident.person_id)
        .where(
            Incident.person_id.in_(select(pop.c.person_id)),
            Incident.lost_contact_at > as_of,
            Incident.lost_contact_at <= as_of + timedelta(days=HORIZON_DAYS),
        )
        .distinct()
    ).all()
    return set(hit)
