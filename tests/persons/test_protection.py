"""Issue 12: identity fields encrypted at rest (finding 7), identity kept out of URLs and logs
(finding 9), a duplicate intake that names nothing outside scope (part of finding 1), a 412
that names no data (part of finding 2)."""

from __future__ import annotations

import copy
import json
import logging
import re

import pytest
from flask import request, request_started
from sqlalchemy import select, text

from corrections.audit.models import AuditEntry
from corrections.core import crypto, keys, rotation
from corrections.core.db import db
from corrections.core.i18n import translate
from corrections.persons.service import NOT_HERE
from tests.factories import person_payload

IDENTITY = {
    "name": "欧阳明远",
    "phone": "13955501234",
    "address": "滨江市东城区梧桐巷77号",
    "family_contact_name": "司马秀英",
    "family_contact_phone": "13766602345",
}
NEW_ADDRESS = "滨江市东城区银杏街88号"
SEARCH = "/api/v1/persons/search"


def _raw(app, sql: str) -> list[tuple]:
    with app.app_context():
        rows = [tuple(r) for r in db.session.execute(text(sql))]
        db.session.remove()
    return rows


def _search(api, **body):
    resp = api.post(SEARCH, json=body)
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["items"]]


@pytest.fixture
def keyring(app):
    """The app's keyring, put back as it was after the test (rotations change it)."""
    with app.app_context():  # outside one, current() is the last app created's
        ring = keys.current()
    saved = copy.deepcopy(ring.purposes)
    yield ring
    ring.purposes.clear()
    ring.purposes.update(saved)
    ring.save()


# --- finding 7: identity fields encrypted at rest -----------------------------------------


def test_finding_7_identity_fields_are_encrypted_at_rest(app, officer, active):
    person = active(**IDENTITY)
    moved = officer.post(
        f"/api/v1/persons/{person['id']}/events",
        json={
            "type": "address_change",
            "occurred_at": "2026-11-27T01:00:00Z",
            "payload": {"new_address": NEW_ADDRESS},
        },
    )
    assert moved.status_code == 201, moved.get_json()
    secrets = [person["id_number"], *IDENTITY.values(), NEW_ADDRESS]
    secrets.remove(IDENTITY["name"])  # names are not in the finding's list: they stay plain

    columns = _raw(
        app,
        "SELECT id_number, phone, address, family_contact_name, family_contact_phone FROM persons",
    )
    assert len(columns) == 1
    for value in columns[0]:
        assert value.startswith("e1:field-"), value
    # Nothing in any column of the row, nor in the event's payload, reveals them.
    everything = json.dumps(
        [_raw(app, "SELECT * FROM persons"), _raw(app, "SELECT * FROM supervision_events")],
        default=str,
        ensure_ascii=False,
    )
    for secret in secrets:
        assert secret not in everything
        assert secret[-6:] not in everything
    (payload,) = _raw(app, "SELECT payload FROM supervision_events WHERE type = 'address_change'")[
        0
    ]
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    assert payload["new_address"].startswith("e1:field-")

    # The owner reads them as they were given.
    read = officer.get(f"/api/v1/persons/{person['id']}").get_json()
    for field, value in IDENTITY.items():
        if field != "address":
            assert read[field] == value, field
    assert read["address"] == NEW_ADDRESS  # the address change moved the person
    events = officer.get(f"/api/v1/persons/{person['id']}/events").get_json()["items"]
    assert [e["payload"]["new_address"] for e in events if e["type"] == "address_change"] == [
        NEW_ADDRESS
    ]


def test_finding_7_ciphertexts_are_bound_to_their_column_and_refuse_tampering(app):
    with app.app_context():
        token = crypto.encrypt("13955501234", "persons.phone")
        assert crypto.decrypt(token, "persons.phone") == "13955501234"
        assert token != crypto.encrypt("13955501234", "persons.phone")  # a fresh nonce each
        # Moved to another column: the associated data no longer matches.
        with pytest.raises(crypto.DecryptionError, match=r"persons\.address"):
            crypto.decrypt(token, "persons.address")
        body = token.rsplit(":", 1)[1]
        flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
        with pytest.raises(crypto.DecryptionError, match="failed authentication"):
            crypto.decrypt(token.rsplit(":", 1)[0] + ":" + flipped, "persons.phone")
        with pytest.raises(crypto.DecryptionError, match="not an e1 ciphertext"):
            crypto.decrypt("13955501234", "persons.phone")
        with pytest.raises(keys.KeyringError, match="field-99"):
            crypto.decrypt(token.replace(token.split(":")[1], "field-99"), "persons.phone")


