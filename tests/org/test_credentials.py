"""Reset codes and password changes: one-time, expiring, rate-limited, never in the trail."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

from sqlalchemy import select

from corrections.core.db import db
from corrections.org.models import PasswordResetCode
from tests.conftest import DEMO_PASSWORD
from tests.support.org import audit_rows
from tests.support.parallel import codes, in_parallel

NEW_PASSWORD = "amber-harbour-lantern-7"
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


def _issue(login, username="officer-dongcheng-1") -> str:
    resp = login("admin").post(f"/api/v1/admin/users/{username}/reset-code")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["code"]


def _redeem(client, code, username="officer-dongcheng-1", password=NEW_PASSWORD, addr="10.3.3.3"):
    return client.post(
        "/api/v1/auth/password/reset",
        json={"username": username, "code": code, "new_password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def _sign_in(client, username="officer-dongcheng-1", password=DEMO_PASSWORD, addr="10.4.4.4"):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_a_reset_code_works_once_and_revokes_every_token(client, login, app, clock):
    officer = login("officer-dongcheng-1")
    code = _issue(login)
    assert CODE.fullmatch(code)
    # Issuing alone changes nothing for the user.
    assert officer.get("/api/v1/auth/me").status_code == 200
    assert _redeem(client, code).status_code == 204
    assert officer.get("/api/v1/auth/me").status_code == 401
    assert _sign_in(client).status_code == 401
    assert _sign_in(client, password=NEW_PASSWORD).status_code == 201
    again = _redeem(client, code, password="another-fine-password-9")
    assert again.status_code == 401
    assert "重置码已用过、已过期" in again.get_json()["detail"]
    assert _sign_in(client, password=NEW_PASSWORD, addr="10.4.4.5").status_code == 201


def test_a_reset_code_expires(client, login, app, clock):
    code = _issue(login)
    clock.advance(timedelta(seconds=app.config["PASSWORD_RESET_CODE_TTL_SECONDS"] + 1))
    assert _redeem(client, code).status_code == 401
    assert _sign_in(client).status_code == 201  # the old password still works


def test_a_code_is_read_as_written_and_a_newer_one_withdraws_it(client, login):
    first = _issue(login)
    second = _issue(login)
    assert _redeem(client, first).status_code == 401
    # Lower case, spaces for dashes and O for 0 are the same code.
    typed = second.lower().replace("-", " ").replace("0", "o")
    assert _redeem(client, typed).status_code == 204


def test_the_code_belongs_to_its_account_and_a_disabled_account_cannot_redeem(
    client, login, runner
):
    code = _issue(login)
    assert _redeem(client, code, username="officer-dongcheng-2").status_code == 401
    assert runner.invoke(args=["users", "disable", "officer-dongcheng-1"]).exit_code == 0
    assert runner.invoke(args=["users", "enable", "officer-dongcheng-1"]).exit_code == 0
    # Disabling withdrew the code; enabling does not bring it back.
    assert _redeem(client, code).status_code == 401


def test_redeeming_is_rate_limited_like_sign_in(client, login, app):
    code = _issue(login)
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for _ in range(limit):
        assert _redeem(client, "AAAA-BBBB-CCCC-DDDD").status_code == 401
    refused = _redeem(client, code)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # The same counters as sign-in: that address is out of guesses for this username.
    assert _sign_in(client, addr="10.3.3.3").status_code == 429
    assert _redeem(client, code, addr="10.3.3.4").status_code == 204
    failed = audit_rows(app, "auth.password_reset_failed")
    assert len(failed) == limit and failed[0].actor_username == "officer-dongcheng-1"


def test_the_policy_applies_to_a_redeemed_password_and_spends_no_attempt(client, login, app):
    code = _issue(login)
    for weak in ("short", "officer-dongcheng-1-pw", "aaaaaaaaaaaa"):
        resp = _redeem(client, code, password=weak)
        assert resp.status_code == 422 and "new_password" in resp.get_json()["errors"]
    assert _redeem(client, code).status_code == 204


def test_changing_ones_password_needs_the_old_one_and_revokes_the_other_tokens(client, login, app):
    here = login("officer-dongcheng-1")
    elsewhere = login("officer-dongcheng-1")
    wrong = here.post(
        "/api/v1/auth/password",
        json={"old_password": "not-my-password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "old_password" in wrong.get_json()["errors"]
    assert elsewhere.get("/api/v1/auth/me").status_code == 200
    same = here.post(
        "/api/v1/auth/password",
        json={"old_password": DEMO_PASSWORD, "new_password": DEMO_PASSWORD},
    )
    assert same.status_code == 422 and "new_password" in same.get_json()["errors"]
    weak = here.post(
        "/api/v1/auth/password", json={"old_password": DEMO_PASSWORD, "new_password": "password1"}
    )
    assert weak.status_code == 422 and "new_password" in weak.get_json()["errors"]
    done = here.post(
        "/api/v1/auth/password", json={"old_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204
    # This request's token stays valid; the other one is revoked.
    assert here.get("/api/v1/auth/me").status_code == 200
    assert elsewhere.get("/api/v1/auth/me").status_code == 401
    assert _sign_in(client).status_code == 401
    assert _sign_in(client, password=NEW_PASSWORD).status_code == 201
    (changed,) = audit_rows(app, "auth.password_change")
    assert changed.detail == {"tokens_revoked": 1}
    (failed,) = audit_rows(app, "auth.password_change_failed")
    assert failed.detail == {"outcome": 422}


def test_wrong_old_passwords_count_against_the_sign_in_limits(login, app):
    here = login("officer-dongcheng-1")
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for _ in range(limit):
        resp = here.post(
            "/api/v1/auth/password",
            json={"old_password": "guess-guess-guess", "new_password": NEW_PASSWORD},
        )
        assert resp.status_code == 422
    resp = here.post(
        "/api/v1/auth/password", json={"old_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert resp.status_code == 429


def test_no_password_and_no_code_reaches_the_audit_trail_the_database_or_a_log(
    client, login, app, runner, caplog
):
    caplog.set_level(logging.DEBUG)
    issued = runner.invoke(args=["users", "reset-password", "officer-dongcheng-2"])
    cli_code = CODE.search(issued.output).group(0)
    api_code = _issue(login)
    assert _redeem(client, api_code).status_code == 204
    here = login("officer-dongcheng-3")
    here.post(
        "/api/v1/auth/password",
        json={"old_password": DEMO_PASSWORD, "new_password": "violet-meadow-river-3"},
    )
    here.post(
        "/api/v1/auth/password",
        json={"old_password": "wrong-old-secret-0", "new_password": "violet-meadow-river-4"},
    )
    created = login("admin").post(
        "/api/v1/admin/users",
        json={"username": "x-officer", "role": "officer", "unit_code": "32990101"},
    )
    first_code = created.get_json()["reset_code"]["code"]
    secrets = [
        cli_code,
        cli_code.replace("-", ""),
        api_code,
        api_code.replace("-", ""),
        first_code,
        first_code.replace("-", ""),
        NEW_PASSWORD,
        DEMO_PASSWORD,
        "violet-meadow-river-3",
        "wrong-old-secret-0",
    ]
    trail = json.dumps(
        [
            [r.actor_username, r.action, r.subject_id, r.detail, r.client_addr]
            for r in audit_rows(app)
        ],
        ensure_ascii=False,
        default=str,
    )
    logged = "\n".join(r.getMessage() + repr(r.args) + repr(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in trail and secret not in logged, secret
    with app.app_context():
        stored = db.session.scalars(select(PasswordResetCode.code_hash)).all()
        db.session.remove()
    assert len(stored) == 3 and all(len(h) == 64 for h in stored)
    assert not {cli_code, api_code, first_code} & set(stored)
    assert {"user.reset_code", "auth.password_reset"} <= {r.action for r in audit_rows(app)}


def test_of_two_redemptions_at_once_exactly_one_sets_the_password(client, login, app):
    code = _issue(login)
    anyone = login("officer-dongcheng-2")  # the route is public; the token is ignored
    passwords = ("first-parallel-pass-1", "second-parallel-pass-2")
    results = in_parallel(
        app,
        [
            (
                anyone,
                lambda api, pw=pw, i=i: api.client.post(
                    "/api/v1/auth/password/reset",
                    json={"username": "officer-dongcheng-1", "code": code, "new_password": pw},
                    environ_base={"REMOTE_ADDR": f"10.5.5.{i}"},
                ),
            )
            for i, pw in enumerate(passwords)
        ],
    )
    assert codes(results) == [204, 401]
    won = passwords[[r.status_code for r in results].index(204)]
    assert _sign_in(client, password=won).status_code == 201
