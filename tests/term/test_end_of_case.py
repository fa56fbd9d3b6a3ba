"""The one end-of-case path (corrections/term/service.py end_case): every way a case ends winds
up what was due, what was under way and what was live (issue 13 finding 8, issue 14 item 10),
and a pardon (赦免) is a discharge before the term's end (社区矫正法 44)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from corrections.alerts.models import Alert
from corrections.core.db import db
from corrections.incidents.models import Flag
from corrections.org.models import User
from corrections.supervision.models import Obligation, TravelPermit
from tests.grading.test_decisions import set_grade
from tests.supervision.conftest import event

DEATH = {
    "kind": "death",
    "reason": "家属报告死亡，已核实",
    "ended_on": "2026-11-27",
    "document_number": "死亡证明 2026-1130",
}


def _under_way(app, login, person):
    """An approved and departed trip, an office flag and a live alert."""
    officer = login("officer-dongcheng-1")
    set_grade(app, person["id"], "ordinary")
    base = f"/api/v1/persons/{person['id']}"
    permit = officer.post(
        f"{base}/travel-permits",
        json={
            "destination": "杭州市",
            "reason": "探望生病的母亲",
            "start_date": "2026-11-27",
            "end_date": "2026-11-29",
        },
    ).get_json()
    assert officer.post(f"{base}/travel-permits/{permit['id']}/approve", json={}).status_code == 200
    departed = officer.post(
        f"{base}/travel-permits/{permit['id']}/depart",
        json={"occurred_at": "2026-11-27T01:30:00Z"},
    )
    assert departed.status_code == 200, departed.get_json()
    with app.app_context():
        other = db.session.scalar(select(User.id).where(User.username == "officer-dongcheng-1"))
        db.session.remove()
    flag = officer.post(
        f"{base}/flags",
        json={"level": "office", "reason": "多次违规", "responsible_officer_id": other},
    )
    assert flag.status_code == 201, flag.get_json()
    alarm = event(officer, person["id"], "monitor_alarm", payload={"alarm": "boundary"})
    assert alarm.status_code == 201, alarm.get_json()
    return permit


def _live(app, person_id):
    with app.app_context():
        s = db.session
        out = {
            "open_obligations": s.scalars(
                select(Obligation.id).where(
                    Obligation.person_id == person_id, Obligation.status == "open"
                )
            ).all(),
            "permits": s.scalars(
                select(TravelPermit.status).where(TravelPermit.person_id == person_id)
            ).all(),
            "flags": s.scalars(select(Flag.status).where(Flag.person_id == person_id)).all(),
            "live_alerts": s.scalars(
                select(Alert.id).where(
                    Alert.person_id == person_id, Alert.status.in_(("open", "acknowledged"))
                )
            ).all(),
        }
        db.session.remove()
    return out


def test_finding_8_a_death_ends_obligations_trips_flags_and_alerts(app, login, active):
    person = active()
    _under_way(app, login, person)
    before = _live(app, person["id"])
    assert before["open_obligations"] and before["live_alerts"]
    assert before["permits"] == ["departed"] and before["flags"] == ["active"]

    commander = login("commander-dongcheng")
    resp = commander.post(f"/api/v1/persons/{person['id']}/termination", json=DEATH)
    assert resp.status_code == 201, resp.get_json()

    after = _live(app, person["id"])
    assert after == {
        "open_obligations": [],
        "permits": ["cancelled"],
        "flags": ["ended"],
        "live_alerts": [],
    }
    # Nothing is recorded after the end: the trip's return, a report.
    officer = login("officer-dongcheng-1")
    assert event(officer, person["id"], "report").status_code == 409


def test_finding_8_the_sweep_raises_nothing_for_a_closed_case(app, login, active, run_job):
    person = active()
    _under_way(app, login, person)
    login("commander-dongcheng").post(f"/api/v1/persons/{person['id']}/termination", json=DEATH)
    run_job("sweep_obligations", at=datetime(2027, 3, 1, 2, tzinfo=UTC))
    assert _live(app, person["id"])["live_alerts"] == []
    assert _live(app, person["id"])["permits"] == ["cancelled"]  # not overdue


def test_art_44_a_pardon_discharges_before_the_term_ends(login, active):
    person = active()
    url = f"/api/v1/persons/{person['id']}/discharge"
    commander = login("commander-dongcheng")
    body = {"certificate_number": "东矫解〔2026〕9号", "ground": "pardon"}
    missing = commander.post(url, json=body)
    assert missing.status_code == 422 and "document_number" in missing.get_json()["errors"]
    assert commander.post(url, json={**body, "ground": "amnesty"}).status_code == 422
    # Not a pardon: the term is not over.
    assert commander.post(url, json={"certificate_number": "东矫解〔2026〕9号"}).status_code == 422
    officer = login("officer-dongcheng-1")
    assert officer.post(url, json={**body, "document_number": "特赦令 2026-1"}).status_code == 403
    done = commander.post(url, json={**body, "document_number": "特赦令 2026-1"})
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["kind"] == "pardon" and done.get_json()["status"] == "discharged"
    assert done.get_json()["document_number"] == "特赦令 2026-1"
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["status"] == "discharged"
    assert commander.post(url, json={**body, "document_number": "特赦令 2026-1"}).status_code == 409


def test_finding_8_open_proposals_lapse_when_the_case_ends(login, active, run_job, clock):
    person = active()  # reported late for intake: the ladder proposes a sanction
    run_job("detect_lost_contact", at=datetime(2026, 11, 27, 2, tzinfo=UTC))
    officer = login("officer-dongcheng-1")
    (proposal,) = officer.get(f"/api/v1/persons/{person['id']}/proposals").get_json()
    assert proposal["status"] == "proposed"
    commander = login("commander-dongcheng")
    assert (
        commander.post(f"/api/v1/persons/{person['id']}/termination", json=DEATH).status_code == 201
    )
    (lapsed,) = officer.get(f"/api/v1/persons/{person['id']}/proposals").get_json()
    assert lapsed["status"] == "declined" and lapsed["decided_by"] == "system"
    late = commander.post(
        f"/api/v1/persons/{person['id']}/proposals/{proposal['id']}",
        json={"decision": "accepted", "note": "同意", "statement_not_taken_reason": "本人已死亡"},
    )
    assert late.status_code == 409


def test_a_termination_is_dated_within_the_case(login, active):
    person = active()
    commander = login("commander-dongcheng")
    url = f"/api/v1/persons/{person['id']}/termination"
    for day in ("0001-01-01", "2026-10-01"):
        resp = commander.post(url, json={**DEATH, "ended_on": day})
        assert resp.status_code == 422 and "ended_on" in resp.get_json()["errors"], day


def test_finding_8_a_detention_and_the_correction_plan_end_with_the_case(login, active):
    """A hostile review found a detention still held and a plan still due for review after
    the person's death."""
    from tests.procedures.support import plan_payload

    person = active()
    officer = login("officer-dongcheng-1")
    base = f"/api/v1/persons/{person['id']}"
    assert officer.post(f"{base}/correction-plans", json=plan_payload()).status_code == 201
    held = officer.post(
        f"{base}/detentions",
        json={"kind": "criminal_detention", "start_date": "2026-11-27", "authority": "城关派出所"},
    )
    assert held.status_code == 201, held.get_json()
    commander = login("commander-dongcheng")
    assert commander.post(f"{base}/termination", json=DEATH).status_code == 201
    (detention,) = officer.get(f"{base}/detentions").get_json()
    assert detention["held"] is False and detention["end_date"] == "2026-11-27"
    plans = officer.get(f"{base}/correction-plans").get_json()
    assert [p["status"] for p in plans] == ["closed"]
    assert plans[0]["review"]["due"] is False
    release = officer.post(
        f"{base}/detentions/{detention['id']}/release", json={"end_date": "2026-11-27"}
    )
    assert release.status_code in (409, 422)


