"""Who decides what, at which level, on which article: the checks every decision recorded
in the supervision log passes (a sanction, a commendation, a police-penalty proposal)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.core import rules as registry
from corrections.core.auth import Actor
from corrections.core.clock import add_months, business_date, start_of_business_day
from corrections.core.errors import Forbidden, RuleViolation
from corrections.core.i18n import _
from corrections.persons.models import Person
from corrections.persons.scope import (
    LEVEL_RANK,
    require_level,
)
from corrections.supervision.common import category_text, current_rules, event_text
from corrections.supervision.models import (
    SanctionDecision,
    SupervisionEvent,
)
from corrections.supervision.rules import SANCTIONS, DecisionRule


def decision_rule(kind: str) -> DecisionRule:
    """Who decides ``kind`` and on which article: a sanction's level is in
    ``rules/sanctions.yaml`` (``kinds``), every other decision's in ``rules/supervision.yaml``
    (``decision_levels``)."""
    if kind in ("admonition", "warning"):
        rule = registry.get("sanctions")["kinds"][kind]
        return DecisionRule(level=rule["decided_by"], article=rule["article"], basis="statute")
    return current_rules().decision_levels[kind]


def require_decision_level(actor: Actor, person: Person, kind: str, what: str) -> str:
    """The actor's level for a decision of ``kind``, or Forbidden naming the rule."""
    rule = decision_rule(kind)
    if rule.level == "district_head":
        have = require_level(
            actor, person, "district", _("{what} ({article})", what=what, article=rule.article)
        )
        if actor.username not in (current_app.config.get("DISTRICT_HEADS") or ()):
            raise Forbidden(
                _(
                    "{what} is approved by the head of the county-level justice bureau "
                    "({article}); this account is not one (DISTRICT_HEADS).",
                    what=what,
                    article=rule.article,
                )
            )
        return have
    return require_level(
        actor, person, rule.level, _("{what} ({article})", what=what, article=rule.article)
    )


def check_decision(
    session: Session,
    actor: Actor,
    person: Person,
    data: dict[str, Any],
    corrects: SupervisionEvent | None,
    now: datetime,
) -> tuple[str, str]:
    """A decision recorded as an event (a sanction, a commendation, a police-penalty proposal
    or the police's decision): the level it needs, its conditions and its evidence. Returns
    (the actor's level, the article)."""
    kind = data["type"]
    rule = decision_rule(kind)
    needed = rule.level
    if corrects is not None:
        # A correction needs the level of the decision it corrects.
        corrected = session.scalar(
            select(SanctionDecision.decider_level).where(SanctionDecision.event_id == corrects.id)
        )
        if corrected is not None and LEVEL_RANK[corrected] > LEVEL_RANK.get(needed, 1):
            needed = corrected
        level = require_level(
            actor,
            person,
            needed,
            _("Correcting a {kind} ({article})", kind=event_text(kind), article=rule.article),
        )
    else:
        level = require_decision_level(actor, person, kind, _("The {kind}", kind=event_text(kind)))
    if kind in SANCTIONS and corrects is None:
        refused = current_rules().refused_for[kind]
        if person.category in refused:
            raise RuleViolation(
                _(
                    "a {kind} cannot be given to a person on {category}",
                    kind=event_text(kind),
                    category=category_text(person.category),
                ),
                field="type",
            )
    if kind == "commendation" and corrects is None:
        _check_commendation(session, person, rule, now)
    if kind == "police_penalty" and corrects is None:
        proposal = session.scalar(
            select(SupervisionEvent.id).where(
                SupervisionEvent.id == data["payload"]["proposal_event_id"],
                SupervisionEvent.person_id == person.id,
                SupervisionEvent.type == "police_penalty_proposal",
            )
        )
        if proposal is None:
            raise RuleViolation(
                _(
                    "the police decide on the agency's proposal (提请治安管理处罚, "
                    "{article}): name a police_penalty_proposal of this person",
                    article=rule.article,
                ),
                field="payload.proposal_event_id",
            )
    ids = sorted(set(data["payload"].get("evidence_event_ids") or ()))
    if ids:
        _check_evidence(session, person, ids)
    return level, rule.article


def _check_commendation(
    session: Session, person: Person, rule: DecisionRule, now: datetime
) -> None:
    """表扬 only after the rules' months under supervision without any sanction."""
    months = rule.sanction_free_months
    if not months:
        return
    since = add_months(business_date(now), -months)
    if person.term_start > since:
        raise RuleViolation(
            _(
                "a commendation needs {months} months under supervision without sanction "
                "(supervised since {since})",
                months=months,
                since=person.term_start,
            ),
            field="type",
        )
    last = session.scalar(
        select(SupervisionEvent.occurred_at)
        .where(
            SupervisionEvent.person_id == person.id,
            SupervisionEvent.type.in_(SANCTIONS),
            SupervisionEvent.occurred_at >= start_of_business_day(since),
        )
        .limit(1)
    )
    if last is not None:
        raise RuleViolation(
            _(
                "a commendation needs {months} months without sanction; one was given on {day}",
                months=months,
                day=business_date(last),
            ),
            field="type",
        )


def _check_evidence(session: Session, person: Person, ids: list[int]) -> None:
    found = set(
        session.scalars(
            select(SupervisionEvent.id).where(
                SupervisionEvent.id.in_(ids), SupervisionEvent.person_id == person.id
            )
        )
    )
    if found != set(ids):
        raise RuleViolation(
            _(
                "evidence must be events of this person: unknown {ids}",
                ids=", ".join(str(i) for i in sorted(set(ids) - found)),
            ),
            field="payload.evidence_event_ids",
        )
