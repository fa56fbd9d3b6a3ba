"""Sign-in limits under parallel guesses and from strangers (issue 13, finding 4)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import func, select

from corrections.core.db import db
from corrections.org.models import LoginAttempt
from tests.conftest import DEMO_PASSWORD

OFFICER = "officer-dongcheng-1"


def _login(client, username=OFFICER, password=DEMO_PASSWORD, addr="10.1.1.1"):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


@contextmanager
def _config(app, **values):
    saved = {key: app.config[key] for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


def _failed_attempts(app) -> int:
    with app.app_context():
        n = db.session.scalar(
            select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.succeeded)
        )
        db.session.remove()
    return n


def test_finding_4_forty_parallel_wrong_passwords_check_at_most_the_limit(app, client):
    """Every guess is counted before its password is checked, by one statement that refuses
    at the limit: parallel requests cannot all pass a count made before any was recorded."""
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    barrier = threading.Barrier(40)
    codes: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        own = app.test_client()
        barrier.wait()
        resp = _login(own, password=f"wrong-guess-{i:02d}", addr="10.6.6.6")
        with lock:
            codes.append(resp.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(codes)) == [401, 429], codes
    assert codes.count(401) == limit, codes
    assert _failed_attempts(app) == limit
    # The officer, from their own address, is not held up by any of it.
    assert _login(client).status_code == 201


def test_finding_4_a_stranger_cannot_lock_the_officer_out(app, client):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for i in range(limit):
        assert _login(client, password=f"guess-{i}", addr="10.6.6.6").status_code == 401
    refused = _login(client, addr="10.6.6.6")  # even the right password, from there
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= app.config["LOGIN_WINDOW_SECONDS"]
    assert _login(client, addr="10.1.1.1").status_code == 201


def test_finding_4_guessing_from_many_addresses_backs_off_strangers_not_a_known_address(
    app, client, clock
):
    """The slower per-username limit counts failures from every address; once reached, each
    address the user has not signed in from lately gets one attempt per back-off period,
    never fewer: a guesser with many addresses is slowed, the officer is never locked out."""
    assert _login(client, addr="10.1.1.1").status_code == 201  # the officer's own address
    backoff = app.config["LOGIN_USERNAME_BACKOFF_SECONDS"]
    with _config(app, LOGIN_MAX_FAILURES_PER_USERNAME=8):
        for i in range(8):
            assert _login(client, password="guess", addr=f"10.7.0.{i}").status_code == 401
        # Past the count, a guesser's address gets one attempt, then waits out the back-off.
        assert _login(client, password="guess", addr="10.7.0.99").status_code == 401
        stranger = _login(client, password="guess", addr="10.7.0.99")
        assert stranger.status_code == 429
        assert 0 < int(stranger.headers["Retry-After"]) <= backoff
        # An address that guessed before the count was reached is held to one attempt too.
        assert _login(client, password="guess", addr="10.7.0.1").status_code == 401
        assert _login(client, password="guess", addr="10.7.0.1").status_code == 429
        # The officer on a new address (a new phone, another office) still signs in at once,
        # and so does the officer at their own address.
        assert _login(client, addr="10.7.1.1").status_code == 201
        assert _login(client, addr="10.1.1.1").status_code == 201
        # A typo on a new address under attack costs one back-off period, not the hour.
        assert _login(client, password="typo", addr="10.7.1.2").status_code == 401
        waited = _login(client, addr="10.7.1.2")
        assert waited.status_code == 429
        clock.advance(timedelta(seconds=int(waited.headers["Retry-After"])))
        assert _login(client, addr="10.7.1.2").status_code == 201


def test_finding_4_a_stranger_with_many_addresses_cannot_lock_the_officer_out(app, client):
    """40 addresses each guessing up to their own limit neither close the account at the
    officer's own address nor, while the shared budget lasts, at a new one; once a distributed
    attack has used the budget up, only addresses the officer has not used wait."""
    assert _login(client, addr="10.1.1.1").status_code == 201  # the officer's own address
    per_pair = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    with _config(
        app, LOGIN_MAX_FAILURES_PER_USERNAME=10, LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME=200
    ):
        for a in range(40):
            for i in range(per_pair):
                _login(client, password=f"g{i}", addr=f"10.8.{a}.1")
        assert _login(client, addr="172.16.0.5").status_code == 201
    with _config(
        app, LOGIN_MAX_FAILURES_PER_USERNAME=10, LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME=5
    ):
        for a in range(10):
            _login(client, password="g", addr=f"10.9.{a}.1")
        assert _login(client, addr="172.16.0.6").status_code == 429
        assert _login(client, addr="10.1.1.1").status_code == 201
        assert _login(client, addr="172.16.0.5").status_code == 201  # known since above


def test_sign_in_limits_reopen_when_their_window_ends(app, client, clock):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for i in range(limit):
        _login(client, password=f"guess-{i}", addr="10.6.6.7")
    resp = _login(client, addr="10.6.6.7")
    assert resp.status_code == 429
    clock.advance(timedelta(seconds=int(resp.headers["Retry-After"])))
    assert _login(client, addr="10.6.6.7").status_code == 201


def test_finding_4_a_success_forgives_the_pairs_failures(app, client):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for i in range(limit - 1):
        assert _login(client, password=f"typo-{i}").status_code == 401
    assert _login(client).status_code == 201
    for i in range(limit - 1):
        assert _login(client, password=f"typo-again-{i}").status_code == 401
    assert _login(client).status_code == 201


def test_refused_sign_ins_are_neither_counted_nor_checked(app, client):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for i in range(limit + 10):
        _login(client, username="city", password=f"guess-{i}", addr="10.6.6.8")
    assert _failed_attempts(app) == limit


def test_pruning_forgets_ended_windows_but_keeps_known_addresses(app, client, clock):
    from corrections.org.models import LoginCounter
    from corrections.org.service import prune_login_attempts

    assert _login(client, addr="10.1.1.1").status_code == 201
    assert _login(client, password="guess", addr="10.6.6.9").status_code == 401
    clock.advance(timedelta(days=2))
    with app.app_context():
        prune_login_attempts(db.session)
        db.session.commit()
        kept = db.session.execute(select(LoginCounter.username, LoginCounter.client_addr)).all()
        db.session.remove()
    assert [tuple(row) for row in kept] == [(OFFICER, "10.1.1.1")]


def test_finding_4_rotating_addresses_gets_a_bounded_number_of_guesses(app, client):
    """Hostile review: past the per-username count each new address had a first attempt, so
    rotating addresses (an IPv6 /64 has 2**64) gave unlimited guesses. All unknown addresses
    together now share a budget, and IPv6 addresses count by their /64."""
    assert _login(client, addr="10.1.1.1").status_code == 201  # the officer's own address
    with _config(app, LOGIN_MAX_FAILURES_PER_USERNAME=5, LOGIN_MAX_BACKOFF_ATTEMPTS_PER_USERNAME=4):
        checked = 0
        for i in range(40):
            resp = _login(client, password=f"g{i}", addr=f"10.9.{i}.1")
            checked += resp.status_code == 401
        assert checked == 5 + 4
        assert _failed_attempts(app) == 9
        # The officer at an address they signed in from lately is not held up.
        assert _login(client, addr="10.1.1.1").status_code == 201


def test_ipv6_addresses_count_by_their_64_network(app, client):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    for i in range(limit):
        assert _login(client, password=f"g{i}", addr=f"2001:db8::{i + 1:x}").status_code == 401
    # Another address in the same /64 is the same client for the limits.
    assert _login(client, addr="2001:db8::ffff").status_code == 429
    assert _login(client, addr="2001:db8:0:1::1").status_code == 201


def test_the_username_is_read_in_one_spelling(app, client):
    """Full-width letters and an ideographic space (an input method's) sign in the same
    account, and count against the same limits."""
    assert _login(client, username="\u3000ＯＦＦＩＣＥＲ-dongcheng-1 ").status_code == 201


def test_colleagues_signing_in_behind_one_address_do_not_close_it(app, client):
    """Hostile re-check: successful sign-ins used up the per-address limit, so an office's
    NAT address closed after fifty colleagues had signed in one morning."""
    users = ["officer-dongcheng-1", "officer-dongcheng-2", "commander-dongcheng", "city"]
    with _config(app, LOGIN_MAX_ATTEMPTS_PER_ADDRESS=3):
        for _ in range(2):
            for username in users:
                assert _login(client, username=username, addr="10.213.0.1").status_code == 201


def test_an_over_long_client_address_is_still_counted_and_audited(app, client):
    """Hostile re-check: a forwarded address over 64 characters failed the audit row, so an
    existing account answered 422 and an unknown one 401 (which told them apart)."""
    addr = "x" * 90
    known = _login(client, password="wrong-password", addr=addr)
    unknown = _login(client, username="nobody-here", password="wrong-password", addr=addr)
    assert known.status_code == unknown.status_code == 401