def test_finding_7_search_by_id_number_and_phone_goes_through_blind_indexes(app, officer, intake):
    target = intake(**IDENTITY)
    other = intake(name="钱小明", phone="13800001111")
    number = target["id_number"]
    assert _search(officer, q=number) == [target["id"]]
    assert _search(officer, q=number.lower()) == [target["id"]]
    assert target["id"] in _search(officer, q=number[-4:])
    assert _search(officer, q=number[-7:]) == [target["id"]]
    assert _search(officer, q=IDENTITY["phone"]) == [target["id"]]
    assert _search(officer, q="欧阳") == [target["id"]]
    assert _search(officer, q="13955509999") == []
    # Filters and paging as on the list.
    assert _search(officer, q=other["phone"], category="parole") == []
    assert _search(officer, q=other["phone"], page_size=1) == [other["id"]]
    # The indexes in the database are keyed: not the plain value, nor its unkeyed hash.
    (bidx, tail, phone) = _raw(app, "SELECT id_number_bidx, id_tail_bidx, phone_bidx FROM persons")[
        0
    ]
    for index in (bidx, tail, phone):
        assert re.fullmatch(r"index-\d+:[0-9a-f]{32}", index), index


# --- finding 7: key rotation --------------------------------------------------------------


def _prefixes(app) -> set[str]:
    rows = _raw(app, "SELECT id_number, phone, address FROM persons")
    return {v.split(":")[1] for row in rows for v in row}


def test_finding_7_key_rotation_reencrypts_in_resumable_batches(
    app, runner, officer, active, keyring
):
    people = [active(name=f"轮换{i}", phone=f"1390000000{i}") for i in range(3)]
    officer.post(
        f"/api/v1/persons/{people[0]['id']}/events",
        json={
            "type": "address_change",
            "occurred_at": "2026-11-27T01:00:00Z",
            "payload": {"new_address": NEW_ADDRESS},
        },
    )
    old = keyring.active_id("field")

    # An interrupted run: a new key, one batch of one row, then a stop.
    new = keyring.rotate("field")
    with app.app_context():
        specs = rotation.tables_from_metadata(db.metadata)
        rotation.run(
            db.session.connection,
            specs,
            keyring,
            fields=True,
            indexes=False,
            batch=1,
            commit=db.session.commit,
            max_batches=1,
        )
        db.session.remove()
    assert _prefixes(app) == {old, new}
    # Mid-rotation every value still reads (old keys stay in the keyring).
    for p in people:
        assert officer.get(f"/api/v1/persons/{p['id']}").get_json()["phone"] == p["phone"]

    result = runner.invoke(args=["keys", "status"])
    assert result.exit_code == 0, result.output
    assert f"field：现用 {new}；全部密钥 {old}, {new}" in result.output  # field: active, keys
    assert "persons：2 行仍使用旧密钥" in result.output  # rows under older keys

    result = runner.invoke(
        args=["keys", "rotate", "--purpose", "field", "--resume", "--batch", "1"]
    )
    assert result.exit_code == 0, result.output
    # Every table with encrypted columns is brought under the new key (more join as they come).
    left = re.search(r"仍使用旧密钥的：\{([^}]*)\}", result.output)  # still under older keys
    left = dict(item.split(": ") for item in left[1].replace("'", "").split(", "))
    assert {"persons", "supervision_events"} <= set(left) and set(left.values()) == {"0"}
    assert _prefixes(app) == {new}
    (payload,) = _raw(app, "SELECT payload FROM supervision_events WHERE type = 'address_change'")[
        0
    ]
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    assert payload["new_address"].startswith(f"e1:{new}:")
    for p in people:
        assert officer.get(f"/api/v1/persons/{p['id']}").get_json()["phone"] == p["phone"]
    events = officer.get(f"/api/v1/persons/{people[0]['id']}/events").get_json()["items"]
    assert NEW_ADDRESS in [e["payload"].get("new_address") for e in events]
    assert old in keyring.all("field")


