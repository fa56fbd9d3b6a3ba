"""Procuratorate oversight (issue 15, part 4): a procurator reads its jurisdiction's cases
(read-only, audited, a juvenile masked), files 纠正意见 and 检察建议; the subject district's
commanders see them as a queue with the reply deadline and reply, which closes them; an
overdue reply raises an alert once; the per-office enforcement figures on constructed data."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from corrections.alerts.models import Alert
from corrections.audit.models import AuditEntry
from corrections.core.db import db
from tests.conftest import TEST_NOW
from tests.factories import juvenile_payload, person_payload
from tests.supervision.conftest import event, sanction
from tests.support.agencies import PASSWORD, agency_accounts

DONGCHENG, XICHENG = "329901", "329902"


@pytest.fixture
def procurators(app, client):
    """Procurators of the 东城 and 西城 district procuratorates and of the city's, signed in."""
    return agency_accounts(
        app,
        client,
        [
            ("dc-jcy", "procuratorate", DONGCHENG),
            ("xc-jcy", "procuratorate", XICHENG),
            ("city-jcy", "procuratorate", "3299"),
        ],
        procurators=True,
    )


def _signed_in(api):
    """``api``'s user signed in again (the clock moved past its token's life)."""
    from tests.conftest import Api

    resp = api.client.post(
        "/api/v1/auth/token", json={"username": api.username, "password": PASSWORD}
    )
    assert resp.status_code == 201, resp.get_json()
    return Api(api.client, resp.get_json()["access_token"], api.username)


def _opinion(api, **overrides):
    body = {
        "kind": "correction_opinion",
        "document_number": "东检矫纠〔2026〕3号",
        "issued_on": "2026-11-26",
        "district_code": DONGCHENG,
        "content": "未按规定对社区矫正对象进行实地查访，请予纠正。",
        **overrides,
    }
    return api.post("/api/v1/oversight/opinions", json=body)


def test_acceptance_an_opinion_is_queued_with_its_deadline_closed_by_the_reply_and_alerted(
    app, login, active, procurators, run_job
):
    person = active()
    filed = _opinion(procurators["dc-jcy"], person_id=person["id"], office_code="32990101")
    assert filed.status_code == 201, filed.get_json()
    opinion = filed.get_json()
    # 15 days from the day it was received (2026-11-27; the first day not counted).
    assert opinion["reply_due_on"] == "2026-12-12" and opinion["status"] == "open"
    assert (
        opinion["kind_label_zh"].startswith("纠正意见") and opinion["status_label_zh"] == "待回复"
    )
    assert "条" in opinion["article"] and opinion["article_verified"] is False

    commander = login("commander-dongcheng")
    queue = commander.get("/api/v1/oversight/opinions?status=open").get_json()
    (item,) = queue["items"]
    assert item["id"] == opinion["id"] and item["days_left"] == 15 and item["overdue"] is False
    assert item["proposed_zh"].endswith("须于 2026-12-12 前书面回复")
    assert item["person"]["name"] == "张伟" and item["content"].startswith("未按规定")
    (action,) = item["actions"]
    assert action["name"] == "reply" and action["method"] == "POST"
    assert action["href"] == f"/api/v1/oversight/opinions/{opinion['id']}/reply"
    assert action["body_schema"] == "OpinionReply"
    # Another district's commander sees nothing of it, and cannot reply (404).
    other = login("commander-xicheng")
    assert other.get("/api/v1/oversight/opinions").get_json()["items"] == []
    assert other.post(action["href"], json={"reply": "已纠正"}).status_code == 404
    # Nor may the procurator reply to its own opinion (403).
    assert procurators["dc-jcy"].post(action["href"], json={"reply": "x已纠正"}).status_code == 403

    # The day after the last day: one alert, however often the job runs.
    late = datetime(2026, 12, 13, 1, 0, tzinfo=TEST_NOW.tzinfo)
    assert run_job("oversight_deadlines", at=late)["counts"] == {"overdue": 1}
    assert run_job("oversight_deadlines", at=late + timedelta(hours=1))["counts"] == {"overdue": 0}
    with app.app_context():
        alerts = db.session.scalars(
            select(Alert).where(Alert.kind == "oversight_reply_overdue")
        ).all()
        assert [(a.person_id, a.subject_id, a.status) for a in alerts] == [
            (person["id"], opinion["id"], "open")
        ]
        db.session.remove()
    commander = login("commander-dongcheng")  # a new day, a new sign-in
    overdue = commander.get("/api/v1/oversight/opinions?status=open").get_json()["items"][0]
    assert overdue["overdue"] is True and overdue["days_left"] == -1

    # An empty reply is refused, naming the field, and changes nothing.
    empty = commander.post(action["href"], json={"reply": "  "})
    assert empty.status_code == 422 and "reply" in empty.get_json()["errors"]
    replied = commander.post(action["href"], json={"reply": "已组织实地查访并整改。"})
    assert replied.status_code == 200, replied.get_json()
    body = replied.get_json()
    assert body["status"] == "replied" and body["replied_by"] == "commander-dongcheng"
    assert body["actions"] == []
    assert commander.get("/api/v1/oversight/opinions?status=open").get_json()["items"] == []
    assert commander.post(action["href"], json={"reply": "再次回复"}).status_code == 409
    with app.app_context():
        alert = db.session.scalar(select(Alert).where(Alert.kind == "oversight_reply_overdue"))
        assert alert.status == "resolved"
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("oversight.%"))
        ).all()
        assert sorted(actions) == ["oversight.file", "oversight.reply"]
        db.session.remove()
    # The procurator reads the reply.
    again = _signed_in(procurators["dc-jcy"])
    seen = again.get("/api/v1/oversight/opinions").get_json()["items"][0]
    assert seen["reply"] == "已组织实地查访并整改。"


