"""Issue 13 finding 5: every rule that reads a person's state and then writes on it runs under
the person's row lock, so twenty requests at the same moment give what twenty requests one
after the other give. Each test runs 20 parallel requests (each its own client, session and
connection) and checks the rule's invariant; on SQLite the write transaction serialises them,
on PostgreSQL the person's row lock does."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from corrections.audit.models import AuditEntry
from corrections.core.db import db
from corrections.grading.models import GradeDecision
from corrections.incidents.models import IncidentProposal
from corrections.persons.models import PersonStatusChange
from corrections.supervision import rules as supervision_rules
from corrections.supervision import travel_rules
from corrections.supervision.common import ACTIVE_PERMITS
from corrections.supervision.models import MonitoringPeriod, SupervisionEvent, TravelPermit
from tests.conftest import TEST_NOW, count_rows
from tests.factories import person_payload
from tests.grading.test_decisions import set_grade
from tests.supervision.conftest import event, sanction
from tests.support.parallel import codes, in_parallel

N = 20
LONG_AGO = {
    "judgment_date": "2026-03-20",
    "judgment_effective_date": "2026-03-31",
    "term_start": "2026-04-01",
}


def _permit(person_id: int, start: date, end: date):
    body = {
        "destination": "杭州市",
        "reason": "探望生病的母亲",
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
    }
    return lambda api: api.post(f"/api/v1/persons/{person_id}/travel-permits", json=body)


def _rows(app, stmt) -> list:
    with app.app_context():
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        db.session.remove()
    return rows


def _audited(app, action: str) -> int:
    with app.app_context():
        n = db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
        db.session.remove()
    return n


def test_finding_5_parallel_requests_for_one_trip_store_one_permit(app, officer, active):
    person = active()
    trip = _permit(person["id"], date(2026, 12, 1), date(2026, 12, 5))
    responses = in_parallel(app, [(officer, trip)] * N)
    assert codes(responses) == [201] + [409] * (N - 1)
    assert count_rows(app, TravelPermit) == 1


def test_finding_5_parallel_trips_cannot_skip_the_city_approval(app, officer, active):
    """More than 30 days within 2 months goes to the city: each permit's level is the one the
    rule gives with the permits stored before it, whatever arrived at the same moment."""
    person = active()  # tight: the district approves, trips of any length
    first = _permit(person["id"], date(2026, 12, 1), date(2026, 12, 28))(officer)
    assert first.status_code == 201 and first.get_json()["approval_level"] == "district"
    days = [date(2026, 12, 30) + timedelta(days=2 * i) for i in range(N)]
    responses = in_parallel(app, [(officer, _permit(person["id"], d, d)) for d in days])
    assert codes(responses) == [201] * N
    stored = _rows(app, select(TravelPermit).order_by(TravelPermit.id))
    with app.app_context():
        rules = travel_rules.TravelRules.from_yaml(supervision_rules.current().raw)
    grade = travel_rules.GradeTravel(grade="tight", approver="district")
    for i, permit in enumerate(stored):
        expected = travel_rules.decide(
            permit.start_date,
            permit.end_date,
            other_trips=[travel_rules.Trip(p.start_date, p.end_date) for p in stored[:i]],
            rules=rules,
            grade=grade,
            today=date(2026, 11, 27),
        )
        assert (permit.approval_level, permit.notify_procuratorate) == (
            expected.approval_level,
            expected.notify_procuratorate,
        ), (permit.start_date, [p.start_date for p in stored[:i]])
    # Any order but (nearly) descending dates sends some of them to the city.
    assert any(p.approval_level == "city" for p in stored[1:])


def test_finding_5_parallel_monitoring_periods_do_not_overlap(app, login, active):
    person = active()
    set_grade(app, person["id"], "strict")  # monitoring then changes nothing else of the person
    commander = login("commander-dongcheng")
    body = {
        "ground": "left_without_approval",
        "start_date": "2026-11-27",
        "end_date": "2027-01-31",
        "note": "未经批准离开本市",
    }
    url = f"/api/v1/persons/{person['id']}/monitoring"
    responses = in_parallel(app, [(commander, lambda api: api.post(url, json=body))] * N)
    assert codes(responses) == [201] + [409] * (N - 1)
    assert count_rows(app, MonitoringPeriod) == 1


def test_finding_5_parallel_decisions_on_one_sanction_proposal_one_wins(app, login, active):
    person = active()
    with app.app_context():
        proposal = IncidentProposal(
            incident_id=None,
            person_id=person["id"],
            kind="admonition",
            status="proposed",
            absence_days=0,
            evidence={},
            article="实施办法 34",
            basis="test:finding-5",
            created_at=TEST_NOW,
        )
        db.session.add(proposal)
        db.session.commit()
        proposal_id = proposal.id
        db.session.remove()
    commander = login("commander-dongcheng")
    url = f"/api/v1/persons/{person['id']}/proposals/{proposal_id}"

    def decide(decision: str):
        return lambda api: api.post(url, json={"decision": decision, "note": "并发决定"})

    calls = [(commander, decide("accepted" if i % 2 else "declined")) for i in range(N)]
    responses = in_parallel(app, calls)
    assert codes(responses) == [200] + [409] * (N - 1)
    assert _audited(app, "incident.proposal") == 1


def test_finding_5_a_commendation_never_follows_a_sanction_given_at_the_same_time(
    app, login, officer, active
):
    """表扬 needs 6 months without sanction: of admonitions and commendations recorded at the
    same moment, no commendation is stored after an admonition."""
    person = active(**LONG_AGO)
    evidence = event(officer, person["id"], "note").get_json()["id"]
    commander = login("commander-dongcheng")

    def admonition(api):
        return event(api, person["id"], "admonition", payload=sanction("admonition", [evidence]))

    def commendation(api):
        return event(api, person["id"], "commendation", payload={"reason": "表现突出"})

    calls = [(commander, admonition if i % 2 else commendation) for i in range(N)]
    responses = in_parallel(app, calls)
    assert [r.status_code for r in responses[1::2]] == [201] * (N // 2)
    assert {r.status_code for r in responses[::2]} <= {201, 422}
    decisions = _rows(
        app,
        select(SupervisionEvent)
        .where(SupervisionEvent.type.in_(("admonition", "commendation")))
        .order_by(SupervisionEvent.id),
    )
    first_sanction = next(e.id for e in decisions if e.type == "admonition")
    late = [e.id for e in decisions if e.type == "commendation" and e.id > first_sanction]
    assert late == []


def test_finding_5_parallel_grade_decisions_each_start_from_the_last(app, officer, active):
    """Each decision is taken on the grade the one before it left, and none is refused
    because another was taken at the same moment."""
    person = active()
    url = f"/api/v1/persons/{person['id']}/grade/decisions"
    body = {"to_grade": "strict", "reason": "家庭矛盾激化，加强管控"}
    responses = in_parallel(app, [(officer, lambda api: api.post(url, json=body))] * N)
    assert codes(responses) == [201] * N
    manual = _rows(
        app,
        select(GradeDecision).where(GradeDecision.kind == "manual").order_by(GradeDecision.id),
    )
    assert [(d.from_grade, d.to_grade) for d in manual] == [("tight", "strict")] + [
        ("strict", "strict")
    ] * (N - 1)


def test_finding_5_parallel_activations_record_one_and_refuse_the_rest_by_the_rule(app, officer):
    created = officer.post("/api/v1/persons", json=person_payload())
    assert created.status_code == 201
    url = f"/api/v1/persons/{created.get_json()['id']}/status-changes"
    body = {"to_status": "active", "reason": "按期报到"}
    responses = in_parallel(app, [(officer, lambda api: api.post(url, json=body))] * N)
    # The others see the person active (422 by the rule), not a stale version (412).
    assert codes(responses) == [201] + [422] * (N - 1)
    activations = _rows(
        app, select(PersonStatusChange).where(PersonStatusChange.to_status == "active")
    )
    assert len(activations) == 1


def test_finding_5_parallel_releases_record_one(app, officer, active):
    person = active()
    held = officer.post(
        f"/api/v1/persons/{person['id']}/detentions",
        json={
            "kind": "administrative_detention",
            "start_date": "2026-11-20",
            "authority": "滨江市公安局东城分局",
        },
    )
    assert held.status_code == 201, held.get_json()
    url = f"/api/v1/persons/{person['id']}/detentions/{held.get_json()['id']}/release"
    body = {"end_date": "2026-11-27", "note": "拘留期满释放"}
    responses = in_parallel(app, [(officer, lambda api: api.post(url, json=body))] * N)
    assert codes(responses) == [200] + [409] * (N - 1)
    assert _audited(app, "detention.release") == 1


def test_finding_5_parallel_first_plans_make_one_and_ask_the_rest_for_if_match(
    app, officer, active
):
    person = active()
    url = f"/api/v1/persons/{person['id']}/correction-plans"
    body = {"needs": "无固定工作，交友不慎", "measures": "每月就业指导一次"}
    responses = in_parallel(app, [(officer, lambda api: api.post(url, json=body))] * N)
    # The others find the plan just made: a new version needs its ETag (428), not a clash.
    assert codes(responses) == [201] + [428] * (N - 1)


def test_finding_5_no_permit_outlives_an_end_of_case_decided_at_the_same_time(
    app, login, officer, active
):
    person = active()
    commander = login("commander-dongcheng")
    termination = {
        "kind": "revocation",
        "reason": "法院裁定撤销缓刑",
        "ended_on": "2026-11-26",
        "document_number": "（2026）东刑执字第12号",
    }
    url = f"/api/v1/persons/{person['id']}/termination"
    calls = [(commander, lambda api: api.post(url, json=termination))]
    days = [date(2026, 12, 1) + timedelta(days=2 * i) for i in range(N - 1)]
    calls += [(officer, _permit(person["id"], d, d)) for d in days]
    responses = in_parallel(app, calls)
    assert responses[0].status_code == 201
    assert {r.status_code for r in responses[1:]} <= {201, 409}
    live = _rows(
        app,
        select(TravelPermit.id).where(
            TravelPermit.person_id == person["id"], TravelPermit.status.in_(ACTIVE_PERMITS)
        ),
    )
    assert live == []
