"""The sanction ladder as one pure function: (inputs, rules, today) -> proposals.

Every proposal names its kind, its article and its evidence (the events, obligations and
episodes it rests on, by id); a person decides it, nothing is applied here. Grounds:

- out of supervision (脱离监管): more than 10 days -> warning (实施办法 35(2)); more than one
  calendar month -> revocation / return to custody (46(2), 47(1), 49); none while an episode is
  only overdue; back within 10 days after lost contact -> admonition (34(1));
- late intake reporting (不按规定时间报到): the same thresholds, counted from the deadline;
- two admonitions not corrected -> warning (35(5)); two warnings not corrected -> revocation /
  return to custody (46(4), 47(2), 49(4)); "not corrected" is defined in rules/sanctions.yaml;
- a 禁止令 breach: minor -> warning (35(1)), serious -> revocation (46(1));
- 暂予监外执行 only (rules/sanctions.yaml ``custody_grounds``): a medical re-examination not
  submitted, a warning, and the next one not submitted either -> return to custody (49(5));
  the reason for temporary execution ceased before the term's end -> return to custody (49(6),
  刑事诉讼法 268(3)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from corrections.core.clock import add_months
from corrections.incidents.rules import IncidentRules, Quantity


@dataclass(frozen=True)
class Record:
    """A supervision event the ladder reads: a sanction, a commendation or a 禁止令 breach
    (corrected records already replaced by their corrections)."""

    event_id: int
    type: str
    on: date  # its Asia/Shanghai date
    severity: str | None = None  # of a 禁止令 breach


@dataclass(frozen=True)
class Missed:
    """An obligation window marked missed (the re-examinations of 暂予监外执行)."""

    obligation_id: int
    kind: str
    due_on: date


@dataclass(frozen=True)
class Episode:
    """An episode of lost contact: its state and when supervision was lost."""

    incident_id: int
    state: str
    lost_on: date
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    kind: str
    article: str
    # absence | late_intake | admonitions | warnings | prohibition | reexam_not_submitted |
    # condition_ended
    ground: str
    evidence: dict[str, Any]
    # Identifies the ground, so the same ground never proposes twice (None: one per episode
    # and kind).
    basis: str | None = None
    absence_days: int = 0


def _days(start: date, today: date) -> int:
    return max(0, (today - start).days)


def _thresholds(
    category: str,
    start: date,
    today: date,
    rules: IncidentRules,
    thresholds,
    ground: str,
    evidence: dict[str, Any],
    basis_prefix: str | None,
) -> list[Proposal]:
    days = _days(start, today)
    out = []
    if thresholds.warning_after.value < days:
        out.append(
            Proposal(
                "warning",
                thresholds.warning_article,
                ground,
                {**evidence, "days": days},
                f"{basis_prefix}:warning" if basis_prefix else None,
                days,
            )
        )
    if thresholds.revocation_after.exceeded(start, today):
        kind = rules.top_step(category)
        out.append(
            Proposal(
                kind,
                rules.top_article(category, "absence"),
                ground,
                {**evidence, "days": days},
                f"{basis_prefix}:{kind}" if basis_prefix else None,
                days,
            )
        )
    return out


def absence(category: str, episode: Episode, today: date, rules: IncidentRules) -> list[Proposal]:
    """What an open episode's time out of supervision proposes (nothing while only overdue)."""
    if episode.state == "overdue":
        return []
    evidence = {
        "incident_id": episode.incident_id,
        "out_of_supervision_since": episode.lost_on.isoformat(),
        **episode.evidence,
    }
    return _thresholds(
        category, episode.lost_on, today, rules, rules.absence, "absence", evidence, None
    )


def on_close(was_state: str, lost_on: date, today: date, rules: IncidentRules, evidence):
    """Closing an episode that reached lost contact within 10 days proposes an admonition."""
    if was_state == "overdue" or rules.absence.admonition_max.exceeded(lost_on, today):
        return []
    days = _days(lost_on, today)
    return [
        Proposal(
            "admonition",
            rules.absence.admonition_article,
            "absence",
            {**evidence, "out_of_supervision_since": lost_on.isoformat(), "days": days},
            None,
            days,
        )
    ]


def late_intake(
    category: str, deadline: date, reported_on: date | None, today: date, rules: IncidentRules
) -> list[Proposal]:
    """Reporting late for intake: counted from the day after the deadline to the report (or to
    today while not reported; an admonition only once reported)."""
    end = reported_on or today
    if end <= deadline:
        return []
    evidence = {
        "intake_deadline": deadline.isoformat(),
        "reported_on": reported_on.isoformat() if reported_on else None,
    }
    found = _thresholds(
        category, deadline, end, rules, rules.late_intake, "late_intake", evidence, "intake"
    )
    if not found and reported_on is not None:
        days = _days(deadline, end)
        found = [
            Proposal(
                "admonition",
                rules.late_intake.admonition_article,
                "late_intake",
                {**evidence, "days": days},
                "intake:admonition",
                days,
            )
        ]
    return found


