"""Where the domain's decisions write their exchange messages (rules/exchange.yaml names who
gets what): each function is called in the decision's own transaction, so the message exists
exactly when the decision does."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corrections.exchange import outbox
from corrections.exchange.models import OutboxMessage
from corrections.exchange.rules import TYPE_PREFIX
from corrections.persons.models import Person

# A decision recorded as an event (supervision/events.py) and the message it writes.
_SANCTION_EVENTS = {
    "warning": "sanction.warning.decided",
    "police_penalty_proposal": "sanction.police_penalty.proposed",
}
# An accepted proposal of the top step and the message to the court it becomes.
_PROPOSALS = {"revocation": "revocation.proposed", "return_to_custody": "custody.proposed"}


def _decision(
    kind: str,
    label_zh: str | None,
    at: datetime,
    *,
    level: str | None = None,
    article: str | None = None,
    legal_ground: str | None = None,
    document_number: str | None = None,
    ended_on: date | None = None,
) -> dict[str, Any]:
    facts = {
        "decision.kind": kind,
        "decision.label_zh": label_zh,
        "decision.decided_at": at,
        "decision.level": level,
        "decision.article": article,
        "decision.legal_ground": legal_ground,
        "decision.document_number": document_number,
        "decision.ended_on": ended_on,
    }
    return {k: v for k, v in facts.items() if v is not None}


def sanction_decided(session: Session, person: Person, decision, label_zh: str, now: datetime):
    """A warning, or a request to the police for a penalty, decided (SanctionDecision)."""
    name = _SANCTION_EVENTS.get(decision.kind)
    if name is None:
        return []
    facts = _decision(
        decision.kind,
        label_zh,
        decision.decided_at,
        level=decision.decider_level,
        article=decision.article,
        legal_ground=decision.legal_ground,
        document_number=decision.document_number,
    )
    document = outbox.document_hash(decision.document_number, decision.legal_ground)
    return outbox.emit(session, name, person=person, facts=facts, now=now, document=document)


def proposal_accepted(session: Session, person: Person, proposal, label_zh: str, now: datetime):
    """The district accepted a revocation / return-to-custody proposal: to the court, with a
    copy to the procuratorate (社区矫正法 46, 49)."""
    name = _PROPOSALS.get(proposal.kind)
    if name is None:
        return []
    facts = _decision(
        proposal.kind,
        label_zh,
        now,
        level="district",
        article=proposal.article,
        legal_ground=_ground(proposal),
        document_number=proposal.decision_document_number,
    )
    return outbox.emit(
        session, name, person=person, facts=facts, now=now, document=proposal_document(proposal)
    )


def _ground(proposal) -> str | None:
    evidence = proposal.evidence or {}
    return evidence.get("facts") or evidence.get("ground")


def proposal_document(proposal) -> str | None:
    """The document hash of a proposal's message: it names the proposal, so a ruling that
    answers the message finds it (exchange/inbound.py)."""
    return outbox.document_hash(f"proposal:{proposal.id}", proposal.article, _ground(proposal))


def travel_approved(session: Session, person: Person, permit, now: datetime):
    """A trip approved by the city, notified to the procuratorate (实施办法 27)."""
    if not permit.notify_procuratorate or permit.status != "approved":
        return []
    facts = {
        "travel.start_date": permit.start_date,
        "travel.end_date": permit.end_date,
        "travel.days": permit.days,
        "travel.destination": permit.destination,
        "decision.decided_at": now,
    }
    return outbox.emit(session, "travel.city_approved", person=person, facts=facts, now=now)


def case_ended(session: Session, person: Person, end, label_zh: str, now: datetime):
    """A discharge (解除, 社区矫正法 44) or a termination (终止, 45, 51): to the court, the
    procuratorate and the police."""
    name = "case.discharged" if end.kind in ("discharge", "pardon") else "case.terminated"
    number = getattr(end, "certificate_number", None) or end.document_number
    facts = _decision(end.kind, label_zh, now, document_number=number, ended_on=end.ended_on)
    # The hash covers what is sent (the certificate's number, else the document's), no more:
    # the hash of a number the receiver does not get would let it test guesses at it.
    document = outbox.document_hash(number)
    return outbox.emit(session, name, person=person, facts=facts, now=now, document=document)


def absconded(session: Session, person: Person, lost_since: datetime, now: datetime):
    """An officer confirmed the person absconded (脱管): the police help find them (Art. 30)."""
    facts = {"incident.lost_since": lost_since, "decision.decided_at": now}
    return outbox.emit(session, "person.absconded", person=person, facts=facts, now=now)


def opinion_replied(session: Session, opinion, *, late: bool, now: datetime):
    """The bureau replied in writing to a 纠正意见 / 检察建议: to the procuratorate that filed
    it (社区矫正法 8)."""
    from corrections.org.models import Unit

    district = session.get(Unit, opinion.district_id)
    facts = {
        "unit.district_code": district.code,
        "unit.district_name_zh": district.name_zh,
        "opinion.kind": opinion.kind,
        "opinion.document_number": opinion.document_number,
        "opinion.issued_on": opinion.issued_on,
        "opinion.reply_due_on": opinion.reply_due_on,
        "opinion.reply": opinion.reply,
        "opinion.replied_at": opinion.replied_at,
        "opinion.late": late,
    }
    person = session.get(Person, opinion.person_id) if opinion.person_id else None
    return outbox.emit(
        session,
        "oversight.reply.sent",
        person=person,
        facts=facts,
        now=now,
        agency_id=opinion.agency_id,
        district_id=opinion.district_id,
    )


def checkpoint_sealed(session: Session, record: dict[str, Any], now: datetime):
    """An audit seal checkpoint, published to the procuratorate where configured
    (EXCHANGE_PUBLISH_CHECKPOINTS): the trail anchored outside the bureau's database."""
    if not current_app.config.get("EXCHANGE_PUBLISH_CHECKPOINTS"):
        return []
    # At most one every EXCHANGE_CHECKPOINT_MINUTES (the seal runs every minute).
    every = timedelta(minutes=current_app.config.get("EXCHANGE_CHECKPOINT_MINUTES", 60))
    last = session.scalar(
        select(func.max(OutboxMessage.created_at)).where(
            OutboxMessage.type == TYPE_PREFIX + "audit.checkpoint.sealed"
        )
    )
    if last is not None and now - last < every:
        return []
    facts = {f"checkpoint.{k}": record.get(k) for k in ("seq", "hash", "signed_at", "key_id")}
    facts["checkpoint.signature"] = record.get("signature")
    return outbox.emit(session, "audit.checkpoint.sealed", person=None, facts=facts, now=now)
