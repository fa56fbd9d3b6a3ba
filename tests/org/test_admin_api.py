"""The administrator's API: units and accounts, for role ``admin`` only."""

from __future__ import annotations

import pytest

from tests.support.org import audit_rows, district, example, units_snapshot

OTHER_ROLES = (
    "officer-dongcheng-1",
    "commander-dongcheng",
    "city",
    "analyst",
    "auditor",
)

ADMIN_CALLS = (
    ("get", "/api/v1/admin/units", None),
    ("post", "/api/v1/admin/units", {"code": "32990105", "name_zh": "东城区新村司法所",
                                      "kind": "office", "parent_code": "329901"}),
    ("get", "/api/v1/admin/units/329901", None),
    ("patch", "/api/v1/admin/units/329901", {"name_zh": "东城区司法局"}),
    ("post", "/api/v1/admin/org/import?dry_run=true", example()),
    ("get", "/api/v1/admin/users", None),
    ("post", "/api/v1/admin/users", {"username": "new-officer", "role": "officer",
                                      "unit_code": "32990101"}),
    ("get", "/api/v1/admin/users/officer-dongcheng-1", None),
    ("patch", "/api/v1/admin/users/officer-dongcheng-1", {"active": False}),
    ("post", "/api/v1/admin/users/officer-dongcheng-1/reset-code", None),
)  # fmt: skip


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_every_admin_route_refuses_every_other_role(login, app, username):
    api = login(username)
    before = units_snapshot(app)
    for method, path, body in ADMIN_CALLS:
        resp = getattr(api, method)(path, json=body, headers={"If-Match": '"1"'})
        assert resp.status_code == 403, (method, path, resp.status_code)
    assert units_snapshot(app) == before
    assert audit_rows(app, "unit.create", "user.create", "user.disable", "user.reset_code") == []


def test_admin_reads_units_and_accounts(login):
    admin = login("admin")
    units = admin.get("/api/v1/admin/units").get_json()
    assert {u["code"] for u in units} >= {"3299", "329901", "32990101"}
    office = next(u for u in units if u["code"] == "32990101")
    assert office["active"] is True and office["kind_label_zh"] == "司法所"
    page = admin.get("/api/v1/admin/users?role=officer&unit_code=32990101").get_json()
    assert page["total"] == 1 and page["items"][0]["username"] == "officer-dongcheng-1"
    assert page["items"][0]["password_set"] is True
    assert page["items"][0]["unit_name_zh"] == "东城区城关司法所"