def test_a_termination_is_not_dated_before_the_term_began(login, active):
    """Hostile review: an end between the judgment's effect and the term's start was taken."""
    person = active()  # judgment effective 2026-10-31, term from 2026-11-01
    commander = login("commander-dongcheng")
    resp = commander.post(
        f"/api/v1/persons/{person['id']}/termination", json={**DEATH, "ended_on": "2026-10-31"}
    )
    assert resp.status_code == 422 and "ended_on" in resp.get_json()["errors"]


def test_a_termination_is_not_dated_before_events_already_recorded(login, active):
    """Hostile review: a death dated 2026-10-01 was taken for a person with reports in
    November, which stayed on the record of a case that had ended before them."""
    person = active()
    officer = login("officer-dongcheng-1")
    assert (
        event(officer, person["id"], "report", occurred_at="2026-11-27T02:00:00Z").status_code
        == 201
    )
    commander = login("commander-dongcheng")
    url = f"/api/v1/persons/{person['id']}/termination"
    early = commander.post(url, json={**DEATH, "ended_on": "2026-11-26"})
    assert early.status_code == 422, early.get_json()
    assert "2026-11-27" in early.get_json()["errors"]["ended_on"][0]
    assert commander.post(url, json={**DEATH, "ended_on": "2026-11-27"}).status_code == 201


