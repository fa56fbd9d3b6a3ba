"""The sanction proposals of a district (or the city) in one list: what waits for a decision
(``status=proposed``), across every person in the caller's scope, each with its person, its
ground and article, the records it rests on; decided one by one through
``service.decide_proposal``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from corrections.core.auth import SYSTEM, Actor
from corrections.incidents import rules as incident_rules
from corrections.incidents.models import IncidentProposal
from corrections.incidents.service import proposal_view
from corrections.persons import listing

# Evidence members naming records, and the kind of record each names.
_EVIDENCE_IDS = (
    ("incident_id", "incident"),
    ("event_ids", "event"),
    ("obligation_ids", "obligation"),
)
# What opened an episode, as its evidence's ``trigger`` names it ("obligation:12").
_TRIGGERS = ("obligation", "event")


def evidence_refs(proposal: IncidentProposal) -> list[dict[str, Any]]:
    """The records a proposal rests on, by kind and id: its episode, events, obligations."""
    evidence = proposal.evidence or {}
    refs = []
    if proposal.incident_id is not None:
        refs.append({"type": "incident", "id": proposal.incident_id})
    found = [
        (kind, ref_id)
        for key, kind in _EVIDENCE_IDS
        for ref_id in (
            evidence.get(key) if isinstance(evidence.get(key), list) else [evidence.get(key)]
        )
    ]
    kind, _sep, ref_id = str(evidence.get("trigger") or "").partition(":")
    if kind in _TRIGGERS and ref_id.isascii() and ref_id.isdigit():
        found.append((kind, int(ref_id)))
    for kind, ref_id in found:
        if isinstance(ref_id, int) and {"type": kind, "id": ref_id} not in refs:
            refs.append({"type": kind, "id": ref_id})
    return refs


def queue_view(p: IncidentProposal, rules: incident_rules.IncidentRules) -> dict[str, Any]:
    """A proposal as a queue lists it (before the person and the privacy policy are applied)."""
    ground = (p.evidence or {}).get("ground")
    return {
        **proposal_view(p, rules),
        "person_id": p.person_id,
        "ground": ground,
        "ground_label_zh": rules.ground_label(ground),
        "evidence_refs": evidence_refs(p),
        **listing.queue_fields(
            "sanction_proposal",
            proposed_zh=rules.label(p.kind),
            level=rules.kinds[p.kind]["decided_by"],
            # An officer with evidence, or the rules (the nightly job, an episode's close).
            proposed_by=p.proposed_by or SYSTEM.username,
            proposed_at=p.created_at,
            rules=[
                {"rule_id": ground, "label_zh": rules.ground_label(ground), "article": p.article}
            ],
        ),
    }


def proposal_queue(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    kind: list[str] | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Sanction proposals of the persons in ``actor``'s scope, the oldest first (a district's
    queue with ``status=proposed``), as ``actor`` may see them; the response audits the
    persons it shows."""
    stmt = listing.scoped(actor, select(IncidentProposal), IncidentProposal.person_id)
    if status is not None:
        stmt = stmt.where(IncidentProposal.status == status)
    if kind:
        stmt = stmt.where(IncidentProposal.kind.in_(kind))
    rows, total = listing.page(
        session,
        stmt,
        IncidentProposal.created_at,
        IncidentProposal.id,
        page=page,
        page_size=page_size,
    )
    rules = incident_rules.current()
    views = listing.present(
        session, actor, "proposal", [(person, queue_view(p, rules)) for p, person in rows]
    )
    return views, total
