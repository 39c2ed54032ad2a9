"""Login limits: every attempt counted before its password is checked, per account across
addresses, per address, and a doubling wait after failures in a row; one spelling per name."""

from __future__ import annotations

import asyncio

import bcrypt
import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models.audit import AuditEntry
from tests.support.api import PASSWORD, ApiClient, error_code, make_user


@pytest.fixture
async def strict_app(app_with):
    """An app whose login limits are small enough to reach quickly."""
    app = await app_with(login_limit="3/minute", login_ip_limit="5/minute")
    await make_user("clerk", "viewer")
    return app


def retry_after(response) -> int:
    value = int(response.headers["Retry-After"])
    assert value >= 1
    return value


async def test_failed_logins_per_username_are_rate_limited(strict_app):
    client = ApiClient(strict_app.test_client())
    for _ in range(3):
        assert (await client.login("clerk", "wrong password")).status_code == 401
    response = await client.login("clerk", PASSWORD)
    assert response.status_code == 429
    assert await error_code(response) == "rate_limited"
    assert retry_after(response) <= 60
    assert (await client.login("somebody-else", "wrong password")).status_code == 401


async def test_logins_per_address_are_rate_limited(strict_app):
    client = ApiClient(strict_app.test_client())
    for number in range(5):
        assert (await client.login(f"user-{number}", "wrong password")).status_code == 401
    response = await client.login("clerk", PASSWORD)
    assert response.status_code == 429
    assert await error_code(response) == "rate_limited"
    retry_after(response)
    other_address = await strict_app.test_client().post(
        "/auth/login",
        json={"username": "clerk", "password": PASSWORD},
        scope_base={"client": ("192.0.2.7", 40000)},
    )
    assert other_address.status_code == 200


@pytest.fixture
def bcrypt_checks(monkeypatch) -> list[bytes]:
    """Every password that reached bcrypt, in order."""
    checked, real = [], bcrypt.checkpw

    def counting(password, hashed):
        checked.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return checked


async def test_a_burst_of_wrong_passwords_reaches_bcrypt_only_up_to_the_limit(
    app, tenant, bcrypt_checks
):
    """120 at once for one name (limits 5/minute per account, 30 per address): counting after
    the check let all of them through; counted first, 5 are checked and 115 refused."""
    client = app.test_client()
    attempt = {"username": "bakery-admin", "password": "not the password"}
    responses = await asyncio.gather(
        *(client.post("/auth/login", json=attempt) for _ in range(120))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * 5 + [429] * 115
    assert len(bcrypt_checks) == 5
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)


@pytest.mark.parametrize("spelling", ["clerk  ", "  CLERK", "Clerk", "ｃｌｅｒｋ"])
async def test_another_spelling_of_a_locked_name_is_locked_too(strict_app, spelling):
    client = ApiClient(strict_app.test_client())
    for _ in range(3):
        assert (await client.login("clerk", "wrong password")).status_code == 401
    response = await client.login(spelling, PASSWORD)
    assert response.status_code == 429
    assert "Set-Cookie" not in response.headers


async def test_every_spelling_of_a_name_counts_against_the_same_account(strict_app):
    client = ApiClient(strict_app.test_client())
    for spelling in ("clerk ", "CLERK", " Clerk"):
        assert (await client.login(spelling, "wrong password")).status_code == 401
    assert (await client.login("clerk", PASSWORD)).status_code == 429


async def login_from(app, address: str, password: str):
    return await app.test_client().post(
        "/auth/login",
        json={"username": "clerk", "password": password},
        headers={"X-Forwarded-For": address},
        scope_base={"client": ("10.0.0.5", 40000)},
    )


async def test_the_account_limit_holds_across_addresses(app_with):
    """Behind a trusted proxy each attempt comes from another address: the account's own
    limit still stops the fourth, the right password included."""
    app = await app_with(
        login_limit="3/minute", login_ip_limit="5/minute", forwarded_allow_ips=("10.0.0.0/8",)
    )
    await make_user("clerk", "viewer")
    for number in range(3):
        assert (await login_from(app, f"203.0.113.{number}", "wrong password")).status_code == 401
    response = await login_from(app, "203.0.113.77", PASSWORD)
    assert response.status_code == 429
    retry_after(response)


async def test_failures_in_a_row_make_the_account_wait(app_with):
    app = await app_with(
        login_limit="100/minute", login_ip_limit="100/minute", login_backoff_after=4
    )
    await make_user("clerk", "viewer")
    client = ApiClient(app.test_client())
    for _ in range(4):
        assert (await client.login("clerk", "wrong password")).status_code == 401
    response = await client.login("clerk", PASSWORD)
    assert response.status_code == 429
    assert 55 <= retry_after(response) <= 60
    assert (await client.login("somebody-else", "wrong password")).status_code == 401


async def test_a_success_gives_back_the_account_count_but_not_the_address_count(strict_app):
    client = ApiClient(strict_app.test_client())
    for _ in range(4):  # more than the account's 3/minute: successes do not use it up
        assert (await client.login("clerk")).status_code == 200
    assert (await client.login("somebody", "wrong password")).status_code == 401
    response = await client.login("clerk")  # the address's sixth attempt within the minute
    assert response.status_code == 429
    retry_after(response)


async def forwarded_login_ip(app, peer: str) -> str:
    response = await app.test_client().post(
        "/auth/login",
        json={"username": "clerk", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
        scope_base={"client": (peer, 40000)},
    )
    assert response.status_code == 200
    entry = await database.get(AuditEntry.select().order_by(AuditEntry.id.desc()))
    return entry.ip


@pytest.mark.parametrize(
    ("allowed", "peer", "expected"),
    [
        ((), "10.0.0.5", "10.0.0.5"),
        (("10.0.0.0/8",), "10.0.0.5", "203.0.113.9"),
        (("10.0.0.0/8",), "192.0.2.1", "192.0.2.1"),
        (("*",), "192.0.2.1", "203.0.113.9"),
    ],
)
async def test_forwarded_for_is_trusted_only_from_allowed_proxies(
    app_with, allowed, peer, expected
):
    app = await app_with(forwarded_allow_ips=allowed)
    await make_user("clerk", "viewer")
    assert await forwarded_login_ip(app, peer) == expected
