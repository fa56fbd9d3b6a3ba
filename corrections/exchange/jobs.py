"""The exchange's scheduled work: receipts overdue raise ``exchange_unacknowledged``."""

from __future__ import annotations

from typing import Any

from corrections.alerts import service as alerts
from corrections.exchange import service


def receipt_deadlines(ctx) -> dict[str, Any]:
    """Alert once per message its receiver has not acknowledged within the rules' hours: the
    person's district sees it (the city and administrators, for a message about no person)."""
    session, now = ctx.session, ctx.now
    raised = 0
    for message in service.overdue_receipts(session, now=now):
        alerts.raise_one(
            session,
            person_id=message.person_id,
            kind="exchange_unacknowledged",
            subject_type="exchange_message",
            subject_id=message.id,
            detail={"type": message.type, "receiver": message.receiver_kind},
            now=now,
        )
        message.overdue_alerted_at = now
        raised += 1
    return {"overdue": raised}
