"""Password rules: long enough, not the username, not one of the most common passwords."""

from __future__ import annotations

import pytest

from sentra_tunnel.security import common_passwords, password_problem
from tests.support.api import PASSWORD, error_code


def test_the_bundled_list_holds_the_ten_thousand_most_common_passwords():
    listed = common_passwords()
    assert len(listed) >= 10_000
    assert {"123456", "password", "password123", "qwertyuiop", "passwort"} <= listed


@pytest.mark.parametrize(
    "password, problem",
    [
        ("password123", "is too easy to guess"),
        ("PassWord123", "is too easy to guess"),
        ("1qaz2wsx3edc", "is too easy to guess"),
        ("bakery-admin", "is too easy to guess"),
        ("short", "must be at least 10 characters"),
        ("a" * 73, "must be at most 72 bytes"),
    ],
)
def test_weak_passwords_are_refused(password, problem):
    assert password_problem(password, "bakery-admin") == problem


def test_a_long_uncommon_password_is_fine():
    assert password_problem("amber kettle on the windowsill", "bakery-admin") is None


async def test_the_api_refuses_a_common_new_password(admin_client):
    response = await admin_client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "password123"}
    )
    assert response.status_code == 422
    assert await error_code(response) == "weak_password"