def test_admin_adds_renames_and_retires_an_office_with_if_match(login, app):
    admin = login("admin")
    created = admin.post(
        "/api/v1/admin/units",
        json={
            "code": "32990105",
            "name_zh": "东城区新村司法所",
            "kind": "office",
            "parent_code": "329901",
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.headers["ETag"] == '"1"' and created.get_json()["parent_code"] == "329901"
    path = "/api/v1/admin/units/32990105"
    assert admin.patch(path, json={"name_zh": "东城区新村街道司法所"}).status_code == 428
    assert (
        admin.patch(path, json={"name_zh": "x司法所"}, headers={"If-Match": '"7"'}).status_code
        == 412
    )
    renamed = admin.patch(
        path, json={"name_zh": "东城区新村街道司法所"}, headers={"If-Match": '"1"'}
    )
    assert renamed.status_code == 200 and renamed.headers["ETag"] == '"2"'
    assert renamed.get_json()["name_zh"] == "东城区新村街道司法所"
    # Nothing refers to it: it may be made inactive, and accounts no longer go there.
    retired = admin.patch(path, json={"active": False}, headers={"If-Match": '"2"'})
    assert retired.status_code == 200 and retired.get_json()["active"] is False
    refused = admin.post(
        "/api/v1/admin/users",
        json={"username": "late-officer", "role": "officer", "unit_code": "32990105"},
    )
    # The body's own key (unit_code) names the problem, as for a PATCH.
    assert refused.status_code == 422 and "已停用" in refused.get_json()["errors"]["unit_code"][0]
    actions = [r.action for r in audit_rows(app, "unit.create", "unit.rename", "unit.deactivate")]
    assert actions == ["unit.create", "unit.rename", "unit.deactivate"]
    assert {r.actor_username for r in audit_rows(app, "unit.create")} == {"admin"}


def test_a_unit_with_history_cannot_be_made_inactive(login, app):
    admin = login("admin")
    before = units_snapshot(app)
    resp = admin.patch(
        "/api/v1/admin/units/32990101", json={"active": False}, headers={"If-Match": '"1"'}
    )
    assert resp.status_code == 409
    assert "有记录的单位不能停用" in resp.get_json()["errors"]["active"][0]
    assert units_snapshot(app) == before


def _raise_alert(app, person_id: int) -> int:
    from corrections.alerts import service as alerts
    from corrections.core.clock import now_utc
    from corrections.core.db import db

    with app.app_context():
        alert_id = alerts.raise_one(
            db.session, person_id=person_id, kind="lost_contact", subject_type="person",
            subject_id=person_id, detail={}, now=now_utc(),
        )  # fmt: skip
        db.session.commit()
        db.session.remove()
    return alert_id


def _alert_ids(client) -> set[int]:
    resp = client.get("/api/v1/alerts")
    assert resp.status_code == 200, resp.get_json()
    return {a["id"] for a in resp.get_json()["items"]}


def test_admin_moves_an_office_and_the_move_is_recorded(app, login, active):
    person = active()
    # The person's alert follows the office into its new district's lists (the alerts carry
    # the district: alerts/models.py).
    alert_id = _raise_alert(app, person["id"])
    assert alert_id in _alert_ids(login("commander-dongcheng"))
    admin = login("admin")
    moved = admin.patch(
        "/api/v1/admin/units/32990101",
        json={"parent_code": "329903"},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["parent_code"] == "329903"
    assert [(m["from_code"], m["to_code"], m["moved_by"]) for m in body["moves"]] == [
        ("329901", "329903", "admin")
    ]
    assert login("commander-nanhu").get(f"/api/v1/persons/{person['id']}").status_code == 200
    assert alert_id in _alert_ids(login("commander-nanhu"))
    assert alert_id not in _alert_ids(login("commander-dongcheng"))
    # A district does not move, and an office goes under a district only.
    for code, parent in (("329901", "329902"), ("32990102", "32990103")):
        resp = admin.patch(
            f"/api/v1/admin/units/{code}", json={"parent_code": parent}, headers={"If-Match": '"1"'}
        )
        assert resp.status_code == 422 and "parent_code" in resp.get_json()["errors"]


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"code": "3299011", "name_zh": "东城区新村司法所", "kind": "office",
          "parent_code": "329901"}, "code", "8–9 位数字"),
        ({"code": "32990205", "name_zh": "东城区新村司法所", "kind": "office",
          "parent_code": "329901"}, "code", "须以所属区县代码 329901 开头"),
        ({"code": "32990105", "name_zh": "Xincun office", "kind": "office",
          "parent_code": "329901"}, "name_zh", "名称须为中文"),
        ({"code": "32990105", "name_zh": "东城区新村司法所", "kind": "office",
          "parent_code": "3299"}, "parent_code", "上级须为区(县)司法局"),
        ({"code": "329900", "name_zh": "某区司法局", "kind": "district",
          "parent_code": "3299"}, "code", "末两位不为 00"),
        ({"code": "339901", "name_zh": "某区司法局", "kind": "district",
          "parent_code": "3299"}, "code", "须以市代码 3299 开头"),
        ({"code": "3300", "name_zh": "某市司法局", "kind": "city"}, "kind", "已有市司法局"),
        ({"code": "32990105", "name_zh": "东城区新村司法所", "kind": "ward",
          "parent_code": "329901"}, "kind", "须为以下之一"),
    ],
)  # fmt: skip
def test_a_bad_unit_is_422_naming_the_field_and_changes_nothing(login, app, body, field, text):
    before = units_snapshot(app)
    resp = login("admin").post("/api/v1/admin/units", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert text in " ".join(resp.get_json()["errors"][field])
    assert units_snapshot(app) == before


def test_unknown_units_are_404_and_a_taken_code_409(login):
    admin = login("admin")
    assert admin.get("/api/v1/admin/units/99999999").status_code == 404
    resp = admin.post(
        "/api/v1/admin/units",
        json={"code": "32990105", "name_zh": "某司法所", "kind": "office", "parent_code": "329999"},
    )
    assert resp.status_code == 404
    resp = admin.post(
        "/api/v1/admin/units",
        json={"code": "32990101", "name_zh": "某司法所", "kind": "office", "parent_code": "329901"},
    )
    assert resp.status_code == 409 and "code" in resp.get_json()["errors"]


def test_the_import_endpoint_reports_a_dry_run_and_names_bad_entries(login, app):
    admin = login("admin")
    document = example()
    district(document, "329902")["offices"].append(
        {"code": "32990204", "name_zh": "西城区新港司法所"}
    )
    before = units_snapshot(app)
    dry = admin.post("/api/v1/admin/org/import?dry_run=true", json=document)
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["counts"]["create"] == 1 and dry.get_json()["dry_run"] is True
    assert units_snapshot(app) == before
    done = admin.post("/api/v1/admin/org/import", json=document).get_json()
    assert done["changes"] == [
        {
            "action": "create",
            "kind": "office",
            "code": "32990204",
            "name_zh": "西城区新港司法所",
            "before": None,
            "after": "329902",
            "persons": None,
        }
    ]
    district(document, "329902")["offices"][-1]["code"] = "3299020X"
    bad = admin.post("/api/v1/admin/org/import", json=document)
    assert bad.status_code == 422
    assert list(bad.get_json()["errors"]) == ["city.districts[1].offices[3].code"]


def test_admin_creates_an_account_whose_user_sets_the_password(login, client, app):
    admin = login("admin")
    resp = admin.post(
        "/api/v1/admin/users",
        json={
            "username": "officer-dongcheng-9",
            "role": "officer",
            "unit_code": "32990101",
            "display_name": "城关司法所新同事",
        },
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["password_set"] is False and body["role_label_zh"] == "司法所工作人员"
    code = body["reset_code"]["code"]
    # No password works before the code is redeemed.
    for guess in ("", "!", "test-password-123"):
        signin = client.post(
            "/api/v1/auth/token", json={"username": "officer-dongcheng-9", "password": guess}
        )
        assert signin.status_code in (401, 422)
    redeemed = client.post(
        "/api/v1/auth/password/reset",
        json={
            "username": "officer-dongcheng-9",
            "code": code,
            "new_password": "green-river-stone-42",
        },
    )
    assert redeemed.status_code == 204
    signin = client.post(
        "/api/v1/auth/token",
        json={"username": "officer-dongcheng-9", "password": "green-river-stone-42"},
    )
    assert signin.status_code == 201
    after = admin.get("/api/v1/admin/users/officer-dongcheng-9").get_json()
    assert after["password_set"] is True and after["password_changed_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "Bad Name", "role": "officer", "unit_code": "32990101"}, "username"),
        ({"username": "x-officer", "role": "officer", "unit_code": "329901"}, "unit_code"),
        ({"username": "x-officer", "role": "chief", "unit_code": "32990101"}, "role"),
        ({"username": "officer-dongcheng-1", "role": "officer", "unit_code": "32990101"},
         "username"),
    ],
)  # fmt: skip
def test_a_bad_account_names_the_field(login, body, field):
    resp = login("admin").post("/api/v1/admin/users", json=body)
    assert resp.status_code in (409, 422) and field in resp.get_json()["errors"]


def test_a_role_must_fit_the_unit_and_a_change_revokes_tokens(login, app):
    admin = login("admin")
    officer = login("officer-dongcheng-1")
    path = "/api/v1/admin/users/officer-dongcheng-1"
    resp = admin.patch(path, json={"role": "commander"}, headers={"If-Match": '"1"'})
    assert resp.status_code == 422 and "区(县)司法局" in resp.get_json()["errors"]["role"][0]
    assert officer.get("/api/v1/auth/me").status_code == 200
    resp = admin.patch(
        path, json={"role": "commander", "unit_code": "329901"}, headers={"If-Match": '"1"'}
    )
    assert resp.status_code == 200 and resp.get_json()["unit_code"] == "329901"
    assert officer.get("/api/v1/auth/me").status_code == 401
    (row,) = audit_rows(app, "user.update")
    assert row.actor_username == "admin"
    assert row.detail == {
        "from": {"role": "officer", "unit": "32990101"},
        "to": {"role": "commander", "unit": "329901"},
        "tokens_revoked": 1,
        "reset_codes_withdrawn": 0,
    }


def test_disable_enable_of_a_staff_account(login, client):
    admin = login("admin")
    path = "/api/v1/admin/users/officer-dongcheng-2"
    officer = login("officer-dongcheng-2")
    off = admin.patch(path, json={"active": False}, headers={"If-Match": '"1"'})
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert officer.get("/api/v1/auth/me").status_code == 401
    on = admin.patch(path, json={"active": True}, headers={"If-Match": off.headers["ETag"]})
    assert on.status_code == 200 and on.get_json()["active"] is True
    assert login("officer-dongcheng-2").get("/api/v1/auth/me").status_code == 200


def test_two_administrators_disabling_each_other_at_the_server_leave_one(app, runner):
    """Hostile review (PostgreSQL): each counted the other as still active, and both were
    disabled in 4 of 6 tries. Administrators are disabled at the server only now (two
    operators at once), so the race is run there: the service under the CLI's actor."""
    import threading

    from sqlalchemy import func, select

    from corrections.core.cli_identity import cli_actor
    from corrections.core.db import db
    from corrections.core.errors import Conflict
    from corrections.org import accounts
    from corrections.org.models import User

    _second_admin(runner)
    barrier = threading.Barrier(2)
    outcomes = []

    def disable(other: str) -> None:
        with app.app_context():
            try:
                barrier.wait()
                accounts.update_user(
                    db.session, username=other, changes={"active": False}, actor=cli_actor()
                )
                db.session.commit()
                outcomes.append("disabled")
            except Conflict:
                db.session.rollback()
                outcomes.append("last administrator")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=disable, args=(name,)) for name in ("admin-two", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["disabled", "last administrator"], outcomes
    with app.app_context():
        active = db.session.scalar(
            select(func.count()).where(User.role == "admin", User.active.is_(True))
        )
        db.session.remove()
    assert active == 1


# --- separation of duties: administrators and the admin role are the server's -----------

SECOND_ADMIN_PASSWORD = "river-lantern-orchid-47"


def _second_admin(runner) -> None:
    made = runner.invoke(
        args=["users", "create", "admin-two", "--role", "admin", "--unit", "3299",
              "--password-stdin"],
        input=SECOND_ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output


def _sign_in(client, username: str, password: str):
    from tests.conftest import Api

    resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.get_json()
    return Api(client, resp.get_json()["access_token"], username)


def _account(app, username: str) -> tuple:
    """An account's stored state, to compare before and after."""
    from sqlalchemy import func, select

    from corrections.core.db import db
    from corrections.org.models import PasswordResetCode, User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        codes = db.session.scalar(select(func.count()).where(PasswordResetCode.user_id == user.id))
        state = (user.role, user.unit_id, user.active, user.display_name, user.version, codes)
        db.session.remove()
    return state


def _refused(resp, reason_text: str, field: str) -> dict:
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    body = resp.get_json()
    assert reason_text in body["detail"], body
    assert field in body["errors"], body
    return body


ON_ANOTHER_ADMIN = (
    ("patch", {"active": False}),
    ("patch", {"role": "city"}),
    ("patch", {"role": "commander", "unit_code": "329901"}),
    ("patch", {"display_name": "别人"}),
    ("post-reset-code", None),
)


@pytest.mark.parametrize(("call", "body"), ON_ANOTHER_ADMIN)
def test_an_administrator_cannot_reset_disable_or_change_another_administrator(
    app, client, login, runner, call, body
):
    _second_admin(runner)
    other = _sign_in(client, "admin-two", SECOND_ADMIN_PASSWORD)
    admin = login("admin")
    before = _account(app, "admin-two")
    path = "/api/v1/admin/users/admin-two"
    if call == "patch":
        etag = admin.get(path).headers["ETag"]
        resp = admin.patch(path, json=body, headers={"If-Match": etag})
    else:
        resp = admin.post(path + "/reset-code")
    problem = _refused(resp, "系统管理员账号只能在服务器上用 corrections users", "username")
    assert "code" not in problem and "reset_code" not in problem
    assert _account(app, "admin-two") == before
    assert other.get("/api/v1/auth/me").status_code == 200  # its tokens stay valid
    (row,) = audit_rows(app, "user.change_refused")
    assert row.actor_username == "admin" and row.detail["reason"] == "administrator"
    assert row.detail["outcome"] == 403 and row.detail["target_role"] == "admin"
    assert row.detail["operation"] == ("update" if call == "patch" else "reset_code")
    assert audit_rows(app, "user.update", "user.disable", "user.reset_code") == []


@pytest.mark.parametrize(
    ("call", "body"),
    [("patch", {"active": False}), ("patch", {"display_name": "我自己"}),
     ("post-reset-code", None)],
)  # fmt: skip
def test_an_administrator_cannot_act_on_their_own_account(app, login, runner, call, body):
    _second_admin(runner)  # not the last administrator: the refusal is not that rule's
    admin = login("admin")
    before = _account(app, "admin")
    path = "/api/v1/admin/users/admin"
    if call == "patch":
        resp = admin.patch(path, json=body, headers={"If-Match": admin.get(path).headers["ETag"]})
    else:
        resp = admin.post(path + "/reset-code")
    _refused(resp, "修改本人密码请用 POST /api/v1/auth/password", "username")
    assert _account(app, "admin") == before
    assert admin.get("/api/v1/auth/me").status_code == 200
    (row,) = audit_rows(app, "user.change_refused")
    assert row.detail["reason"] == "own_account" and row.detail["outcome"] == 403


def test_nobody_is_made_an_administrator_through_the_api(app, login):
    admin = login("admin")
    before = _account(app, "city")
    promoted = admin.patch(
        "/api/v1/admin/users/city", json={"role": "admin"}, headers={"If-Match": '"1"'}
    )
    _refused(promoted, "系统管理员角色只能在服务器上授予", "role")
    assert _account(app, "city") == before
    created = admin.post(
        "/api/v1/admin/users",
        json={"username": "admin-three", "role": "admin", "unit_code": "3299"},
    )
    _refused(created, "系统管理员角色只能在服务器上授予", "role")
    assert admin.get("/api/v1/admin/users/admin-three").status_code == 404
    rows = audit_rows(app, "user.change_refused")
    assert [(r.detail["operation"], r.detail["reason"]) for r in rows] == [
        ("update", "grants_admin"),
        ("create", "grants_admin"),
    ]
    assert rows[0].detail["fields"] == ["role"] and rows[1].subject_id is None
    assert audit_rows(app, "user.create", "user.update") == []


def test_a_refusal_is_in_english_when_asked(login, runner):
    _second_admin(runner)
    resp = login("admin").post(
        "/api/v1/admin/users/admin-two/reset-code", headers={"Accept-Language": "en"}
    )
    assert resp.status_code == 403
    body = resp.get_json()
    assert body["detail"].startswith("Administrator accounts are managed only at the server")
    assert body["errors"] == {"username": ["an administrator account"]}
    assert resp.headers["Content-Language"] == "en"


def test_city_and_staff_accounts_are_still_managed_through_the_api(app, login, client):
    admin = login("admin")
    city = login("city")
    issued = admin.post("/api/v1/admin/users/city/reset-code")
    assert issued.status_code == 201
    (row,) = audit_rows(app, "user.reset_code")
    assert row.actor_username == "admin" and row.detail["role"] == "city"
    assert city.get("/api/v1/auth/me").status_code == 200  # until the code is redeemed
    # Another city account: the last active one is kept (test below).
    made = admin.post("/api/v1/admin/users", json={"username": "city-two", "role": "city",
                                                     "unit_code": "3299"})  # fmt: skip
    assert made.status_code == 201, made.get_json()
    off = admin.patch("/api/v1/admin/users/city", json={"active": False},
                      headers={"If-Match": '"1"'})  # fmt: skip
    assert off.status_code == 200 and city.get("/api/v1/auth/me").status_code == 401
    moved = admin.patch(
        "/api/v1/admin/users/officer-dongcheng-1",
        json={"role": "commander", "unit_code": "329901"},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200
    assert audit_rows(app, "user.change_refused") == []


def test_the_server_still_manages_administrators(app, runner, client):
    """What the API refuses is done at the server, recorded as cli:<os user>@<host>."""
    from tests.support.org import CLI_ACTOR

    _second_admin(runner)
    for args in (
        ("reset-password", "admin-two"),
        ("set-role", "admin-two", "auditor"),
        ("set-role", "admin-two", "admin"),
        ("disable", "admin-two"),
        ("enable", "admin-two"),
    ):
        result = runner.invoke(args=["users", *args])
        assert result.exit_code == 0, (args, result.output)
    rows = audit_rows(app, "user.reset_code", "user.update", "user.disable", "user.enable")
    assert len(rows) == 5 and {r.actor_username for r in rows} == {CLI_ACTOR}
    assert audit_rows(app, "user.change_refused") == []


def test_an_account_cannot_take_the_systems_own_name(login):
    """Hostile review: an account named "system" made a person's actions look automatic."""
    admin = login("admin")
    resp = admin.post(
        "/api/v1/admin/users",
        json={"username": "system", "role": "city", "unit_code": "3299", "display_name": "x"},
    )
    assert resp.status_code == 422 and "username" in resp.get_json()["errors"]


def test_the_last_active_city_account_is_neither_disabled_nor_demoted(app, login):
    """Hostile review (issue 16): an administrator's token disabled every city account, and
    nobody saw or decided at the city's level any more. Like the last administrator (409)."""
    admin = login("admin")
    city = login("city")
    for change in ({"active": False}, {"role": "analyst"}, {"role": "auditor"}):
        resp = admin.patch("/api/v1/admin/users/city", json=change, headers={"If-Match": '"1"'})
        assert resp.status_code == 409, (change, resp.get_json())
        body = resp.get_json()
        assert body["errors"] == {"username": ["最后一个市局账号"]}
        assert body["detail"] == "这是最后一个在用的市局账号"
    assert city.get("/api/v1/auth/me").status_code == 200
    made = admin.post("/api/v1/admin/users", json={"username": "city-two", "role": "city",
                                                     "unit_code": "3299"})  # fmt: skip
    assert made.status_code == 201
    # Inactive, city-two does not count: still refused.
    version = made.headers["ETag"]
    off = admin.patch("/api/v1/admin/users/city-two", json={"active": False},
                      headers={"If-Match": version})  # fmt: skip
    assert off.status_code == 200
    again = admin.patch("/api/v1/admin/users/city", json={"active": False},
                        headers={"If-Match": '"1"'})  # fmt: skip
    assert again.status_code == 409
    on = admin.patch("/api/v1/admin/users/city-two", json={"active": True},
                     headers={"If-Match": off.headers["ETag"]})  # fmt: skip
    assert on.status_code == 200
    # Two active: one may go, and then the other is the last.
    done = admin.patch("/api/v1/admin/users/city", json={"role": "analyst"},
                       headers={"If-Match": '"1"'})  # fmt: skip
    assert done.status_code == 200 and done.get_json()["role"] == "analyst"
    last = admin.patch("/api/v1/admin/users/city-two", json={"active": False},
                       headers={"If-Match": on.headers["ETag"]})  # fmt: skip
    assert last.status_code == 409


def test_the_cli_keeps_the_last_city_account_too(runner, login):
    result = runner.invoke(args=["users", "disable", "city"])
    assert result.exit_code == 1 and "最后一个在用的市局账号" in result.output
    result = runner.invoke(args=["users", "set-role", "city", "auditor"])
    assert result.exit_code == 1 and "最后一个在用的市局账号" in result.output
    assert login("city").get("/api/v1/auth/me").status_code == 200