def test_finding_7_index_rotation_keeps_search_and_the_duplicate_rule_working(
    app, runner, officer, intake, keyring, monkeypatch
):
    # This test refuses many duplicates on purpose (the daily limit is tested on its own).
    monkeypatch.setitem(app.config, "INTAKE_REFUSALS_PER_DAY", 1000)
    people = [intake(name=f"索引{i}", phone=f"1380000000{i}") for i in range(3)]
    old = keyring.active_id("index")
    new = keyring.rotate("index")
    with app.app_context():
        rotation.run(
            db.session.connection,
            rotation.tables_from_metadata(db.metadata),
            keyring,
            fields=False,
            indexes=True,
            batch=1,
            commit=db.session.commit,
            max_batches=1,
        )
        db.session.remove()
    prefixes = {r[0].split(":")[0] for r in _raw(app, "SELECT id_number_bidx FROM persons")}
    assert prefixes == {old, new}

    def still_found():
        for p in people:
            assert _search(officer, q=p["id_number"]) == [p["id"]]
            assert p["id"] in _search(officer, q=p["id_number"][-4:])
            assert _search(officer, q=p["phone"]) == [p["id"]]
            again = officer.post("/api/v1/persons", json=person_payload(id_number=p["id_number"]))
            assert again.status_code == 409, again.get_json()

    still_found()  # mid-rotation: lookups try every index key
    result = runner.invoke(args=["keys", "rotate", "--purpose", "index", "--resume"])
    assert result.exit_code == 0, result.output
    assert "仍使用旧密钥的：{'persons': 0}" in result.output
    rows = _raw(app, "SELECT id_number_bidx, id_tail_bidx, phone_bidx FROM persons")
    assert {v.split(":")[0] for row in rows for v in row} == {new}
    still_found()


def test_finding_7_key_only_rotation_adds_a_key_and_touches_no_row(app, runner, intake, keyring):
    intake()
    before = _raw(app, "SELECT id_number, id_number_bidx FROM persons")
    result = runner.invoke(args=["keys", "rotate", "--purpose", "field", "--key-only"])
    assert result.exit_code == 0, result.output
    assert "--purpose field --resume" in result.output
    assert _raw(app, "SELECT id_number, id_number_bidx FROM persons") == before
    assert "persons：1 行仍使用旧密钥" in runner.invoke(args=["keys", "status"]).output


def test_finding_7_audit_rotation_only_adds_a_key(runner, keyring):
    old = keyring.active_id("audit")
    result = runner.invoke(args=["keys", "rotate", "--purpose", "audit"])
    assert result.exit_code == 0, result.output
    assert keyring.active_id("audit") != old and old in keyring.all("audit")


# --- finding 9: no identity in URLs or logs ------------------------------------------------


def test_finding_9_identity_search_is_a_post_and_get_refuses_q(officer, intake):
    person = intake(**IDENTITY)
    resp = officer.get(f"/api/v1/persons?q={person['id_number']}")
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {"query.q": ["未知字段。"]}
    assert person["id_number"] not in resp.get_data(as_text=True)
    assert _search(officer, q=person["id_number"]) == [person["id"]]
    assert officer.get("/api/v1/persons?status=pending_intake").get_json()["total"] == 1
    # A search names what it looks for: q is required.
    assert officer.post(SEARCH, json={"status": "active"}).status_code == 422


