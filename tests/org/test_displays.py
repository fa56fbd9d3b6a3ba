"""Wall displays (大屏, issue 17 item 4): a device token with read-only scope for one district,
no 12-hour expiry, revocable (at once for requests, within the token check for an open
stream), audited and listed; what it shows of a person is the ``wall`` visibility."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from corrections.audit.models import AuditEntry
from corrections.config import DEFAULTS
from corrections.core.auth import DISPLAY_COOKIE
from corrections.core.db import db
from corrections.org.models import DisplayToken
from tests.alerts.test_streams import Reader, streams  # noqa: F401 - the fixture
from tests.conftest import TEST_NOW
from tests.factories import juvenile_payload
from tests.persons.test_privacy import _text, _walk, world  # noqa: F401 - the fixture
from tests.support.alerts import raise_alarm

DONGCHENG, XICHENG = "329901", "329902"
BOARD = "/api/v1/display"


class Display:
    """A wall display's client: its secret as a bearer token (a browser sends the cookie)."""

    def __init__(self, client, token: str, body: dict):
        self.client, self.token, self.body = client, token, body

    def get(self, path, **kw):
        return self.client.get(path, headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def post(self, path, **kw):
        return self.client.post(path, headers={"Authorization": f"Bearer {self.token}"}, **kw)


@pytest.fixture
def make_display(client, login):
    def _make(district: str = DONGCHENG, by: str = "commander-dongcheng", name=None):
        resp = login(by).post(
            "/api/v1/display-tokens",
            json={"name": name or "东城区指挥中心大屏", "district_code": district},
        )
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        return Display(client, body["token"], body)

    return _make


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        db.session.remove()
    return rows


def _alarm(app, person_id: int, subject: int = 999) -> None:
    raise_alarm(app, person_id, TEST_NOW, subject_ids=[subject], detail={"alarm": "tamper"})


# --- management --------------------------------------------------------------------------


def test_a_commander_creates_a_display_whose_secret_is_shown_once_and_stored_hashed(
    app, login, make_display
):
    display = make_display()
    body = display.body
    assert display.token.startswith("dsp_") and len(display.token) > 40
    assert body["enrol_path"] == f"/display#token={display.token}"
    assert body["district_code"] == DONGCHENG and body["district_name_zh"] == "东城区司法局"
    assert body["active"] is True and body["last_used_at"] is None
    assert body["created_by"] == "commander-dongcheng"

    listed = login("commander-dongcheng").get("/api/v1/display-tokens").get_json()
    assert [d["id"] for d in listed] == [body["id"]]
    assert "token" not in listed[0] and display.token not in json.dumps(listed)
    with app.app_context():
        row = db.session.get(DisplayToken, body["id"])
        assert row.token_hash == hashlib.sha256(display.token.encode()).hexdigest()
        db.session.remove()
    (created,) = _audit(app, "display.create")
    assert created.actor_username == "commander-dongcheng" and created.subject_id == str(body["id"])
    assert display.token not in json.dumps(created.detail)


def test_a_commander_manages_their_own_districts_displays_only(login, make_display):
    commander = login("commander-dongcheng")
    refused = commander.post(
        "/api/v1/display-tokens", json={"name": "西城大屏", "district_code": XICHENG}
    )
    assert refused.status_code == 403
    theirs = make_display(XICHENG, by="city", name="西城区指挥中心大屏")
    assert [d["district_code"] for d in commander.get("/api/v1/display-tokens").get_json()] == []
    revoke = commander.post(f"/api/v1/display-tokens/{theirs.body['id']}/revoke")
    assert revoke.status_code == 404
    # The city and administrators manage any district's.
    assert len(login("admin").get("/api/v1/display-tokens").get_json()) == 1
    for role in ("officer-dongcheng-1", "analyst", "auditor"):
        assert login(role).get("/api/v1/display-tokens").status_code == 403


def test_a_display_belongs_to_a_district_and_needs_a_name(login):
    commander = login("city")
    office = commander.post(
        "/api/v1/display-tokens", json={"name": "所里的屏", "district_code": "32990101"}
    )
    assert office.status_code == 422 and "district" in office.get_json()["errors"]
    assert "区" in office.get_json()["detail"]  # in Chinese
    nameless = commander.post(
        "/api/v1/display-tokens", json={"name": "  ", "district_code": DONGCHENG}
    )
    assert nameless.status_code == 422 and "name" in nameless.get_json()["errors"]


def test_no_account_can_be_given_the_display_role(login):
    resp = login("admin").post(
        "/api/v1/admin/users",
        json={"username": "wall-1", "role": "display", "unit_code": DONGCHENG},
    )
    assert resp.status_code == 422 and "role" in resp.get_json()["errors"]


# --- what a display sees -----------------------------------------------------------------


def test_a_display_sees_its_districts_live_alerts_with_names_masked_for_the_room(
    app, login, active, make_display
):
    adult = active()  # 张伟, Dongcheng
    juvenile = active(**juvenile_payload())  # 王小红, Dongcheng
    elsewhere = active(api=login("officer-xicheng-1"), name="赵六")
    for person in (adult, juvenile, elsewhere):
        _alarm(app, person["id"])
    display = make_display()

    resp = display.get(f"{BOARD}/alerts")
    assert resp.status_code == 200, resp.get_json()
    items = resp.get_json()["items"]
    assert resp.get_json()["total"] == 2
    assert sorted(a["person_name"] for a in items) == ["张＊＊", "＊＊＊"]
    text = resp.get_data(as_text=True)
    for person in (adult, juvenile):
        for secret in (person["name"], person["id_number"], person["phone"], person["address"]):
            assert secret not in text
    for alert in items:
        assert "person_id" not in alert and "ack_note" not in alert
        assert alert["detail"] == {"alarm": "tamper"}
        assert alert["kind_label_zh"] == "电子定位报警" and alert["summary_zh"]
        assert alert["office_name_zh"] == "东城区城关司法所"
    (shown,) = _audit(app, "response.disclosed")
    assert shown.actor_username == f"display:{display.body['id']}"
    assert shown.actor_role == "display" and shown.juvenile is True

    # Its statistics are its district's (counts only).
    overview = display.get(f"{BOARD}/overview").get_json()
    assert overview["active_persons"] == 2
    assert sum(c["count"] for c in overview["open_alerts_by_kind"]) == 2
    me = display.get(f"{BOARD}/me").get_json()
    assert me == {
        "id": display.body["id"],
        "name": "东城区指挥中心大屏",
        "role": "display",
        "role_label_zh": "指挥中心大屏",
        "district_code": DONGCHENG,
        "district_name_zh": "东城区司法局",
    }


def test_a_display_can_never_act_read_a_person_or_export(app, login, active, make_display):
    person = active()
    _alarm(app, person["id"])
    display = make_display()
    (alert,) = display.get(f"{BOARD}/alerts").get_json()["items"]
    for action in ("acknowledge", "resolve", "dismiss"):
        resp = display.post(f"/api/v1/alerts/{alert['id']}/{action}", json={"note": "看到了"})
        assert resp.status_code == 403, action
        assert resp.get_json()["detail"] == "您的角色无权使用此操作。"
    for path in (
        f"/api/v1/persons/{person['id']}",
        "/api/v1/persons",
        f"/api/v1/persons/{person['id']}/events",
        "/api/v1/alerts",
        "/api/v1/alerts/stream",
        "/api/v1/stats/overview",
        "/api/v1/auth/me",
        "/api/v1/units",
        "/api/v1/display-tokens",
    ):
        assert display.get(path).status_code == 403, path
    assert display.post("/api/v1/risk/exports", json={}).status_code == 403
    assert (
        display.client.delete(
            "/api/v1/auth/token", headers={"Authorization": f"Bearer {display.token}"}
        ).status_code
        == 403
    )
    still = login("commander-dongcheng").get(
        "/api/v1/alerts", query_string={"person_id": person["id"]}
    )
    assert [a["status"] for a in still.get_json()["items"]] == ["open"]


def test_the_display_cookie_is_taken_on_the_displays_reads_only(app, client, login, make_display):
    display = make_display()
    enrol = client.post(f"{BOARD}/session", json={"token": display.token})
    assert enrol.status_code == 200 and enrol.get_json()["name"] == "东城区指挥中心大屏"
    cookie = enrol.headers["Set-Cookie"]
    assert cookie.startswith(f"{DISPLAY_COOKIE}={display.token};")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api/v1/display", "Max-Age="):
        assert attribute in cookie, attribute
    assert "Secure" not in cookie  # plain HTTP here; on HTTPS it is Secure
    assert len(_audit(app, "display.enrol")) == 1

    # A client that sends the cookie by hand, wherever it likes (no cookie jar of its own).
    fresh = app.test_client(use_cookies=False)
    sent = {"Cookie": f"{DISPLAY_COOKIE}={display.token}"}
    assert fresh.get(f"{BOARD}/alerts", headers=sent).status_code == 200
    assert fresh.get(f"{BOARD}/me", headers=sent).status_code == 200
    # Nowhere else, and never for a write.
    assert fresh.get("/api/v1/alerts", headers=sent).status_code == 401
    assert fresh.get("/api/v1/persons", headers=sent).status_code == 401
    assert fresh.post("/api/v1/alerts/1/acknowledge", headers=sent, json={}).status_code == 401
    assert fresh.post(f"{BOARD}/session", headers=sent, json={}).status_code == 422
    # A sign-in's token in the cookie opens nothing.
    staff = {"Cookie": f"{DISPLAY_COOKIE}={login('commander-dongcheng').token}"}
    assert fresh.get(f"{BOARD}/alerts", headers=staff).status_code == 401
    # Enrolment takes JSON only: a form another site's page could post (text/plain, no
    # preflight) sets nothing.
    forged = fresh.post(
        f"{BOARD}/session", data=json.dumps({"token": display.token}), content_type="text/plain"
    )
    assert forged.status_code == 422 and "Set-Cookie" not in forged.headers
    # Nor does a wrong token: refused with a Chinese message, no cookie set.
    wrong = fresh.post(f"{BOARD}/session", json={"token": "dsp_not-a-display"})
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    assert wrong.get_json()["detail"] == "大屏授权码无效或已撤销。"
    # The page asks first whether it is a display: always 200, a cookie that opens nothing
    # is removed.
    asked = fresh.get(f"{BOARD}/session", headers=sent).get_json()
    assert asked["enrolled"] is True and asked["display"]["district_code"] == DONGCHENG
    assert fresh.get(f"{BOARD}/session").get_json() == {"enrolled": False, "display": None}
    stale = fresh.get(f"{BOARD}/session", headers=staff)
    assert stale.get_json()["enrolled"] is False and "Max-Age=0" in stale.headers["Set-Cookie"]
    # Forgetting removes the cookie (the token stays valid until revoked).
    forget = fresh.delete(f"{BOARD}/session")
    assert forget.status_code == 204 and "Max-Age=0" in forget.headers["Set-Cookie"]


# --- no expiry, revocation ---------------------------------------------------------------


def test_thirteen_hours_later_the_display_still_reads_and_a_sign_in_has_expired(
    app, clock, login, make_display
):
    display = make_display()
    commander = login("commander-dongcheng")
    clock.set(TEST_NOW + timedelta(hours=13))
    assert commander.get("/api/v1/alerts").status_code == 401
    assert display.get(f"{BOARD}/alerts").status_code == 200
    assert display.get(f"{BOARD}/overview").status_code == 200
    clock.set(TEST_NOW + timedelta(days=90))
    assert display.get(f"{BOARD}/me").status_code == 200


def test_a_revoked_display_is_refused_at_once(app, login, make_display):
    display = make_display()
    assert display.get(f"{BOARD}/me").status_code == 200
    commander = login("commander-dongcheng")
    revoked = commander.post(f"/api/v1/display-tokens/{display.body['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.get_json()["active"] is False
    assert revoked.get_json()["revoked_by"] == "commander-dongcheng"
    refused = display.get(f"{BOARD}/alerts")
    assert refused.status_code == 401
    assert refused.get_json()["detail"].startswith("令牌无效、已过期或已被撤销")
    cookie = app.test_client(use_cookies=False).get(
        f"{BOARD}/me", headers={"Cookie": f"{DISPLAY_COOKIE}={display.token}"}
    )
    assert cookie.status_code == 401
    # Revoking again changes nothing (one audit row).
    again = commander.post(f"/api/v1/display-tokens/{display.body['id']}/revoke")
    assert again.get_json()["revoked_at"] == revoked.get_json()["revoked_at"]
    assert len(_audit(app, "display.revoke")) == 1
    listed = commander.get("/api/v1/display-tokens").get_json()
    assert [(d["id"], d["active"]) for d in listed] == [(display.body["id"], False)]


def test_the_token_check_is_thirty_seconds_by_default():
    # "Within 30 s of revocation" for an open stream, as for a sign-out.
    assert DEFAULTS["ALERT_STREAM_TOKEN_CHECK_SECONDS"] == 30


def test_a_displays_stream_delivers_masked_alerts_and_ends_when_it_is_revoked(
    app,
    login,
    active,
    make_display,
    streams,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    monkeypatch.setitem(app.config, "ALERT_STREAM_TOKEN_CHECK_SECONDS", 0.5)
    adult = active()
    display = make_display()
    with monkeypatch.context() as m:
        m.setattr(Reader, "path", f"{BOARD}/alerts/stream")
        reader = streams(display, timeout=30)
    assert reader.status == 200, reader.body
    assert reader.wait_for(lambda r: ": stream of alert changes after" in r.text)
    _alarm(app, adult["id"], subject=7)
    assert reader.wait_for(lambda r: r.alerts())
    (alert,) = reader.alerts()
    assert alert["person_name"] == "张＊＊" and alert["change"] == "raised"
    assert "person_id" not in alert and adult["id_number"] not in reader.text
    assert "张伟" not in reader.text

    login("commander-dongcheng").post(f"/api/v1/display-tokens/{display.body['id']}/revoke")
    assert reader.done.wait(5), "the stream outlived its display's revocation"
    assert "event: end\ndata: signed out" in reader.text


def test_a_displays_streams_are_capped_like_a_users(
    app,
    make_display,
    streams,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    monkeypatch.setitem(app.config, "ALERT_STREAM_MAX_PER_USER", 1)
    display = make_display()
    monkeypatch.setattr(Reader, "path", f"{BOARD}/alerts/stream")
    first = streams(display, read=False)
    assert first.status == 200
    refused = streams(display, read=False)
    assert refused.status == 429


def test_last_use_is_noted_once_a_minute_and_a_use_after_a_pause_is_audited(
    app, clock, make_display
):
    display = make_display()

    def last_used():
        with app.app_context():
            value = db.session.get(DisplayToken, display.body["id"]).last_used_at
            db.session.remove()
        return value

    display.get(f"{BOARD}/me")
    assert last_used() == TEST_NOW
    clock.set(TEST_NOW + timedelta(seconds=40))
    display.get(f"{BOARD}/alerts")
    assert last_used() == TEST_NOW  # not again within the minute
    clock.set(TEST_NOW + timedelta(minutes=2))
    display.get(f"{BOARD}/overview")
    assert last_used() == TEST_NOW + timedelta(minutes=2)
    assert len(_audit(app, "display.use_start")) == 1
    clock.set(TEST_NOW + timedelta(hours=1))  # switched off over lunch
    display.get(f"{BOARD}/alerts")
    assert len(_audit(app, "display.use_start")) == 2


# --- the command line --------------------------------------------------------------------


def test_an_operator_creates_lists_and_revokes_displays_at_the_server(app, runner, client, caplog):
    created = runner.invoke(
        args=["display", "create", "--district", DONGCHENG, "--name", "东城区指挥中心大屏"]
    )
    assert created.exit_code == 0, created.output
    token = next(w for w in created.output.split() if w.startswith("dsp_"))
    assert f"/display#token={token}" in created.output
    assert token not in caplog.text
    me = client.get(f"{BOARD}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200

    listed = runner.invoke(args=["display", "list"])
    assert listed.exit_code == 0 and "东城区指挥中心大屏" in listed.output
    assert token not in listed.output
    rows = json.loads(runner.invoke(args=["display", "list", "--json"]).output)
    assert rows[0]["district_code"] == DONGCHENG and rows[0]["last_used_at"] is not None
    assert rows[0]["created_by"].startswith("cli:")

    revoked = runner.invoke(args=["display", "revoke", str(rows[0]["id"])])
    assert revoked.exit_code == 0 and "已撤销" in revoked.output
    assert (
        client.get(f"{BOARD}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    missing = runner.invoke(args=["display", "revoke", "999"])
    assert missing.exit_code != 0 and "没有该大屏" in missing.output
    bad = runner.invoke(args=["display", "create", "--district", "32990101", "--name", "屏"])
    assert bad.exit_code != 0 and "district" in bad.output


# --- every route, as the privacy walk does it for staff ----------------------------------


def test_a_display_walking_every_get_route_sees_no_identity_and_no_typed_text(
    client,
    login,
    world,  # noqa: F811 - the privacy tests' world: a juvenile and an adult, every record
    make_display,
):
    juvenile, adult = world
    display = make_display()
    shown = 0
    for url in _walk(client, login, juvenile, adult):
        if url.endswith("/stream"):
            continue  # endless: read below with a timeout
        resp = display.get(url)
        text = _text(resp)
        for subject in (juvenile, adult):
            assert not subject.leaks(text), (url, subject.tag, subject.leaks(text))
        if url.startswith("/api/v1/public/"):
            continue  # open to anyone (矫务公开): aggregate figures only, walked above
        if resp.status_code == 200 and url != f"{BOARD}/session":
            assert url.startswith(BOARD + "/"), url  # the display's own routes only
            shown += 1
    assert shown == 3  # me, alerts, overview
    board = display.get(f"{BOARD}/alerts").get_json()["items"]
    assert {a["person_name"] for a in board} == {"＊＊＊", "司＊＊"}  # juvenile, adult
    stream = display.get(f"{BOARD}/alerts/stream", query_string={"timeout": 1, "last_event_id": 0})
    text = stream.get_data(as_text=True)
    assert "event: alert" in text
    for subject in (juvenile, adult):
        assert not subject.leaks(text), subject.leaks(text)
