"""A unit's staff as a choice list (GET /api/v1/units/{code}/staff): who may see whose, the
id a flag's responsible officer takes, never anything of a password."""

from __future__ import annotations

from tests.support.queues import user_id

OFFICE = "32990101"  # 东城区城关司法所
OTHER_OFFICE = "32990201"  # 西城区西关司法所


def _staff(api, code, **query):
    return api.get(f"/api/v1/units/{code}/staff", query_string=query)


def test_an_office_lists_its_officers_with_the_id_a_flag_takes(app, login):
    resp = _staff(login("commander-dongcheng"), OFFICE, role="officer")
    assert resp.status_code == 200, resp.get_json()
    (row,) = resp.get_json()
    assert row == {
        "id": user_id(app, "officer-dongcheng-1"),
        "username": "officer-dongcheng-1",
        "display_name": "城关司法所工作人员",
        "role": "officer",
        "role_label_zh": "司法所工作人员",
        "unit_code": OFFICE,
        "unit_name_zh": "东城区城关司法所",
    }


def test_no_credential_is_listed(login):
    body = _staff(login("city"), "329901").get_data(as_text=True)
    assert "password" not in body and "argon2" not in body and "token" not in body


def test_a_district_lists_its_commanders_and_its_offices_officers(login):
    rows = _staff(login("commander-dongcheng"), "329901").get_json()
    assert {(r["role"], r["unit_code"]) for r in rows} == {
        ("commander", "329901"),
        ("officer", "32990101"),
        ("officer", "32990102"),
        ("officer", "32990103"),
        ("officer", "32990104"),
    }
    officers = _staff(login("commander-dongcheng"), "329901", role="commander").get_json()
    assert [r["username"] for r in officers] == ["commander-dongcheng"]


def test_who_sees_which_staff(login):
    assert _staff(login("officer-dongcheng-1"), OFFICE).status_code == 200
    assert _staff(login("city"), OTHER_OFFICE).status_code == 200
    assert _staff(login("admin"), OTHER_OFFICE).status_code == 200
    # Another office, another district, a district for an officer: refused, in Chinese.
    refused = _staff(login("officer-dongcheng-1"), "32990102")
    assert refused.status_code == 403
    assert refused.get_json()["detail"] == "单位 32990102 的工作人员名单不在您的查看范围内。"
    assert _staff(login("commander-dongcheng"), OTHER_OFFICE).status_code == 403
    assert _staff(login("officer-dongcheng-1"), "329901").status_code == 403
    assert _staff(login("commander-dongcheng"), "3299").status_code == 403
    # Roles without a decision to take see no staff at all.
    assert _staff(login("analyst"), OFFICE).status_code == 403
    assert _staff(login("auditor"), OFFICE).status_code == 403


def test_an_unknown_unit_or_role_names_what_is_wrong(login):
    city = login("city")
    assert _staff(city, "39999999").status_code == 404
    resp = _staff(city, OFFICE, role="chief")
    assert resp.status_code == 422 and "role" in str(resp.get_json()["errors"])


def test_a_disabled_account_is_not_offered(app, login):
    admin = login("admin")
    etag = admin.get("/api/v1/admin/users/officer-dongcheng-2").headers["ETag"]
    resp = admin.patch(
        "/api/v1/admin/users/officer-dongcheng-2",
        json={"active": False},
        headers={"If-Match": etag},
    )
    assert resp.status_code == 200, resp.get_json()
    assert _staff(login("city"), "32990102").get_json() == []


def test_the_officer_chosen_from_the_list_opens_the_flag(login, active):
    person = active()
    commander = login("commander-dongcheng")
    (officer,) = _staff(commander, OFFICE, role="officer").get_json()
    resp = commander.post(
        f"/api/v1/persons/{person['id']}/flags",
        json={"level": "district", "reason": "多次违规", "responsible_officer_id": officer["id"]},
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["responsible_officer_id"] == officer["id"]