def test_finding_9_logs_and_urls_carry_no_personal_data(app, login, caplog):
    officer = login("officer-dongcheng-1")
    stranger = login("officer-jiangkou-1")
    urls: list[str] = []

    def remember(sender, **extra):
        urls.append(request.url)

    caplog.set_level(logging.DEBUG)  # every logger, SQLAlchemy's and werkzeug's too
    for name in ("werkzeug", "sqlalchemy.engine", "sqlalchemy.pool", "corrections"):
        caplog.set_level(logging.DEBUG, logger=name)
    payload = person_payload(**IDENTITY)
    number = payload["id_number"]
    with request_started.connected_to(remember, app):
        created = officer.post("/api/v1/persons", json=payload)
        assert created.status_code == 201
        pid = created.get_json()["id"]
        for q in (IDENTITY["name"], number, number[-4:], number[-8:], IDENTITY["phone"]):
            assert _search(officer, q=q) == [pid]
        assert officer.get(f"/api/v1/persons/{pid}").status_code == 200
        patched = officer.patch(
            f"/api/v1/persons/{pid}",
            json={"phone": "13955505678", "address": IDENTITY["address"] + "2栋"},
            headers={"If-Match": '"1"'},
        )
        assert patched.status_code == 200, patched.get_json()
        assert officer.post("/api/v1/persons", json=payload).status_code == 409
        assert stranger.post("/api/v1/persons", json=payload).status_code == 409
        bad = dict(payload, id_number=number[:-1] + ("0" if number[-1] != "0" else "1"))
        assert officer.post("/api/v1/persons", json=bad).status_code == 422
        stale = officer.patch(
            f"/api/v1/persons/{pid}", json={"phone": IDENTITY["phone"]}, headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 412
    assert len(urls) == 12 and all("/api/v1/persons" in u for u in urls)

    logged = []
    for record in caplog.records:
        logged.append(record.getMessage())
        if record.exc_info:
            logged.append(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            logged.append(record.stack_info)
    assert any("persons" in line for line in logged), "SQLAlchemy's statements were captured"
    haystacks = {"log": "\n".join(logged), "url": "\n".join(urls)}
    digits = re.sub(r"\D", "", number)
    needles = [
        IDENTITY["name"],
        IDENTITY["address"],
        IDENTITY["family_contact_name"],
        IDENTITY["phone"],
        IDENTITY["family_contact_phone"],
        "13955505678",
        number,
        *(digits[i : i + 6] for i in range(len(digits) - 5)),
    ]
    for where, text_ in haystacks.items():
        for needle in needles:
            assert needle not in text_, f"{needle!r} in the {where}"


# --- finding 1: the duplicate check names nothing outside scope ---------------------------


def test_finding_1_duplicate_intake_outside_scope_names_nothing_and_is_audited(app, login):
    owner = login("officer-dongcheng-1")
    payload = person_payload(**IDENTITY)
    existing = owner.post("/api/v1/persons", json=payload).get_json()

    # In scope of the existing record: the precise answer, without echoing the number.
    for username in ("officer-dongcheng-1", "commander-dongcheng", "city"):
        resp = login(username).post("/api/v1/persons", json=dict(payload, office_code="32990101"))
        assert resp.status_code == 409, username
        body = resp.get_data(as_text=True)
        assert resp.get_json()["errors"] == {"id_number": ["已在社区矫正中"]}
        assert payload["id_number"] not in body

    # Outside it: that it cannot be done here, nothing else.
    for username in ("officer-jiangkou-1", "officer-dongcheng-2", "commander-jiangkou"):
        api = login(username)
        body = dict(payload)
        if username.startswith("commander"):
            body["office_code"] = "32990501"
        resp = api.post("/api/v1/persons", json=body)
        assert resp.status_code == 409, username
        problem = resp.get_json()
        assert (
            problem["detail"]
            == translate(NOT_HERE, "zh")
            == "此人无法在此登记入矫，请联系市司法局。"
        )
        assert set(problem) == {"type", "title", "status", "detail", "instance", "request_id"}
        text_ = resp.get_data(as_text=True)
        for leak in (
            payload["id_number"],
            payload["id_number"][-4:],
            IDENTITY["name"],
            "id_number",
            "32990101",
            "城关",
            "东城",
        ):
            assert leak not in text_.replace(problem["request_id"], ""), (username, leak)

    # Each refused probe left an audit row on the existing record, after its rollback.
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.actor_username, AuditEntry.detail).where(
                AuditEntry.action == "person.intake_refused",
                AuditEntry.subject_id == str(existing["id"]),
            )
        ).all()
        db.session.remove()
    by_actor = {actor: detail for actor, detail in rows}
    for username in ("officer-jiangkou-1", "officer-dongcheng-2", "commander-jiangkou", "city"):
        assert by_actor[username]["reason"] == "duplicate", username
        assert by_actor[username]["outcome"] == 409
    assert payload["id_number"] not in json.dumps([d for _, d in rows])


# --- finding 2: a 412 names no data --------------------------------------------------------


def test_finding_2_stale_if_match_is_412_naming_no_version(officer, intake):
    person = intake()
    url = f"/api/v1/persons/{person['id']}"
    for _ in range(3):  # the person is now at version 4
        version = officer.get(url).headers["ETag"]
        ok = officer.patch(url, json={"phone": "13900000000"}, headers={"If-Match": version})
        assert ok.status_code == 200
        officer.patch(url, json={"phone": "13911111111"}, headers={"If-Match": ok.headers["ETag"]})
    resp = officer.patch(url, json={"phone": "13922222222"}, headers={"If-Match": '"1"'})
    assert resp.status_code == 412
    problem = resp.get_json()
    assert "ETag" not in resp.headers
    assert not re.search(r"\d", problem["detail"]), problem["detail"]
    assert "version" not in problem["detail"]
    assert set(problem) <= {"type", "title", "status", "detail", "instance", "request_id"}


