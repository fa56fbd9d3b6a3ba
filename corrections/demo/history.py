"""Supervision histories for the demo city, driven by a hidden per-person propensity.

Each person has a hidden propensity ``z`` (from age, employment, housing, family support,
substance use, prior absconding, category and intake risk, plus noise) and a hidden two-state
condition (stable / unstable) that moves day by day as a Markov chain whose onset rate grows
with ``z``. Reports, checks, failed contact attempts, address and job changes, alarms and
overdue trips come more often when ``z`` is high and much more often while unstable; so do
lost-contact episodes (失去联系), whose daily hazard is

    h = exp(BASE + z + STATE * unstable + NEW * (first 90 days) + PRIOR * min(episodes, 2)).

Because the hazard depends only on what is known at a date (``z``, today's condition, days
since intake, prior episodes) and the chain's transition rates, :func:`true_probability`
computes each person's exact probability of losing contact within the next 90 days at any
date. It is kept in ``demo_truths`` for evaluation (the best achievable AUC) and is never a
feature. Everything is deterministic given the seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from corrections.core.clock import start_of_business_day
from corrections.demo.models import DemoTruth

BASE = -8.6
STATE = 2.3
NEW = 0.5
PRIOR = 0.5
ONSET = 0.006  # daily onset rate of the unstable condition at z = 0
ONSET_Z = 0.5
RECOVERY = 1 / 30  # daily rate of recovery: unstable spells last about a month
HORIZON = 90

GRADE_ORDER = ("strict", "tight", "ordinary", "relaxed", "lenient")


def propensity(rng: random.Random, facts: dict, age: int) -> tuple[float, str]:
    """The hidden propensity, and the intake assessment's (调查评估) noisy reading of it."""
    family_support = rng.random() < (0.55 if facts["housing"] == "unstable" else 0.8)
    substance = rng.random() < (0.6 if facts["crime_type"] == "drug_offence" else 0.07)
    prior_abscond = rng.random() < 0.05
    z = 0.0
    z += 0.8 if age < 25 else 0.35 if age < 35 else -0.5 if age >= 55 else 0.0
    z += {"unemployed": 0.7, "other": 0.3, "retired": -0.4, "student": -0.2}.get(
        facts["employment"], 0.0
    )
    z += {"unstable": 0.9, "rented": 0.3, "own": -0.3, "institution": 0.2}.get(
        facts["housing"], 0.0
    )
    z += -0.6 if family_support else 0.0
    z += 0.8 if substance else 0.0
    z += 1.0 if prior_abscond else 0.0
    z += {"parole": 0.3, "control_order": 0.2, "temporary_outside_custody": -0.3}.get(
        facts["category"], 0.0
    )
    z += rng.gauss(0, 0.2)
    reading = z + rng.gauss(0, 0.35)
    assessed = "high" if reading > 0.9 else "low" if reading < -0.2 else "medium"
    return z, assessed


def onset_rate(z: float) -> float:
    return min(0.2, ONSET * math.exp(ONSET_Z * z))


def hazard(z: float, unstable: int, days_active: int, prior: int) -> float:
    lin = BASE + z + STATE * unstable + (NEW if days_active < 90 else 0.0) + PRIOR * min(prior, 2)
    return min(0.5, math.exp(lin))


def true_probability(
    z: float,
    unstable_yesterday: bool,
    activated_on: date,
    prior: int,
    day: date,
    last_day: date,
) -> float:
    """P(a lost-contact episode begins on one of the 90 days from ``day``), given what holds at
    the start of ``day``: the chain's state of the day before, days since intake and prior
    episodes (constant until the first one). No risk after ``last_day`` (end of the term)."""
    p01, p10 = onset_rate(z), RECOVERY
    mass = np.array([0.0, 1.0]) if unstable_yesterday else np.array([1.0, 0.0])
    trans = np.array([[1 - p01, p01], [p10, 1 - p10]])
    for k in range(HORIZON):
        d = day + timedelta(days=k)
        if d > last_day:
            break
        mass = mass @ trans
        days_active = (d - activated_on).days
        mass = mass * np.array(
            [1 - hazard(z, 0, days_active, prior), 1 - hazard(z, 1, days_active, prior)]
        )
    return float(1.0 - mass.sum())


