"""The reasons and grounds a decision form offers, read from the rules files (never typed
here): each with its code (what the API takes), its Chinese label and the article it rests on
where the rules name one. A read model over every domain's rules, so it lives at the top.

Kinds (``kind``): the grades (``grade``) and the rules that make a grade stricter
(``grade_change``); the sanctions and who decides them (``sanction``); the grounds of an
admonition or warning (``sanction_ground``) and of revocation / return to custody / a police
penalty per category (``revocation_ground``); what a judicial office proposes a sanction on
(``proposal_ground``); electronic monitoring (``monitoring_ground``);
the ends of a term (``termination``, ``discharge``); flag levels (``flag_level``); the
conditions of a trip (``travel_condition``); how an episode of lost contact closes
(``incident_close``); detention by another authority (``detention``); the legal bases of an
unseal request (``unseal_basis``). A flag's and a trip's reasons are the officer's own words:
the rules list none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from corrections.alerts import rules as alert_rules
from corrections.core import rules as registry
from corrections.grading import rules as grading_rules
from corrections.incidents import rules as incident_rules
from corrections.persons import rules as person_rules
from corrections.persons.scope import LEVEL_ZH
from corrections.procedures import rules as procedure_rules
from corrections.supervision import rules as supervision_rules

Reason = dict[str, Any]


def _reason(kind: str, code: str, label_zh: str | None, **more: Any) -> Reason:
    out = {"kind": kind, "code": code, "label_zh": label_zh, "article": None, "basis": None}
    out.update({k: v for k, v in more.items() if v is not None})
    if out.get("level") in LEVEL_ZH:
        out["level_label_zh"] = LEVEL_ZH[out["level"]]
    return out


def _grades() -> Iterator[Reason]:
    rules = grading_rules.current()
    for grade in rules.grades:
        yield _reason(
            "grade",
            grade.id,
            grade.label_zh,
            grade_level=grade.level,
            grade_level_label_zh=rules.levels[grade.level]["label_zh"],
        )


def _grade_changes() -> Iterator[Reason]:
    rules = grading_rules.current()
    for rule in rules.stricter_rules:
        at_least = rule.data["at_least"]
        yield _reason(
            "grade_change",
            rule.id,
            rule.label_zh,
            proposes=at_least,
            proposes_label_zh=rules.grade(at_least).label_zh,
        )


def _sanctions() -> Iterator[Reason]:
    for code, kind in registry.get("sanctions")["kinds"].items():
        yield _reason(
            "sanction",
            code,
            kind["label_zh"],
            article=kind["article"],
            basis=kind["basis"],
            level=kind["decided_by"],
        )


def _sanction_grounds() -> Iterator[Reason]:
    """The grounds of the steps below the top one (an admonition, a warning)."""
    rules = incident_rules.current()
    incidents, sanctions = registry.get("incidents"), registry.get("sanctions")
    steps = []
    for ground in ("absence", "late_intake"):
        thresholds = incidents[ground]
        steps += [
            (ground, "admonition", thresholds["admonition_article"], thresholds["basis"]),
            (ground, "warning", thresholds["warning_article"], thresholds["basis"]),
        ]
    step = sanctions["ladder"]["admonitions"]
    steps.append(("admonitions", step["proposes"], step.get("article"), step["basis"]))
    breach = sanctions["prohibition_breach"]["minor"]
    steps.append(("prohibition", breach["proposes"], breach.get("article"), breach["basis"]))
    for ground, proposes, article, basis in steps:
        yield _reason(
            "sanction_ground",
            f"{ground}:{proposes}",
            rules.ground_label(ground),
            article=article,
            basis=basis,
            ground=ground,
            proposes=proposes,
            proposes_label_zh=rules.label(proposes),
        )


def _revocation_grounds() -> Iterator[Reason]:
    """The top step per category (revocation, return to custody, a police penalty) on each
    ground, and the grounds of return to custody beyond the ladder."""
    rules = incident_rules.current()
    persons = person_rules.current()
    breach_for = supervision_rules.current().event_types["prohibition_breach"]
    for category, top in rules.revocation_by_category.items():
        category_label = persons.categories[category].label_zh
        for ground, article_of in (
            ("absence", "absence"),
            ("late_intake", "absence"),  # counted like an absence (ladder._thresholds)
            ("warnings", "warnings"),
            ("prohibition", "prohibition"),
        ):
            if ground == "prohibition" and not breach_for.allows(category):
                continue  # a 禁止令 is imposed with 管制 or 缓刑 only: never breached
            yield _reason(
                "revocation_ground",
                f"{category}:{ground}",
                rules.ground_label(ground),
                article=top[article_of],
                ground=ground,
                category=category,
                category_label_zh=category_label,
                proposes=top["proposes"],
                proposes_label_zh=rules.label(top["proposes"]),
            )
    custody = rules.custody_grounds
    category = custody["category"]
    for ground, spec in custody.items():
        if not isinstance(spec, dict):
            continue
        yield _reason(
            "revocation_ground",
            f"{category}:{ground}",
            spec["label_zh"],
            article=spec["article"],
            basis=spec["basis"],
            ground=ground,
            category=category,
            category_label_zh=persons.categories[category].label_zh,
            proposes="return_to_custody",
            proposes_label_zh=rules.label("return_to_custody"),
        )


def _proposal_grounds() -> Iterator[Reason]:
    """What a judicial office proposes a sanction on (POST /persons/{id}/proposals): each
    ground with the kind it proposes and, where it is limited, the categories it applies to."""
    rules = incident_rules.current()
    persons = person_rules.current()
    for kind, grounds in rules.officer_grounds.items():
        for ground in grounds:
            categories = ground.get("categories")
            yield _reason(
                "proposal_ground",
                ground["code"],
                ground["label_zh"],
                article=ground["article"],
                basis="statute",
                level=rules.kinds[kind]["decided_by"],
                proposes=kind,
                proposes_label_zh=rules.label(kind),
                categories=categories,
                categories_label_zh=(
                    [persons.categories[c].label_zh for c in categories] if categories else None
                ),
            )


def _monitoring_grounds() -> Iterator[Reason]:
    rules = supervision_rules.current()
    basis = rules.decision_levels["monitoring"].basis
    for code, ground in rules.monitoring_grounds.items():
        yield _reason(
            "monitoring_ground",
            code,
            ground["label_zh"],
            article=ground["article"],
            basis=basis,
            number=ground["number"],
        )


# The ends of a term a form chooses (the schemas' values) and their labels' keys in
# rules/procedures.yaml (``exit_ban.lift_on_term_end``, the ends of a term by kind).
_TERMINATIONS = (("revocation", "revocation"), ("return_to_custody", "return_to_custody"))
_TERMINATIONS += (("death", "death"),)
_DISCHARGES = (("expiry", "discharge"), ("pardon", "pardon"))


def _term_ends(kind: str, decision: str, codes) -> Iterator[Reason]:
    labels = procedure_rules.current().lift_on_term_end
    rule = supervision_rules.current().decision_levels[decision]
    for code, label_key in codes:
        yield _reason(
            kind,
            code,
            labels[label_key],
            article=rule.article,
            basis=rule.basis,
            level=rule.level,
        )


def _flag_levels() -> Iterator[Reason]:
    for code, label in alert_rules.current().labels["flag_levels"].items():
        yield _reason("flag_level", code, label, level=code)


def _travel_conditions() -> Iterator[Reason]:
    for code, condition in grading_rules.current().travel_conditions.items():
        yield _reason(
            "travel_condition",
            code,
            condition["label_zh"],
            article=condition.get("article"),
            basis=condition.get("basis"),
        )


# How a person closes an episode (the system closes one as ``detained``).
INCIDENT_CLOSE_REASONS = ("returned", "found", "custody", "revoked")


def _incident_closes() -> Iterator[Reason]:
    labels = incident_rules.current().close_reason_labels
    for code in INCIDENT_CLOSE_REASONS:
        yield _reason("incident_close", code, labels[code])


def _detentions() -> Iterator[Reason]:
    rules = supervision_rules.current()
    basis = rules.raw["detention"]["basis"]
    for code, label in rules.detention_kinds.items():
        yield _reason("detention", code, label, article=rules.detention_article, basis=basis)


def _unseal_bases() -> Iterator[Reason]:
    for code, basis in person_rules.current().sealing.legal_bases.items():
        yield _reason("unseal_basis", code, basis["label_zh"], article=basis.get("article"))


KINDS: dict[str, Callable[[], Iterator[Reason]]] = {
    "grade": _grades,
    "grade_change": _grade_changes,
    "sanction": _sanctions,
    "sanction_ground": _sanction_grounds,
    "revocation_ground": _revocation_grounds,
    "proposal_ground": _proposal_grounds,
    "monitoring_ground": _monitoring_grounds,
    "termination": lambda: _term_ends("termination", "termination", _TERMINATIONS),
    "discharge": lambda: _term_ends("discharge", "discharge", _DISCHARGES),
    "flag_level": _flag_levels,
    "travel_condition": _travel_conditions,
    "incident_close": _incident_closes,
    "detention": _detentions,
    "unseal_basis": _unseal_bases,
}


def reasons(kinds: list[str] | None = None) -> list[Reason]:
    """The reasons of ``kinds`` (all without), in the rules files' order."""
    return [reason for kind in (kinds or KINDS) for reason in KINDS[kind]()]
