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
        # The demo's password is published (README, the demo's output): hostile review.
        ("officer-weak", "demo-password", passwords.PUBLISHED),
        ("officer-weak", "test-password-123", passwords.PUBLISHED),  # this run's DEMO_PASSWORD
    ],
)
def test_finding_12_weak_passwords_are_refused_by_the_cli(app, runner, username, password, why):
    before = count_rows(app, User)
    result = _create(runner, username, password)
    assert result.exit_code != 0
    with app.app_context():
        found = passwords.problems(password, username=username)
    assert why in found
    # Each problem once, on a line of its own (Chinese, then the English in parentheses).
    lines = result.output.strip().splitlines()
    assert len(lines) == len(found), result.output
    for problem, line in zip(found, lines, strict=True):
        assert line.endswith(f"({problem})") and result.output.count(problem) == 1, line
    assert count_rows(app, User) == before


def test_several_problems_are_printed_one_per_line_with_the_field(app, runner):
    result = _create(runner, "officer1", "officer1")
    assert result.exit_code != 0
    assert result.output.splitlines() == [
        "错误：password: 密码至少 10 个字符 (at least 10 characters)",
        "password: 密码不能包含用户名 (must not contain the username)",
    ]


def test_one_problem_is_printed_once(app, runner):
    result = _create(runner, "officer-weak", "Woaini1314")
    assert result.exit_code != 0
    assert result.output == "错误：这是常见密码，容易被猜中 (a common password, easily guessed)\n"


@pytest.mark.parametrize(
    "password",
    [
        " 河边-lantern-orchid-47",
        "河边-lantern-orchid-47 ",
        "\t河边-lantern-orchid-47",
        "河边-lantern-orchid-47\u3000",
    ],
)
def test_a_password_beginning_or_ending_with_whitespace_is_refused(app, runner, password):
    """It would be stored as typed, and a user signing in without the space (the README says
    spaces around a password are not counted) would be refused: so it is refused here."""
    before = count_rows(app, User)
    result = _create(runner, "officer-spaces", password)
    assert result.exit_code != 0
    assert (
        "密码首尾不能有空格或其他空白字符 (must not begin or end with a space or other "
        "whitespace)" in result.output
    )
    assert count_rows(app, User) == before
    # inside a password, spaces are fine
    accepted = _create(runner, "officer-spaces", "河边 lantern orchid 47")
    assert accepted.exit_code == 0, accepted.output


def test_a_new_password_with_surrounding_space_is_422_naming_it(app, login, client):
    officer = login("officer-dongcheng-1")
    from tests.conftest import DEMO_PASSWORD

    resp = officer.post(
        "/api/v1/auth/password",
        json={"old_password": DEMO_PASSWORD, "new_password": "河边-lantern-orchid-47 "},
        headers={"Accept-Language": "en"},
    )
    assert resp.status_code == 422
    assert passwords.SURROUNDING_SPACE in resp.get_json()["errors"]["new_password"]


def test_empty_standard_input_says_there_is_no_password(app, runner):
    before = count_rows(app, User)
    args = ["users", "create", "officer-nopw", "--role", "officer", "--unit", "32990103"]
    for given in ("", "\n"):
        result = runner.invoke(
            args=[*args, "--password-stdin"],
            input=given,
        )
        assert result.exit_code != 0
        assert result.output == "错误：标准输入没有密码 (no password on standard input)\n"
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