def test_a_suggestion_about_a_district_has_two_months_and_its_overdue_alert_goes_to_the_city(
    app, login, procurators, run_job
):
    filed = _opinion(
        procurators["city-jcy"], kind="suggestion", document_number="滨检建〔2026〕1号"
    )
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["reply_due_on"] == "2027-01-27"
    assert filed.get_json()["person"] is None if "person" in filed.get_json() else True
    assert len(login("city").get("/api/v1/oversight/opinions").get_json()["items"]) == 1
    assert run_job("oversight_deadlines", at=datetime(2027, 1, 28, 2, 0, tzinfo=TEST_NOW.tzinfo))[
        "counts"
    ] == {"overdue": 1}
    with app.app_context():
        alert = db.session.scalar(select(Alert).where(Alert.kind == "oversight_reply_overdue"))
        assert alert.person_id is None and alert.subject_type == "opinion"
        db.session.remove()
    # A repeated document number is 409.
    again = _opinion(
        _signed_in(procurators["city-jcy"]), kind="suggestion", document_number="滨检建〔2026〕1号"
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"district_code": XICHENG}, "district_code"),
        ({"office_code": "32990201"}, "office_code"),
        ({"issued_on": "2026-11-28"}, "issued_on"),
        ({"received_at": "2026-11-20T01:00:00Z"}, "received_at"),
        # Filed as received long ago, it would be overdue at once (hostile review).
        ({"issued_on": "2019-12-01", "received_at": "2020-01-01T00:00:00Z"}, "received_at"),
        ({"kind": "order"}, "kind"),
        ({"content": ""}, "content"),
        ({"document_number": None}, "document_number"),
    ],
)
def test_a_bad_filing_is_422_naming_the_field_and_files_nothing(app, procurators, overrides, field):
    resp = _opinion(procurators["dc-jcy"], **overrides)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    with app.app_context():
        from corrections.oversight.models import OversightOpinion

        assert db.session.scalars(select(OversightOpinion)).all() == []
        db.session.remove()