def window_start(today: date, window: Quantity) -> date:
    """The first day of the "not corrected" window ending today."""
    if window.unit == "calendar_months":
        return add_months(today, -window.value)
    return today - timedelta(days=window.value)


def _live(records: list[Record], since: date, rules: IncidentRules) -> list[Record]:
    """The records not corrected: within the window from ``since`` and after the last reset
    (a commendation), in order."""
    last_reset = max((r.on for r in records if r.type in rules.reset_by), default=None)
    return sorted(
        (
            r
            for r in records
            if r.type not in rules.reset_by
            and r.on >= since
            and (last_reset is None or r.on > last_reset)
        ),
        key=lambda r: (r.on, r.event_id),
    )


def repeated(
    category: str, records: list[Record], today: date, rules: IncidentRules
) -> list[Proposal]:
    """The ladder over sanctions not corrected, and 禁止令 breaches."""
    since = window_start(today, rules.not_corrected_window)
    live = _live(records, since, rules)
    out: list[Proposal] = []
    # Admonitions count after the last warning: a warning is the ladder's answer to them.
    last_warning = max((r.on for r in live if r.type == "warning"), default=None)
    admonitions = [
        r for r in live if r.type == "admonition" and (last_warning is None or r.on > last_warning)
    ]
    step = rules.ladder["admonitions"]
    if len(admonitions) >= step["count"]:
        ids = [r.event_id for r in admonitions[: step["count"]]]
        out.append(
            Proposal(
                step["proposes"],
                step["article"],
                "admonitions",
                {"event_ids": ids, "since": since.isoformat()},
                "admonitions:" + ",".join(map(str, ids)),
            )
        )
    warnings = [r for r in live if r.type == "warning"]
    step = rules.ladder["warnings"]
    if len(warnings) >= step["count"]:
        ids = [r.event_id for r in warnings[: step["count"]]]
        kind = rules.top_step(category) if step["proposes"] == "revocation" else step["proposes"]
        article = (
            rules.top_article(category, "warnings")
            if step["proposes"] == "revocation"
            else step["article"]
        )
        out.append(
            Proposal(
                kind,
                article,
                "warnings",
                {"event_ids": ids, "since": since.isoformat()},
                "warnings:" + ",".join(map(str, ids)),
            )
        )
    for breach in (r for r in live if r.type == "prohibition_breach"):
        step = rules.prohibition_breach[breach.severity or "serious"]
        if step["proposes"] == "revocation":
            kind, article = rules.top_step(category), rules.top_article(category, "prohibition")
        else:
            kind, article = step["proposes"], step["article"]
        out.append(
            Proposal(
                kind,
                article,
                "prohibition",
                {"event_ids": [breach.event_id], "severity": breach.severity},
                f"prohibition:{breach.event_id}",
            )
        )
    return out


def custody(
    category: str,
    records: list[Record],
    missed: list[Missed],
    term_end: date,
    today: date,
    rules: IncidentRules,
) -> list[Proposal]:
    """Return to custody on the grounds of rules/sanctions.yaml ``custody_grounds``, for the
    category they name: ``records`` are the person's warnings and commendations (the ladder's
    window applies) and the events that record the reason ceased (none applies: the fact
    stands); ``missed`` the missed windows of the re-examination."""
    grounds = rules.custody_grounds
    if category != grounds["category"]:
        return []
    out: list[Proposal] = []
    ended = grounds["condition_ended"]
    for r in sorted(records, key=lambda r: (r.on, r.event_id)):
        if r.type == ended["event"] and r.on < term_end:
            out.append(
                Proposal(
                    "return_to_custody",
                    ended["article"],
                    "condition_ended",
                    {"event_ids": [r.event_id], "term_end": term_end.isoformat()},
                    f"condition_ended:{r.event_id}",
                )
            )
    step = grounds["reexam_not_submitted"]
    since = window_start(today, rules.not_corrected_window)
    reexams = sorted(
        (m for m in missed if m.kind == step["obligation"] and m.due_on >= since),
        key=lambda m: (m.due_on, m.obligation_id),
    )
    for warning in (r for r in _live(records, since, rules) if r.type == "warning"):
        before = [m for m in reexams if m.due_on < warning.on]
        after = [m for m in reexams if m.due_on > warning.on]
        if before and after:
            out.append(
                Proposal(
                    "return_to_custody",
                    step["article"],
                    "reexam_not_submitted",
                    {
                        "event_ids": [warning.event_id],
                        "obligation_ids": [before[-1].obligation_id, after[0].obligation_id],
                        "since": since.isoformat(),
                    },
                    f"reexam_not_submitted:{warning.event_id}",
                )
            )
    return out
