"""Recording supervision events. The full log (API, payload per type, idempotency, obligations)
grows here; grading reacts to each recorded event through ``grading.service.on_event``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from corrections.audit import service as audit
from corrections.core.auth import Actor
from corrections.core.clock import now_utc
from corrections.persons.models import Person
from corrections.supervision.models import SupervisionEvent


def record_event(
    session: Session,
    *,
    actor: Actor,
    person: Person,
    type: str,
    occurred_at: datetime,
    payload: dict[str, Any] | None = None,
    channel: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> SupervisionEvent:
    """Append one event and let grading react to it in the same transaction."""
    from corrections.grading import service as grading

    now = now or now_utc()
    event = SupervisionEvent(
        person_id=person.id,
        type=type,
        occurred_at=occurred_at,
        recorded_at=now,
        recorded_by_id=actor.user_id,
        recorded_by=actor.username,
        channel=channel,
        note=note,
        payload=payload or {},
    )
    session.add(event)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="event.create",
        subject_type="person",
        subject_id=person.id,
        juvenile=person.juvenile,
        now=now,
        detail={"event_id": event.id, "type": type},
    )
    grading.on_event(session, actor=actor, person=person, event=event, now=now)
    return event
