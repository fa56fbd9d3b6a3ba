"""The grading engine: pure functions from (facts, history, rules, today) to results.

No database, no Flask. Every result names the rule ids that fired and the inputs it used, so a
stored decision can always be explained and replayed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from corrections.core.clock import add_months
from corrections.grading.rules import GradingRules


@dataclass(frozen=True)
class Reason:
    rule_id: str
    text_zh: str


@dataclass(frozen=True)
class GradeResult:
    grade: str
    reasons: tuple[Reason, ...]
    inputs: dict[str, Any]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons)


# --- intake ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonFacts:
    category: str
    has_guarantor: bool
    juvenile: bool
    intake_risk: str | None


def initial_grade(facts: PersonFacts, rules: GradingRules) -> GradeResult:
    """The grade a new intake starts in: the first intake rule whose conditions all hold."""
    inputs = asdict(facts)
    for rule in rules.intake_rules:
        if all(inputs.get(key) == value for key, value in rule.data["when"].items()):
            return GradeResult(rule.data["grade"], (Reason(rule.id, rule.label_zh),), inputs)
    raise ValueError("no intake rule matched; the rules file needs a catch-all rule")


# --- events that force a stricter grade --------------------------------------------------


def stricter_for(current: str, event_kind: str, rules: GradingRules) -> GradeResult | None:
    """The stricter grade an event forces at once, or None if the person is strict enough."""
    rank = rules.grade(current).rank
    best: tuple[int, Any] | None = None
    for rule in rules.stricter_rules:
        if event_kind in rule.data["events"]:
            target = rules.grade(rule.data["at_least"])
            if target.rank < rank and (best is None or target.rank < best[0]):
                best = (target.rank, rule)
    if best is None:
        return None
    rule = best[1]
    return GradeResult(
        rule.data["at_least"],
        (Reason(rule.id, rule.label_zh),),
        {"from_grade": current, "event": event_kind},
    )


# --- monthly assessment ------------------------------------------------------------------


@dataclass(frozen=True)
class ObligationOutcome:
    kind: str  # report, check, visit, education, service
    status: str  # fulfilled, missed, excused, open
    hours_required: float = 0.0
    hours_done: float = 0.0


@dataclass(frozen=True)
class EventRecord:
    kind: str
    on: date


@dataclass(frozen=True)
class MonthInputs:
    month: date  # first day of the month
    obligations: tuple[ObligationOutcome, ...] = ()
    events: tuple[EventRecord, ...] = ()


@dataclass(frozen=True)
class Deduction:
    rule_id: str
    text_zh: str
    count: float
    points: int


@dataclass(frozen=True)
class AssessmentResult:
    month: date
    score: int
    rating: str
    deductions: tuple[Deduction, ...]
    reasons: tuple[Reason, ...]
    evidence: int  # obligations and events the score rests on; 0 = nothing on record
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.evidence > 0


def assess_month(inputs: MonthInputs, rules: GradingRules) -> AssessmentResult:
    """Score one month: base points minus deductions; a listed sanction fails the month."""
    deductions: list[Deduction] = []
    for rule in rules.deductions:
        d = rule.data
        if "obligation" in d:
            matching = [o for o in inputs.obligations if o.kind == d["obligation"]]
            if "points_per_hour" in d:
                short = sum(
                    max(0.0, o.hours_required - o.hours_done)
                    for o in matching
                    if o.status != "excused"
                )
                points = round(short * d["points_per_hour"])
                count = short
            else:
                count = sum(1 for o in matching if o.status == "missed")
                points = count * d["points"]
        else:
            count = sum(1 for e in inputs.events if e.kind == d["event"])
            points = count * d.get("points", 0)
        if points > 0:
            deductions.append(Deduction(rule.id, rule.label_zh, count, points))
    score = max(0, rules.base_points - sum(d.points for d in deductions))
    reasons = [Reason(d.rule_id, d.text_zh) for d in deductions]
    sanctions = sorted({e.kind for e in inputs.events if e.kind in rules.fail_on})
    if sanctions:
        rating = "fail"
        reasons.append(
            Reason("assessment_fail_on_sanction", "当月受到训诫、警告或治安管理处罚的，考核不合格")
        )
    else:
        rating = next(r["id"] for r in rules.ratings if score >= r["min_score"])
        reasons.append(
            Reason(
                f"rating_{rating}", next(r["label_zh"] for r in rules.ratings if r["id"] == rating)
            )
        )
    evidence = len(inputs.obligations) + len(inputs.events)
    return AssessmentResult(
        month=inputs.month,
        score=score,
        rating=rating,
        deductions=tuple(deductions),
        reasons=tuple(reasons),
        evidence=evidence,
        inputs={
            "month": inputs.month.isoformat(),
            "obligations": [asdict(o) for o in inputs.obligations],
            "events": [{"kind": e.kind, "on": e.on.isoformat()} for e in inputs.events],
        },
    )


# --- looser moves ------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentSummary:
    month: date
    score: int
    rating: str
    complete: bool


@dataclass(frozen=True)
class GradeHistory:
    current_grade: str
    grade_since: date
    intake_date: date
    # Since when the person has been out of the strict level without a break (None: still in it).
    out_of_strict_level_since: date | None
    assessments: tuple[AssessmentSummary, ...]
    sanctions: tuple[EventRecord, ...]
    commendations: tuple[EventRecord, ...]
    risk_band: str | None = None


@dataclass(frozen=True)
class LooserEvaluation:
    eligible: bool
    to_grade: str | None
    reasons: tuple[Reason, ...]  # the rules that were met
    unmet: tuple[Reason, ...]  # the rules that were not
    inputs: dict[str, Any]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons)


def _months_between(start: date, end: date, months: int) -> bool:
    """True when at least ``months`` calendar months have passed from start to end."""
    return add_months(start, months) <= end


def _previous_month(d: date) -> date:
    return add_months(d.replace(day=1), -1)


def evaluate_looser(history: GradeHistory, rules: GradingRules, today: date) -> LooserEvaluation:
    """Whether the person may be proposed one grade looser today, and why (not)."""
    current = rules.grade(history.current_grade)
    cfg = rules.looser
    met: list[Reason] = []
    unmet: list[Reason] = []

    def check(ok: bool, rule_id: str, text: str) -> None:
        (met if ok else unmet).append(Reason(rule_id, text))

    if current.rank + 1 >= len(rules.grades):
        return LooserEvaluation(
            False,
            None,
            (),
            (Reason("looser_one_step", "已是最宽松等级"),),
            {"current_grade": current.id},
        )
    target = rules.grades[current.rank + 1]

    check(
        _months_between(history.intake_date, today, rules.intake_period_months),
        "looser_after_initial_period",
        f"入矫满{rules.intake_period_months}个月",
    )
    check(
        _months_between(history.grade_since, today, cfg["min_months_in_grade"]),
        "looser_min_months_in_grade",
        f"在当前等级满{cfg['min_months_in_grade']}个月",
    )

    needed = cfg["good_assessments_required"]
    expected_months = []
    month = _previous_month(today)
    for _ in range(needed):
        expected_months.append(month)
        month = _previous_month(month)
    by_month = {a.month: a for a in history.assessments}
    recent = [by_month.get(m) for m in expected_months]
    check(
        all(a is not None and a.complete and a.rating == "good" for a in recent),
        "looser_good_assessments",
        f"最近{needed}个月考核均为好",
    )

    since = add_months(today, -cfg["sanction_free_months"])
    recent_sanctions = [s for s in history.sanctions if s.kind in cfg["sanctions"] and s.on > since]
    check(
        not recent_sanctions,
        "looser_sanction_free",
        f"最近{cfg['sanction_free_months']}个月未受处罚",
    )

    if target.level == "lenient":
        extra = cfg["into_lenient_level"]
        scores = [a.score for a in recent if a is not None]
        average = sum(scores) / len(scores) if len(scores) == needed else 0.0
        by_time_and_score = (
            history.out_of_strict_level_since is not None
            and _months_between(
                history.out_of_strict_level_since, today, extra["months_out_of_strict_level"]
            )
            and average >= extra["quarterly_average_score_min"]
        )
        last_sanction = max((s.on for s in history.sanctions), default=None)
        streak = [c for c in history.commendations if last_sanction is None or c.on > last_sanction]
        by_commendations = len(streak) >= extra["consecutive_commendations"]
        by_risk = history.risk_band == extra["risk_band"]
        options = []
        if by_time_and_score:
            options.append(
                Reason(
                    "looser_into_lenient_time_and_score",
                    f"普管满{extra['months_out_of_strict_level']}个月且季度平均分"
                    f"不低于{extra['quarterly_average_score_min']}",
                )
            )
        if by_commendations:
            options.append(
                Reason(
                    "looser_into_lenient_commendations",
                    f"连续{extra['consecutive_commendations']}次表扬",
                )
            )
        if by_risk:
            options.append(Reason("looser_into_lenient_low_risk", "再犯风险评估为低"))
        if options:
            met.extend(options)
        else:
            unmet.append(
                Reason(
                    "looser_into_lenient_level",
                    "进入宽管需普管满期且分数达标、连续表扬或低风险之一",
                )
            )

    met.append(Reason("looser_one_step", f"逐级放宽：{current.label_zh} → {target.label_zh}"))
    inputs = {
        "current_grade": current.id,
        "grade_since": history.grade_since.isoformat(),
        "intake_date": history.intake_date.isoformat(),
        "out_of_strict_level_since": history.out_of_strict_level_since.isoformat()
        if history.out_of_strict_level_since
        else None,
        "assessments": [
            {
                "month": a.month.isoformat(),
                "score": a.score,
                "rating": a.rating,
                "complete": a.complete,
            }
            for a in history.assessments
        ],
        "sanctions": [{"kind": s.kind, "on": s.on.isoformat()} for s in history.sanctions],
        "commendations": [c.on.isoformat() for c in history.commendations],
        "risk_band": history.risk_band,
        "today": today.isoformat(),
    }
    return LooserEvaluation(not unmet, target.id, tuple(met), tuple(unmet), inputs)


def next_review_date(last_decision_on: date, rules: GradingRules) -> date:
    """Re-grading is reviewed at least every N months after the last decision."""
    return add_months(last_decision_on, rules.review_interval_months)