def truth_at(truth: DemoTruth | dict, day: date, last_day: date) -> float:
    """The true 90-day probability for a stored truth row at the start of ``day``."""
    get = truth.get if isinstance(truth, dict) else lambda k: getattr(truth, k)
    yesterday = day.toordinal() - 1
    unstable = any(a <= yesterday <= b for a, b in get("unstable"))
    prior = sum(1 for e in get("episodes") if e < day.toordinal())
    return true_probability(get("propensity"), unstable, get("activated_on"), prior, day, last_day)


@dataclass
class History:
    events: list[dict] = field(default_factory=list)
    sanctions: list[tuple[dict, dict]] = field(default_factory=list)  # (event, decision)
    missed: list[dict] = field(default_factory=list)
    grades: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)
    status_changes: list[dict] = field(default_factory=list)
    permits: list[dict] = field(default_factory=list)
    unstable: list[list[int]] = field(default_factory=list)
    episodes: list[int] = field(default_factory=list)
    grade: str = ""
    grade_since: datetime | None = None
    status: str = "active"
    truth: dict = field(default_factory=dict)


def _at(day: date, rng: random.Random, lo: int = 9, hi: int = 17) -> datetime:
    return start_of_business_day(day) + timedelta(
        hours=rng.randint(lo, hi - 1), minutes=rng.randint(0, 59)
    )


def _event(kind: str, at: datetime, rng: random.Random, now: datetime, **extra) -> dict:
    late_entry = rng.random() < 0.05
    recorded = at + (
        timedelta(days=rng.randint(1, 2)) if late_entry else timedelta(minutes=rng.randint(1, 40))
    )
    row = {
        "type": kind,
        "occurred_at": at,
        "recorded_at": min(recorded, now),
        "recorded_by_id": None,
        "recorded_by": "demo-seed",
        "channel": extra.pop("channel", None),
        "note": None,
        "payload": extra.pop("payload", {}),
        "corrects_id": None,
        "idempotency_key": None,
        "request_hash": None,
    }
    return row


