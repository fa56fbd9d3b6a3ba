"""What an alert is about, in one line for the command centre ("2026-11-20 报到未按期履行",
"失去联系（2026-11-18 起）"), from its kind, its detail (codes, counts and dates: never
personal data) and the day it was raised. The labels are the rules files', the sentences the
catalogue's (core/i18n.py); computed once per alert view, with no query."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from corrections.alerts import rules as alert_rules
from corrections.core import rules as registry
from corrections.core.clock import business_date
from corrections.core.i18n import ZH, Message, _, bilingual
from corrections.grading import rules as grading_rules
from corrections.incidents import rules as incident_rules
from corrections.supervision import rules as supervision_rules


def _day(value: Any) -> str:
    """A detail's date (``2026-11-20``) or instant (ISO, any offset) as its Asia/Shanghai day."""
    if isinstance(value, datetime):
        return business_date(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if len(text) == 10:
        return date.fromisoformat(text).isoformat()
    return business_date(datetime.fromisoformat(text)).isoformat()


def _obligation(kind: str) -> Message:
    return bilingual(kind, supervision_rules.current().obligations[kind].label_zh)


def _grade(grade_id: str) -> Message:
    return bilingual(grade_id, grading_rules.current().grade(grade_id).label_zh)


def _proposal(kind: str) -> Message:
    return bilingual(kind, incident_rules.current().label(kind))


_ALARMS = {
    "tamper": _("{day} {what}: the device was tampered with"),
    "boundary": _("{day} {what}: outside the permitted area"),
    "battery": _("{day} {what}: the battery is low"),
}


def _sentence(kind: str, what: Message, d: Mapping[str, Any], raised_on: str) -> Message | None:
    if kind == "obligation_missed":
        return _(
            "{day} {obligation} not fulfilled on time",
            day=_day(d["due_on"]),
            obligation=_obligation(d["obligation_kind"]),
        )
    if kind == "lost_contact":
        return _("{what} (since {day})", what=what, day=_day(d["overdue_since"]))
    if kind == "absconded":
        return _("{what} (confirmed on {day})", what=what, day=raised_on)
    if kind == "intake_overdue":
        return _("{what}, intake deadline {day}", what=what, day=_day(d["intake_deadline"]))
    if kind == "travel_overdue":
        return _("{what}, due back on {day}", what=what, day=_day(d["end_date"]))
    if kind == "term_ending":
        if d.get("stage") == "discharge_due":
            return _("The term ended on {day}: discharge is due", day=_day(d["term_end"]))
        return _(
            "The term ends on {day}: the summary and written assessment are due",
            day=_day(d["term_end"]),
        )
    if kind in ("monitoring_expiring", "flag_review_due"):
        end = d.get("end_date") or d.get("review_due_on")
        return _("{what}, due on {day}", what=what, day=_day(end))
    if kind == "monitor_alarm" and d.get("alarm") in _ALARMS:
        return _ALARMS[d["alarm"]].format(day=raised_on, what=what)
    if kind == "grade_approval_due":
        return _("{what}: to {grade}", what=what, grade=_grade(d["to_grade"]))
    if kind == "sanction_proposed":
        return _(
            "{what}: {proposal} ({article})",
            what=what,
            proposal=_proposal(d["proposal"]),
            article=registry.article_zh(d["article"]),
        )
    if kind == "high_risk":
        percent = round(float(d["probability"]) * 100)
        return _("{what} (probability {percent}%)", what=what, percent=percent)
    if kind == "model_drift":
        return _(
            "{what}: model {version}, monthly check {month}",
            what=what,
            version=d["model_version"],
            month=d["month"],
        )
    if kind in ("backup_failed", "backup_drill_failed") and d.get("run_id") is not None:
        return _("{what} (run {run_id})", what=what, run_id=d["run_id"])
    return None


def summary(
    kind: str,
    detail: Mapping[str, Any] | None,
    raised_at: datetime,
    rules: alert_rules.AlertRules | None = None,
) -> Message:
    """The alert's line (its kind's label where the detail says nothing more, or is not as
    expected: an alert raised by an older release). ``rules``: the alert rules, if the
    caller has them at hand."""
    what = bilingual(kind, (rules or alert_rules.current()).kind(kind)["label_zh"])
    try:
        sentence = _sentence(kind, what, detail or {}, business_date(raised_at).isoformat())
    except (KeyError, TypeError, ValueError):
        sentence = None
    return sentence or what


def summary_zh(
    kind: str,
    detail: Mapping[str, Any] | None,
    raised_at: datetime,
    rules: alert_rules.AlertRules | None = None,
) -> str:
    return summary(kind, detail, raised_at, rules).render(ZH)
