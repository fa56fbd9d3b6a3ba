"""Set-up for the decision-queue tests: proposals recorded as the jobs would (their checks
bypassed), account ids, the persons a response's audit rows name, statements counted."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy import event, select

from corrections.audit.models import AuditEntry
from corrections.core.auth import SYSTEM
from corrections.core.db import db
from corrections.org.models import User
from corrections.persons.models import Person


def user_id(app, username: str) -> int:
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        db.session.remove()
    return uid


def grade_proposal(app, person_id: int) -> int:
    """A looser grade proposal (to the next grade) as the monthly job makes one."""
    from corrections.grading import engine
    from corrections.grading import service as grading

    with app.app_context():
        person = db.session.get(Person, person_id)
        evaluation = engine.LooserEvaluation(
            True, "ordinary", (engine.Reason("looser_one_step", "逐级放宽"),), (), {"test": True}
        )
        decision = grading.propose_looser(
            db.session,
            actor=SYSTEM,
            person=person,
            evaluation=evaluation,
            basis="assessment:test",
            now=app.extensions["corrections.clock"].now(),
        )
        db.session.commit()
        decision_id = decision.id
        db.session.remove()
    return decision_id


def sanction_proposal(
    app, person_id: int, *, kind: str = "warning", ground: str = "admonitions", event_ids=()
) -> int:
    """A ladder proposal (no episode) as the nightly job records one."""
    from corrections.incidents import ladder
    from corrections.incidents import rules as incident_rules
    from corrections.incidents import service as incidents

    with app.app_context():
        rules = incident_rules.current()
        article = rules.kinds[kind]["article"]
        proposal = ladder.Proposal(
            kind, article, ground, {"event_ids": list(event_ids)}, f"test:{kind}:{ground}", 0
        )
        incidents._make_proposal(
            db.session, person_id, proposal, app.extensions["corrections.clock"].now()
        )
        db.session.commit()
        from corrections.incidents.models import IncidentProposal

        proposal_id = db.session.scalar(
            select(IncidentProposal.id).where(
                IncidentProposal.person_id == person_id, IncidentProposal.kind == kind
            )
        )
        db.session.remove()
    return proposal_id


def audited_persons(app, resp) -> set[int]:
    """The persons the audit rows of ``resp``'s request name."""
    rid = resp.headers["X-Request-ID"]
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.subject_id, AuditEntry.subject_ids).where(
                AuditEntry.request_id == rid, AuditEntry.subject_type == "person"
            )
        ).all()
        db.session.remove()
    shown: set[int] = set()
    for one, many in rows:
        shown |= {int(one)} if one else {int(i) for i in (many or "").strip(",").split(",") if i}
    return shown


@contextlib.contextmanager
def statements(app, *, selects_only: bool = True) -> Iterator[list[str]]:
    """The queries (SELECTs; every statement unless ``selects_only``) this thread runs while
    the block runs (the test client serves requests in it; a stream's listener thread polls
    beside it): a list costs no query per row."""
    seen: list[str] = []
    thread = threading.get_ident()

    def count(conn, cursor, statement, *args):
        if threading.get_ident() != thread:
            return
        if not selects_only or statement.lstrip().upper().startswith("SELECT"):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