def simulate(
    rng: random.Random,
    *,
    z: float,
    facts: dict,
    grade: str,
    activated_on: date,
    history_from: date,
    last_day: date,
    today: date,
    now: datetime,
    intervals: dict[str, dict[str, int]],
    travel_allowed: dict[str, bool],
    rules_version: str,
    discharged: bool = False,
) -> History:
    """Simulate one person's days from ``history_from`` to ``last_day`` (both included)."""
    h = History(grade=grade)
    p01, p10 = onset_rate(z), RECOVERY
    # Start in the chain's stationary distribution.
    unstable = 1 if rng.random() < p01 / (p01 + p10) else 0
    span_start = history_from.toordinal() - 1 if unstable else None
    unemployed = facts["employment"] == "unemployed"
    miss_base = 0.01 * math.exp(0.6 * z)
    late_base = 0.03 * math.exp(0.6 * z)
    fail_base = 0.02 * math.exp(0.6 * z)
    attempt_base = 0.004 * math.exp(0.6 * z)
    next_report = history_from + timedelta(days=rng.randint(0, intervals[grade]["report"] - 1))
    next_check = history_from + timedelta(days=rng.randint(0, intervals[grade]["check"] - 1))
    next_review = history_from + timedelta(days=90)
    trouble = 0  # sanctions, misses and late reports since the last review
    episode_end: date | None = None
    incident: dict | None = None
    day = history_from
    one = timedelta(days=1)
    while day <= last_day:
        # the condition moves first
        if unstable:
            if rng.random() < p10:
                unstable = 0
                h.unstable.append([span_start, day.toordinal() - 1])
                span_start = None
        elif rng.random() < p01:
            unstable, span_start = 1, day.toordinal()
        if episode_end is not None:  # away: the office tries to find them
            if day >= episode_end:
                _close_episode(h, incident, day, rng, now, rules_version)
                trouble += 2
                episode_end, incident = None, None
                if unstable:
                    h.unstable.append([span_start, day.toordinal() - 1])
                    unstable, span_start = 0, None
                next_report = day + timedelta(days=intervals[h.grade]["report"])
                next_check = day + timedelta(days=intervals[h.grade]["check"])
            elif rng.random() < 0.4:
                h.events.append(
                    _event("contact_attempt_failed", _at(day, rng), rng, now, channel="phone")
                )
            day += one
            continue
        days_active = (day - activated_on).days
        if rng.random() < hazard(z, unstable, days_active, len(h.episodes)):
            duration = 1 + min(60, int(rng.expovariate(1 / 10)))
            episode_end = day + timedelta(days=duration)
            incident = _open_episode(h, day, rng, now)
            h.episodes.append(day.toordinal())
            day += one
            continue
        if day >= next_report:
            interval = intervals[h.grade]["report"]
            if rng.random() < miss_base + 0.3 * unstable:
                h.missed.append(
                    {
                        "kind": "report",
                        "opens_on": day - timedelta(days=interval - 1),
                        "due_on": day,
                        "status": "missed",
                        "grade": h.grade,
                        "missed_at": start_of_business_day(day + one) + timedelta(minutes=30),
                    }
                )
                trouble += 1
                if rng.random() < 0.5 and day + one <= last_day:
                    at = _at(day + one, rng)
                    h.sanctions.append(_sanction("admonition", at, rng, now))
                    trouble += 1
            else:
                late = rng.random() < late_base + 0.3 * unstable
                trouble += late
                h.events.append(
                    _event(
                        "report",
                        _at(day, rng),
                        rng,
                        now,
                        channel="in_person",
                        payload={"late": late},
                    )
                )
            next_report = day + timedelta(days=interval)
        if day >= next_check:
            ok = rng.random() >= fail_base + 0.35 * unstable
            h.events.append(
                _event(
                    "phone_check", _at(day, rng), rng, now, channel="phone", payload={"success": ok}
                )
            )
            next_check = day + timedelta(days=intervals[h.grade]["check"])
        r = rng.random
        if r() < attempt_base + 0.15 * unstable:
            h.events.append(
                _event("contact_attempt_failed", _at(day, rng), rng, now, channel="phone")
            )
        if r() < 0.0006 + 0.005 * unstable:
            h.events.append(_event("address_change", _at(day, rng), rng, now))
        if r() < 0.0008 + 0.004 * unstable + 0.0008 * unemployed:
            h.events.append(_event("job_change", _at(day, rng), rng, now))
        if r() < 0.0002 + 0.003 * unstable:
            h.events.append(_event("monitor_alarm", _at(day, rng, 0, 24), rng, now))
        if travel_allowed[h.grade] and r() < 0.003 + 0.002 * unstable:
            _trip(h, day, rng, now, unstable, last_day)
        if day >= next_review:
            _review(h, day, trouble, rng, rules_version)
            trouble = 0
            next_review = day + timedelta(days=90)
        day += one
    if unstable:
        h.unstable.append([span_start, min(last_day, today).toordinal()])
    if incident is not None and discharged:  # found before the term ended
        _close_episode(h, incident, last_day, rng, now, rules_version)
    elif incident is not None:  # still away today
        if (today - date.fromordinal(h.episodes[-1])).days > 30:
            incident["state"], h.status = "absconded", "absconded"
            incident["absconded_at"] = incident["lost_contact_at"] + timedelta(days=30)
            h.status_changes.append(
                _change("lost_contact", "absconded", incident["absconded_at"], "认定脱管")
            )
        else:
            h.status = "lost_contact"
    return h


def _change(frm: str, to: str, at: datetime, reason: str) -> dict:
    return {
        "from_status": frm,
        "to_status": to,
        "reason": reason,
        "actor_id": None,
        "actor_username": "demo-seed",
        "changed_at": at,
    }


def _open_episode(h: History, day: date, rng: random.Random, now: datetime) -> dict:
    overdue = start_of_business_day(day)
    lost = overdue + timedelta(hours=10)
    incident = {
        "state": "lost_contact",
        "trigger_type": "manual",
        "trigger_id": 0,
        "overdue_since": overdue,
        "opened_at": overdue + timedelta(hours=9),
        "opened_by": "demo-seed",
        "last_contact_at": None,
        "lost_contact_at": lost,
        "updated_at": lost,
        "version": 1,
    }
    h.incidents.append(incident)
    h.status_changes.append(_change("active", "lost_contact", lost, "失去联系"))
    h.events.append(_event("contact_attempt_failed", lost, rng, now, channel="phone"))
    return incident


def _close_episode(h, incident, day, rng, now, rules_version) -> None:
    at = _at(day, rng)
    days = (day - incident["lost_contact_at"].date()).days
    frm = incident.get("state", "lost_contact")
    incident.update(
        state="closed",
        closed_at=at,
        closed_by="demo-seed",
        close_reason="returned" if rng.random() < 0.7 else "found",
        absence_days=days,
        updated_at=at,
    )
    if frm == "lost_contact" and days > 30:
        incident["absconded_at"] = incident["lost_contact_at"] + timedelta(days=30)
        h.status_changes.append(
            _change("lost_contact", "absconded", incident["absconded_at"], "认定脱管")
        )
        frm = "absconded"
    h.status_changes.append(_change(frm, "active", at, "恢复联系"))
    h.events.append(_event("report", at, rng, now, channel="in_person", payload={"late": True}))
    kind = "warning" if days > 10 else "admonition"
    h.sanctions.append(_sanction(kind, at + timedelta(hours=1), rng, now))
    _move(h, "strict", at + timedelta(hours=2), "event", rules_version)