def test_finding_1_a_juvenile_duplicate_is_not_confirmed_to_city_staff(login):
    from tests.factories import juvenile_payload

    owner = login("officer-dongcheng-1")
    payload = juvenile_payload()
    assert owner.post("/api/v1/persons", json=payload).status_code == 201
    resp = login("city").post("/api/v1/persons", json=dict(payload, office_code="32990101"))
    assert resp.status_code == 409 and resp.get_json()["detail"] == translate(NOT_HERE, "zh")
    assert "errors" not in resp.get_json()


def test_finding_1_city_cannot_probe_a_juveniles_masked_facts_by_correcting_them(login):
    """A PATCH validates the new facts against the stored ID number: for a masked juvenile
    that would answer 'is this the birth date?'; only the owners may correct them."""
    from tests.factories import juvenile_payload

    owner = login("officer-dongcheng-1")
    person = owner.post("/api/v1/persons", json=juvenile_payload()).get_json()
    city = login("city")
    for change in ({"date_of_birth": "2010-03-08"}, {"date_of_birth": "2010-03-09"}, {}):
        resp = city.patch(
            f"/api/v1/persons/{person['id']}", json=change, headers={"If-Match": '"1"'}
        )
        assert resp.status_code == 403, change
        assert "2010" not in resp.get_data(as_text=True)
    ok = owner.patch(
        f"/api/v1/persons/{person['id']}",
        json={"phone": "13900000000"},
        headers={"If-Match": '"1"'},
    )
    assert ok.status_code == 200


def test_finding_1_refused_intakes_are_limited_per_user(app, login):
    """The duplicate rule answers yes or no for an ID number: after a few refusals a day the
    user may not try again, so it cannot be used to search the city."""
    owner = login("officer-dongcheng-1")
    payload = person_payload(**IDENTITY)
    assert owner.post("/api/v1/persons", json=payload).status_code == 201
    prober = login("officer-jiangkou-1")
    limit = app.config["INTAKE_REFUSALS_PER_DAY"]
    for _ in range(limit):
        assert prober.post("/api/v1/persons", json=payload).status_code == 409
    blocked = prober.post("/api/v1/persons", json=person_payload())  # even a fresh person
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    # Others are not affected.
    assert (
        login("officer-jiangkou-2").post("/api/v1/persons", json=person_payload()).status_code
        == 201
    )


def test_finding_1_a_lone_surrogate_is_refused_at_the_edge_not_after_the_duplicate_check(
    app, login
):
    owner = login("officer-dongcheng-1")
    raw = '{"name": "\\u6d4b\\ud800", "gender": "male"}'
    for path in ("/api/v1/persons", "/api/v1/persons/search"):
        resp = owner.post(path, data=raw, headers={"Content-Type": "application/json"})
        # Issue 13 finding 7: a 4xx naming the field (422), no longer a 400 for the body.
        assert resp.status_code == 422, path
        assert resp.mimetype == "application/problem+json"
        assert "name" in resp.get_json()["errors"], path


def test_finding_5_a_list_page_is_one_audit_row_and_a_search_that_finds_nobody_is_recorded(
    app, officer, intake
):
    ids = sorted(intake()["id"] for _ in range(3))
    page = officer.get("/api/v1/persons")
    assert page.status_code == 200
    assert _search(officer, q="无此人") == []
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.action, AuditEntry.subject_ids, AuditEntry.detail).where(
                AuditEntry.action.in_(("person.list", "person.search"))
            )
        ).all()
        db.session.remove()
    assert [(a, s) for a, s, _ in rows] == [
        ("person.list", "," + ",".join(map(str, ids)) + ","),
        ("person.search", None),
    ]
    assert rows[1][2] == {"count": 0} and "无此人" not in str(rows)


def test_a_key_rotation_is_recorded_in_the_trail(app, runner, keyring):
    result = runner.invoke(args=["keys", "rotate", "--purpose", "audit"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "keys.rotate"))
        db.session.remove()
    assert row.detail["purpose"] == "audit" and row.detail["key_id"].startswith("audit-")
    assert row.detail["os_user"] and row.seq is not None
