"""The password policy for staff accounts (issue 13, finding 12: weak CLI passwords)."""

from __future__ import annotations

import pytest

from corrections.org import passwords
from corrections.org.models import User
from tests.conftest import count_rows


def _create(runner, username: str, password: str):
    return runner.invoke(
        args=[
            "users",
            "create",
            username,
            "--role",
            "officer",
            "--unit",
            "32990103",
            "--password-stdin",
        ],
        input=password + "\n",
    )


@pytest.mark.parametrize(
    ("username", "password", "why"),
    [
        ("officer-weak", " " * 10, passwords.TOO_SHORT),
        ("officer-weak", " " * 9 + "x", passwords.TOO_SHORT),
        ("officer-weak", "officer-weak", passwords.CONTAINS_USERNAME),
        ("officer-weak", "OFFICER-WEAK-2026", passwords.CONTAINS_USERNAME),
        ("officer-weak", "aaaaaaaaaaaa", passwords.TOO_REPETITIVE),
        ("officer-weak", "abababababab", passwords.TOO_REPETITIVE),
        ("officer-weak", "1234567890", passwords.TOO_COMMON),
        ("officer-weak", "Woaini1314", passwords.TOO_COMMON),
        # Full-width forms from an input method are the same password.
        ("officer-weak", "１ｑａｚ２ｗｓｘ３ｅｄｃ", passwords.TOO_COMMON),
    ],
)
def test_finding_12_weak_passwords_are_refused_by_the_cli(app, runner, username, password, why):
    before = count_rows(app, User)
    result = _create(runner, username, password)
    assert result.exit_code != 0
    assert "password:" in result.output and why in result.output, result.output
    assert count_rows(app, User) == before


def test_a_long_uncommon_password_is_accepted(app, runner, client):
    result = _create(runner, "officer-strong", "河边-lantern-orchid-47")
    assert result.exit_code == 0, result.output
    resp = client.post(
        "/api/v1/auth/token",
        json={"username": "officer-strong", "password": "河边-lantern-orchid-47"},
    )
    assert resp.status_code == 201


def test_finding_12_the_common_list_is_shipped_data_of_thousands():
    common = passwords.common_passwords()
    assert len(common) > 1500
    assert "qwertyuiop" in common and "1q2w3e4r5t" in common
    # Every entry could pass the length rule: the list adds what length alone does not refuse.
    assert min(len(p) for p in common) >= passwords.MIN_LENGTH
    assert not [p for p in common if p.startswith("# ")]


def test_finding_12_every_problem_is_named_at_once():
    found = passwords.problems("officer1", username="officer1")
    assert found == [passwords.TOO_SHORT, passwords.CONTAINS_USERNAME]
    assert passwords.problems("河边-lantern-orchid-47", username="officer-strong") == []