def test_a_district_procurator_reads_its_district_only_and_writes_nothing(
    app, login, active, procurators
):
    mine = active()
    xicheng = login("officer-xicheng-1")
    theirs = active(xicheng, **_other_person())
    api = procurators["dc-jcy"]
    assert api.get(f"/api/v1/persons/{theirs['id']}").status_code == 404
    assert api.get(f"/api/v1/persons/{theirs['id']}/events").status_code == 404
    read = api.get(f"/api/v1/persons/{mine['id']}")
    assert read.status_code == 200 and read.get_json()["name"] == "张伟"
    # Lists hold its district's persons only.
    ids = {p["id"] for p in api.get("/api/v1/persons").get_json()["items"]}
    assert ids == {mine["id"]}
    assert api.get(f"/api/v1/persons/{mine['id']}/events").status_code == 200
    assert api.get(f"/api/v1/persons/{mine['id']}/obligations").status_code == 200
    assert api.get("/api/v1/grade-decisions?status=proposed").status_code == 200
    # Filing about another district's person: 422 naming it, nothing said about them.
    wrong = _opinion(api, person_id=theirs["id"])
    assert wrong.status_code == 422 and "person_id" in wrong.get_json()["errors"]
    # Every write is 403.
    assert event(api, mine["id"], "report").status_code == 403
    assert (
        api.post(
            f"/api/v1/persons/{mine['id']}/status-changes",
            json={"to_status": "lost_contact", "reason": "x"},
        ).status_code
        == 403
    )
    assert api.post("/api/v1/persons", json=person_payload()).status_code == 403
    approve = f"/api/v1/persons/{mine['id']}/grade/decisions/1/approve"
    assert api.post(approve, json={"note": "同意"}).status_code == 403
    assert api.post(f"/api/v1/persons/{mine['id']}/proposals", json={}).status_code == 403
    assert api.get("/api/v1/audit").status_code == 403
    assert api.get("/api/v1/alerts").status_code == 403
    # The city's procurator sees both districts.
    both = {p["id"] for p in procurators["city-jcy"].get("/api/v1/persons").get_json()["items"]}
    assert {mine["id"], theirs["id"]} <= both


def test_no_write_route_admits_a_procurator_but_filing_and_its_own_session(app):
    """Walk every route: a procurator's role is in no write permission but ``oversight:file``
    (and signing out, changing its own password: ``session``)."""
    from corrections.core.auth import PERMISSIONS, Role

    writes = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            handler = getattr(view_class, method.lower(), None) if view_class else view
            permission = getattr(handler, "__permission__", None)
            if permission in PERMISSIONS and Role.PROCURATOR in PERMISSIONS[permission]:
                writes.add(permission)
    # persons:read on POST: the search (its terms travel in the body, never in a URL).
    assert writes <= {"oversight:file", "session", "persons:read"}, writes


def _other_person():
    return {"_birth": date(1985, 2, 3), "name": "李强"}


def test_a_procurators_person_read_is_audited(app, active, procurators):
    person = active()
    assert procurators["dc-jcy"].get(f"/api/v1/persons/{person['id']}").status_code == 200
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.actor_username == "p-dc-jcy")
        ).all()
        reads = [r for r in rows if r.action == "person.read"]
        assert reads and reads[0].actor_role == "procurator"
        assert reads[0].subject_id == str(person["id"])
        db.session.remove()