def _sanction(kind: str, at: datetime, rng: random.Random, now: datetime) -> tuple[dict, dict]:
    event = _event(kind, at, rng, now)
    decision = {
        "kind": kind,
        "decided_by_id": None,
        "decided_by": "demo-seed",
        "decider_level": "district" if kind == "warning" else "office",
        "decider_unit_id": None,
        "legal_ground": "《社区矫正法实施办法》第三十四条"
        if kind == "admonition"
        else "第三十五条",
        "evidence_event_ids": [],
        "document_number": None,
        "decided_at": event["recorded_at"],
    }
    return event, decision


def _trip(h: History, day: date, rng, now, unstable: int, last_day: date) -> None:
    start = day + timedelta(days=2)
    days = rng.randint(2, 10)
    end = start + timedelta(days=days - 1)
    if end + timedelta(days=7) > last_day:
        return
    requested = _at(day, rng)
    departed = _at(start, rng, 7, 12)
    late = rng.random() < 0.03 + 0.4 * unstable
    back_day = (
        end + timedelta(days=rng.randint(1, 6)) if late else end - timedelta(days=rng.randint(0, 1))
    )
    returned = _at(max(back_day, start), rng, 12, 20)
    h.permits.append(
        {
            "version": 1,
            "destination": "省内",
            "reason": "探亲/务工",
            "start_date": start,
            "end_date": end,
            "days": days,
            "approval_level": "office",
            "notify_procuratorate": False,
            "status": "returned",
            "requested_by_id": None,
            "requested_by": "demo-seed",
            "requested_at": requested,
            "decided_by_id": None,
            "decided_by": "demo-seed",
            "decided_at": requested + timedelta(hours=3),
            "decision_note": None,
            "departed_at": departed,
            "returned_at": returned,
        }
    )
    h.events.append(_event("travel_departure", departed, rng, now))
    h.events.append(_event("travel_return", returned, rng, now))


def _review(h: History, day: date, trouble: int, rng, rules_version: str) -> None:
    i = GRADE_ORDER.index(h.grade)
    if trouble >= 2 and i > 0:
        _move(
            h,
            GRADE_ORDER[i - 1],
            start_of_business_day(day) + timedelta(hours=8),
            "assessment",
            rules_version,
        )
    elif trouble == 0 and i < len(GRADE_ORDER) - 1 and rng.random() < 0.5:
        _move(
            h,
            GRADE_ORDER[i + 1],
            start_of_business_day(day) + timedelta(hours=8),
            "assessment",
            rules_version,
        )


def _move(h: History, to: str, at: datetime, kind: str, rules_version: str) -> None:
    if to == h.grade:
        return
    h.grades.append(
        {
            "version": 1,
            "kind": "automatic_stricter" if kind == "event" else "manual",
            "status": "effective",
            "from_grade": h.grade,
            "to_grade": to,
            "rules_version": rules_version,
            "inputs": {"demo": kind},
            "basis": f"demo:{at.isoformat()}",
            "reasons": [{"rule_id": f"demo_{kind}", "text_zh": "演示数据：等级调整"}],
            "note": None,
            "proposed_by_id": None,
            "proposed_by": "demo-seed",
            "proposed_at": at,
            "decided_by_id": None,
            "decided_by": "demo-seed",
            "decided_at": at,
            "effective_at": at,
        }
    )
    h.grade, h.grade_since = to, at


def add_true_probability(session, frame, day: date) -> None:
    """The generator's true probability of each snapshot row's person on ``day``, as the
    column ``true_probability`` (an ``enrich`` for ``risk.export.build``; for evaluating the
    model on generated data only, never a feature)."""
    from sqlalchemy import select

    from corrections.persons.models import Person

    ids = [int(p) for p in frame["person_id"]]
    rows = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for truth, term_end in session.execute(
            select(DemoTruth, Person.term_end)
            .join(Person, Person.id == DemoTruth.person_id)
            .where(DemoTruth.person_id.in_(chunk))
        ).all():
            rows[truth.person_id] = truth_at(truth, day, term_end)
    frame["true_probability"] = [rows.get(p, float("nan")) for p in ids]
