"""The travel-approval decision (外出, 社区矫正法 27; 实施办法 26–28): a pure function of the
request, the person's other trips, the rules and the day, like the grading engine.

Who approves: up to ``office_max_days`` the judicial office, up to ``district_max_days`` the
district (county-level agency); a longer single trip, or more than the window's total within
its months, the city, and the procuratorate is notified. A grade never forbids a legitimate
trip (Art. 27): it may raise the level, shorten the maximum and add conditions. The numbers and
articles are in ``rules/supervision.yaml`` (``travel``) and ``rules/grading.yaml`` (each grade's
``requirements.travel``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from corrections.core.clock import add_months
from corrections.core.i18n import ZH, _, bilingual

LEVEL_RANK = {"office": 0, "district": 1, "city": 2}


@dataclass(frozen=True)
class Rule:
    """One rule as data: its id, value and article, and whether the number is the law's."""

    id: str
    article: str
    basis: str


@dataclass(frozen=True)
class TravelRules:
    version: str
    office_max_days: int
    district_max_days: int
    window_months: int
    window_max_total_days: int
    notify_procuratorate_on_city: bool
    rules: dict[str, Rule]

    def label_zh(self, rule_id: str | None) -> str | None:
        """A decision reason's rule in Chinese, from the numbers in force (decision lists)."""
        labels = {
            "travel.office_max_days": f"外出{self.office_max_days}日以内由司法所审批，"
            f"{self.district_max_days}日以内由县级社区矫正机构审批",
            "travel.district_max_days": f"外出超过{self.district_max_days}日由市级审批",
            "travel.window": f"{self.window_months}个月内累计外出超过"
            f"{self.window_max_total_days}日由市级审批",
            "travel.city_approval_notifies": "市级批准的外出通知人民检察院",
        }
        if rule_id in labels:
            return labels[rule_id]
        if rule_id and rule_id.startswith("grading.") and rule_id.endswith(".travel"):
            grade = rule_id.split(".")[1]
            return f"{_grade_name(grade).render(ZH)}等级的外出管理要求"
        return None

    @classmethod
    def from_yaml(cls, supervision: dict[str, Any]) -> TravelRules:
        t = supervision["travel"]

        def rule(key: str) -> Rule:
            return Rule(f"travel.{key}", t[key]["article"], t[key]["basis"])

        return cls(
            version=supervision["version"],
            office_max_days=t["office_max_days"]["value"],
            district_max_days=t["district_max_days"]["value"],
            window_months=t["window"]["months"],
            window_max_total_days=t["window"]["max_total_days"],
            notify_procuratorate_on_city=t["city_approval_notifies"]["procuratorate"],
            rules={
                k: rule(k)
                for k in (
                    "office_max_days",
                    "district_max_days",
                    "window",
                    "city_approval_notifies",
                )
            },
        )


@dataclass(frozen=True)
class GradeTravel:
    """What the person's grade adds to a trip (``rules/grading.yaml``)."""

    grade: str
    approver: str = "office"
    max_days: int | None = None
    conditions: tuple[str, ...] = ()
    rules_version: str = ""
    # The grade's Chinese name (严格), for the messages that name it.
    label_zh: str = ""


@dataclass(frozen=True)
class Trip:
    start: date
    end: date


@dataclass(frozen=True)
class Reason:
    rule: str
    article: str
    text: str  # a refusal's is a message (core/i18n.py), shown in the client's language

    def as_json(self) -> dict[str, str]:
        return {"rule_id": self.rule, "article": self.article, "explanation": self.text}


@dataclass(frozen=True)
class TravelDecision:
    days: int
    window_total_days: int
    approval_level: str
    conditions: tuple[str, ...]
    notify_procuratorate: bool
    # Why the level, the conditions and the notification are what they are.
    reasons: tuple[Reason, ...]
    # Why the request cannot be granted at all (empty when it can).
    refusals: tuple[Reason, ...] = field(default=())
    rules_version: str = ""

    @property
    def refused(self) -> bool:
        return bool(self.refusals)


def _overlap(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)


def decide(
    start: date,
    end: date,
    *,
    other_trips: tuple[Trip, ...] | list[Trip],
    rules: TravelRules,
    grade: GradeTravel,
    today: date,
) -> TravelDecision:
    """The decision for a trip from ``start`` to ``end`` (both days included)."""
    days = (end - start).days + 1
    window_start = add_months(end, -rules.window_months) + timedelta(days=1)
    total = days + sum(_overlap(window_start, end, t.start, t.end) for t in other_trips)
    r = rules.rules
    reasons: list[Reason] = []
    refusals: list[Reason] = []
    if start < today:
        refusals.append(Reason("travel.start_in_past", "", _("start_date must not be in the past")))
    if end < start:
        refusals.append(Reason("travel.end_before_start", "", _("end_date is before start_date")))
    if days <= rules.office_max_days:
        level = "office"
        reasons.append(
            Reason(
                "travel.office_max_days",
                r["office_max_days"].article,
                f"{days} days, at most {rules.office_max_days}: the judicial office approves",
            )
        )
    elif days <= rules.district_max_days:
        level = "district"
        reasons.append(
            Reason(
                "travel.office_max_days",
                r["office_max_days"].article,
                f"{days} days, over {rules.office_max_days}: the district approves",
            )
        )
    else:
        level = "city"
        reasons.append(
            Reason(
                "travel.district_max_days",
                r["district_max_days"].article,
                f"{days} days, over {rules.district_max_days}: the city approves",
            )
        )
    if total > rules.window_max_total_days and level != "city":
        level = "city"
        reasons.append(
            Reason(
                "travel.window",
                r["window"].article,
                f"{total} days within {rules.window_months} months, over "
                f"{rules.window_max_total_days}: the city approves",
            )
        )
    grade_rule = f"grading.{grade.grade}.travel"
    if LEVEL_RANK[grade.approver] > LEVEL_RANK[level]:
        level = grade.approver
        reasons.append(
            Reason(grade_rule, "社区矫正法 27", f"the grade {grade.grade} raises it to {level}")
        )
    if grade.max_days is not None and days > grade.max_days:
        refusals.append(
            Reason(
                grade_rule,
                "社区矫正法 27",
                _(
                    "the grade {grade} allows trips of at most {days} days",
                    grade=bilingual(grade.grade, grade.label_zh or grade.grade),
                    days=grade.max_days,
                ),
            )
        )
    if grade.conditions:
        reasons.append(
            Reason(
                grade_rule,
                "实施办法 28 (UNVERIFIED)",
                f"the grade {grade.grade} adds: {', '.join(grade.conditions)}",
            )
        )
    notify = level == "city" and rules.notify_procuratorate_on_city
    if notify:
        reasons.append(
            Reason(
                "travel.city_approval_notifies",
                r["city_approval_notifies"].article,
                "the procuratorate is notified",
            )
        )
    version = rules.version + (f"+{grade.rules_version}" if grade.rules_version else "")
    return TravelDecision(
        days=days,
        window_total_days=total,
        approval_level=level,
        conditions=grade.conditions,
        notify_procuratorate=notify,
        reasons=tuple(reasons),
        refusals=tuple(refusals),
        rules_version=version,
    )


def _grade_name(grade_id: str):
    """A grade as a message names it: 严格 in Chinese, strict in English."""
    from corrections.grading import rules as grading_rules

    return bilingual(grade_id, grading_rules.current().grade(grade_id).label_zh)