def test_a_procurator_sees_a_juvenile_masked_and_an_opinion_about_them_too(
    app, login, officer, procurators
):
    resp = officer.post("/api/v1/persons", json=juvenile_payload())
    assert resp.status_code == 201, resp.get_json()
    juvenile = resp.get_json()
    api = procurators["dc-jcy"]
    seen = api.get(f"/api/v1/persons/{juvenile['id']}").get_json()
    assert seen["name"] == "王＊" and not any(c.isdigit() for c in seen["id_number"])
    assert "date_of_birth" not in seen and seen["address"] == "***"
    # Not found by name or ID number either.
    found = api.post("/api/v1/persons/search", json={"q": juvenile["id_number"]})
    assert found.status_code == 200 and found.get_json()["items"] == []
    filed = _opinion(api, person_id=juvenile["id"], content="对未成年社区矫正对象未单独建档。")
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["content"] == "***"
    assert filed.get_json()["person"]["name"] == "王＊"
    city = login("city").get("/api/v1/oversight/opinions").get_json()["items"][0]
    assert city["content"] == "***" and city["person"]["name"] == "王＊"
    commander = login("commander-dongcheng").get("/api/v1/oversight/opinions").get_json()
    assert commander["items"][0]["content"] == "对未成年社区矫正对象未单独建档。"
    assert commander["items"][0]["person"]["name"] == "王小红"


def test_a_procurator_reads_the_audit_trails_verification_not_its_rows(procurators, login):
    resp = procurators["xc-jcy"].get("/api/v1/audit/verification")
    assert resp.status_code == 200 and "ok" in resp.get_json()
    assert login("auditor").get("/api/v1/audit/verification").status_code == 200
    assert login("city").get("/api/v1/audit/verification").status_code == 403


def test_procurator_accounts_come_from_a_procuratorate_only(app, runner):
    from corrections.core.auth import SYSTEM, Role
    from corrections.core.errors import RuleViolation
    from corrections.exchange import service as exchange
    from corrections.org import service as org

    with app.app_context():
        exchange.create_agency(
            db.session, code="dc-gaj", kind="police", name_zh="东城公安分局", unit_code=DONGCHENG
        )
        exchange.create_agency(
            db.session,
            code="dc-jcy",
            kind="procuratorate",
            name_zh="东城检察院",
            unit_code=DONGCHENG,
        )
        db.session.commit()
        with pytest.raises(RuleViolation) as refused:
            org.create_user(
                db.session,
                username="p-direct",
                password=None,
                role=Role.PROCURATOR,
                unit_code=DONGCHENG,
                actor=SYSTEM,
            )
        assert refused.value.errors == {"role": [refused.value.detail]}
        db.session.rollback()
        db.session.remove()
    police = runner.invoke(args=["exchange", "procurators", "create", "p-x", "--agency", "dc-gaj"])
    assert police.exit_code != 0 and "dc-gaj" in police.output
    made = runner.invoke(
        args=["exchange", "procurators", "create", "p-dongcheng", "--agency", "dc-jcy"]
    )
    assert made.exit_code == 0, made.output
    with app.app_context():
        from corrections.org.models import Unit, User

        user = db.session.scalar(select(User).where(User.username == "p-dongcheng"))
        unit = db.session.get(Unit, user.unit_id)
        assert user.role == "procurator" and user.agency_id is not None and unit.code == DONGCHENG
        db.session.remove()


