"""Sign-in, tokens, rate limits and account management."""

from __future__ import annotations

import json
from datetime import timedelta

from corrections.org.models import User
from tests.conftest import DEMO_PASSWORD, count_rows


def _login(client, username, password=DEMO_PASSWORD, addr="10.1.1.1"):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_login_returns_expiring_bearer_token(client, clock):
    resp = _login(client, "officer-dongcheng-1")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["role"] == "officer" and body["unit_code"] == "32990101"
    assert body["expires_at"].startswith("2026-11-27T14:00:00")  # 12 h after the frozen now
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["unit"]["name_zh"] == "东城区城关司法所"
    assert me.get_json()["role_label_zh"] == "司法所工作人员"


def test_tokens_are_stored_hashed(app, client):
    token = _login(client, "city").get_json()["access_token"]
    from sqlalchemy import select

    from corrections.core.db import db
    from corrections.org.models import ApiToken

    with app.app_context():
        stored = db.session.scalars(select(ApiToken.token_hash)).all()
        db.session.remove()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_wrong_username_and_wrong_password_answer_alike(client):
    a = _login(client, "officer-dongcheng-1", "wrong-password!")
    b = _login(client, "nobody-here", "wrong-password!")
    assert a.status_code == b.status_code == 401
    strip = lambda r: {k: v for k, v in r.get_json().items() if k != "request_id"}  # noqa: E731
    assert strip(a) == strip(b)


def test_expired_and_revoked_tokens_are_refused(client, clock):
    token = _login(client, "city").get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/persons", headers=auth).status_code == 200
    clock.advance(timedelta(hours=12, seconds=1))
    assert client.get("/api/v1/persons", headers=auth).status_code == 401
    clock.advance(timedelta(hours=-12, seconds=-1))
    token2 = _login(client, "city", addr="10.1.1.2").get_json()["access_token"]
    auth2 = {"Authorization": f"Bearer {token2}"}
    assert client.delete("/api/v1/auth/token", headers=auth2).status_code == 204
    resp = client.get("/api/v1/persons", headers=auth2)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_or_malformed_authorization_is_401(client):
    assert client.get("/api/v1/persons").status_code == 401
    assert client.get("/api/v1/persons", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/persons", headers={"Authorization": "Bearer "}).status_code == 401
    assert (
        client.get("/api/v1/persons", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_failed_logins_per_username_and_address_are_rate_limited(app, client, clock):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for _ in range(limit):
        assert _login(client, "city", "wrong-password!", addr="10.0.0.1").status_code == 401
    resp = _login(client, "city", addr="10.0.0.1")  # right password, same address
    assert resp.status_code == 429
    retry = int(resp.headers["Retry-After"])
    assert 0 < retry <= app.config["LOGIN_WINDOW_SECONDS"]
    assert _login(client, "city", addr="10.0.0.200").status_code == 201  # another address
    clock.advance(timedelta(seconds=retry))
    assert _login(client, "city", addr="10.0.0.1").status_code == 201


def test_attempts_per_address_are_rate_limited(app, client):
    app.config["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"], saved = (
        3,
        app.config["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"],
    )
    try:
        for name in ("a-user", "b-user", "c-user"):
            assert _login(client, name, "whatever-pw", addr="10.9.9.9").status_code == 401
        assert _login(client, "city", addr="10.9.9.9").status_code == 429
        assert _login(client, "city", addr="10.9.9.8").status_code == 201
    finally:
        app.config["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"] = saved


def test_disabled_user_cannot_log_in_and_loses_tokens(client, runner):
    token = _login(client, "officer-dongcheng-1").get_json()["access_token"]
    result = runner.invoke(args=["users", "disable", "officer-dongcheng-1"])
    assert result.exit_code == 0, result.output
    assert (
        client.get("/api/v1/persons", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert _login(client, "officer-dongcheng-1", addr="10.2.2.2").status_code == 401


def test_cli_creates_user_with_password_from_stdin(app, client, runner):
    before = count_rows(app, User)
    result = runner.invoke(
        args=[
            "users",
            "create",
            "officer-new",
            "--role",
            "officer",
            "--unit",
            "32990103",
            "--password-stdin",
        ],
        input="a-long-password-1\n",
    )
    assert result.exit_code == 0, result.output
    assert count_rows(app, User) == before + 1
    assert _login(client, "officer-new", "a-long-password-1").status_code == 201


def test_cli_refuses_password_in_argv_and_role_unit_mismatch(app, runner):
    before = count_rows(app, User)
    # No stdin flag, no env, no tty: refuses rather than taking it from anywhere else.
    result = runner.invoke(
        args=["users", "create", "x-user", "--role", "officer", "--unit", "32990103"]
    )
    assert result.exit_code != 0
    assert "never on the command line" in result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "y-user",
            "--role",
            "commander",
            "--unit",
            "32990103",
            "--password-stdin",
        ],
        input="a-long-password-1\n",
    )
    assert result.exit_code != 0 and "unit" in result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "z-user",
            "--role",
            "officer",
            "--unit",
            "32990103",
            "--password-stdin",
        ],
        input="short\n",
    )
    assert result.exit_code != 0 and "密码至少 10 个字符" in result.output
    assert count_rows(app, User) == before


def test_cli_lists_users_as_json(runner):
    result = runner.invoke(args=["users", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    officer = next(r for r in rows if r["username"] == "officer-dongcheng-1")
    assert officer == {
        "username": "officer-dongcheng-1",
        "role": "officer",
        "unit_code": "32990101",
        "unit_name": "东城区城关司法所",
        "active": True,
    }
    text = runner.invoke(args=["users", "list"]).output
    assert "commander-jiangkou" in text


def test_units_are_listed_with_chinese_names(login):
    units = login("officer-dongcheng-1").get("/api/v1/units").get_json()
    kinds = {u["kind"] for u in units}
    assert kinds == {"city", "district", "office"}
    office = next(u for u in units if u["code"] == "32990101")
    assert office["parent_code"] == "329901" and office["kind_label_zh"] == "司法所"