def test_an_event_written_while_the_case_ends_is_refused(app, login, active):
    """Hostile review (PostgreSQL): a report sent while a termination was being decided was
    stored after it. The end holds the person's row FOR UPDATE (close_log), so the report's
    insert waits for it, then finds the case ended and is refused; nothing is stored."""
    import threading
    import time

    from sqlalchemy import func, text, update

    from corrections.persons.models import Person
    from corrections.supervision.models import SupervisionEvent

    person = active()
    officer = login("officer-dongcheng-1")
    out: dict = {}

    def report() -> None:
        out["resp"] = event(officer, person["id"], "report", occurred_at="2026-11-27T01:30:00Z")

    with app.app_context():
        conn = db.engine.connect()
        try:
            if conn.dialect.name == "postgresql":  # what close_log takes
                conn.execute(select(Person.id).where(Person.id == person["id"]).with_for_update())
            else:  # BEGIN IMMEDIATE: the database's write lock, as every write transaction
                conn.execute(text("SELECT 1"))
            worker = threading.Thread(target=report)
            worker.start()
            time.sleep(0.8)
            assert worker.is_alive(), out["resp"].get_json()  # it waits for the end
            conn.execute(update(Person).where(Person.id == person["id"]).values(status="deceased"))
            conn.commit()
        finally:
            conn.close()
        worker.join(30)
        stored = db.session.scalar(
            select(func.count())
            .select_from(SupervisionEvent)
            .where(SupervisionEvent.person_id == person["id"], SupervisionEvent.type == "report")
        )
        db.session.remove()
    resp = out["resp"]
    assert resp.status_code == 409, resp.get_json()
    assert "person_id" in resp.get_json()["errors"]
    assert stored == 0


def test_a_termination_racing_reports_neither_deadlocks_nor_stores_a_later_event(
    app, login, active
):
    """Hostile re-check (PostgreSQL): a termination and six parallel reports ended in
    deadlocks (503 for all). Reports now share-lock the person first, so each either lands
    before the end (201) or is refused after it (409), and the end goes through."""
    import threading

    person = active()
    officer = login("officer-dongcheng-1")
    commander = login("commander-dongcheng")
    barrier = threading.Barrier(7)
    codes: dict[str, list[int]] = {"report": [], "end": []}
    lock = threading.Lock()

    def report(i: int) -> None:
        barrier.wait()
        resp = event(officer, person["id"], "report", occurred_at=f"2026-11-27T01:{10 + i}:00Z")
        with lock:
            codes["report"].append(resp.status_code)

    def end() -> None:
        barrier.wait()
        resp = commander.post(
            f"/api/v1/persons/{person['id']}/termination", json={**DEATH, "ended_on": "2026-11-27"}
        )
        with lock:
            codes["end"].append(resp.status_code)

    threads = [threading.Thread(target=report, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=end))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes["end"] == [201], codes
    assert set(codes["report"]) <= {201, 409}, codes


def test_a_pardon_is_refused_while_an_event_is_dated_after_today(login, active, clock):
    """Hostile re-check: a discharge or a transfer out at 23:58 kept a report dated 00:01 the
    next day (an event may be dated a few minutes ahead)."""
    person = active()
    clock.set(datetime(2026, 11, 27, 15, 58, tzinfo=UTC))  # 23:58 in Beijing
    officer = login("officer-dongcheng-1")
    ahead = event(officer, person["id"], "report", occurred_at="2026-11-27T16:01:00Z")
    assert ahead.status_code == 201, ahead.get_json()
    commander = login("commander-dongcheng")
    resp = commander.post(
        f"/api/v1/persons/{person['id']}/discharge",
        json={
            "certificate_number": "东矫解〔2026〕9号",
            "ground": "pardon",
            "document_number": "特赦令 2026-1",
        },
    )
    assert resp.status_code == 422 and "person_id" in resp.get_json()["errors"], resp.get_json()