def test_the_per_office_view_counts_what_was_missed_and_left_waiting(
    app, login, officer, active, intake, procurators
):
    from corrections.grading.models import GradeDecision
    from corrections.incidents.models import IncidentProposal
    from corrections.supervision.models import Obligation, TravelPermit

    # A reported within its deadline (effective 11-20: due 11-30), B reported late (due
    # 11-10, reported 11-27), C never reported (due 11-10).
    on_time = active(
        judgment_effective_date="2026-11-20",
        term_start="2026-11-20",
        term_end="2028-11-19",
    )
    late = active(**_second_person())
    intake(**_third_person())
    # One warning for A.
    report = event(officer, on_time["id"], "report").get_json()["id"]
    warned = event(
        login("commander-dongcheng"),
        on_time["id"],
        "warning",
        payload=sanction("warning", [report]),
    )
    assert warned.status_code == 201, warned.get_json()
    now = TEST_NOW
    with app.app_context():
        session = db.session
        session.add(
            Obligation(
                person_id=on_time["id"],
                kind="report",
                opens_on=date(2026, 11, 14),
                due_on=date(2026, 11, 20),
                status="missed",
                created_at=now,
                updated_at=now,
            )
        )
        for days, status in ((5, "proposed"), (1, "proposed")):
            session.add(
                GradeDecision(
                    version=1,
                    person_id=late["id"] if days == 5 else on_time["id"],
                    kind="manual",
                    status=status,
                    to_grade="normal",
                    rules_version="t",
                    inputs={},
                    reasons=[],
                    proposed_by="officer-dongcheng-1",
                    proposed_at=now - timedelta(days=days),
                )
            )
        session.add(
            TravelPermit(
                version=1,
                person_id=late["id"],
                destination="x",
                reason="y",
                start_date=date(2026, 12, 1),
                end_date=date(2026, 12, 3),
                days=3,
                approval_level="district",
                status="requested",
                requested_by="officer-dongcheng-1",
                requested_at=now - timedelta(days=4),
            )
        )
        for days, status in ((10, "proposed"), (10, "accepted"), (2, "proposed")):
            session.add(
                IncidentProposal(
                    person_id=late["id"],
                    kind="admonition",
                    status=status,
                    absence_days=0,
                    evidence={},
                    created_at=now - timedelta(days=days),
                    decided_at=now - timedelta(days=1) if status == "accepted" else None,
                )
            )
        session.commit()
        session.remove()

    for bad in ("0000-01", "0964-11", "2026-13"):  # the calendar's edge: 2000-2099 only
        refused = procurators["dc-jcy"].get(f"/api/v1/oversight/offices?month={bad}")
        assert refused.status_code == 422 and "query.month" in refused.get_json()["errors"]
    view = procurators["dc-jcy"].get("/api/v1/oversight/offices?month=2026-11")
    assert view.status_code == 200, view.get_json()
    body = view.get_json()
    assert {d["key"] for d in body["definitions"]} >= {"obligations_missed", "sanctions_per_100"}
    assert all(d["label_zh"] and d["definition_zh"] for d in body["definitions"])
    offices = {row["office"]["code"]: row for row in body["items"]}
    assert offices and all(code.startswith(DONGCHENG) for code in offices)
    figures = offices["32990101"]["figures"]
    assert figures == {
        "persons": 2,
        "obligations_missed": 1,
        "intake_deadlines_missed": 2,
        "grade_decisions_overdue": 1,
        "travel_permits_overdue": 1,
        "sanction_proposals_overdue": 1,
        "sanctions": 1,
        "sanctions_per_100": 50.0,
    }
    quiet = offices["32990102"]["figures"]
    assert quiet["persons"] == 0 and quiet["sanctions_per_100"] is None
    # The city sees every district's offices; another district's procurator not these.
    city = login("city").get("/api/v1/oversight/offices?month=2026-11").get_json()
    assert {r["district"]["code"] for r in city["items"]} >= {DONGCHENG, XICHENG}
    xc = procurators["xc-jcy"].get("/api/v1/oversight/offices").get_json()
    assert xc["month"] == "2026-11" and "32990101" not in {r["office"]["code"] for r in xc["items"]}
    # A commander may not read it; a bad or future month is 422 naming it.
    assert login("commander-dongcheng").get("/api/v1/oversight/offices").status_code == 403
    for month in ("2026-13", "2026-12", "x"):
        bad = procurators["dc-jcy"].get(f"/api/v1/oversight/offices?month={month}")
        errors = bad.get_json()["errors"]
        assert bad.status_code == 422 and any(k.endswith("month") for k in errors), month


def _second_person():
    return {"_birth": date(1987, 4, 5), "name": "赵六"}


def _third_person():
    return {"_birth": date(1988, 6, 7), "name": "钱七"}
