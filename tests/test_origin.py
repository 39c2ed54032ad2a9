"""A form on another site can neither log a browser in nor write with its session."""

from __future__ import annotations

import pytest

from tests.support.api import PASSWORD, error_code

LOGIN = {"username": "bakery-admin", "password": PASSWORD}
CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: "+".join(h.values()))
@pytest.mark.parametrize("path", ["/auth/login", "/login"])
async def test_a_cross_site_login_is_refused_and_logs_nobody_in(client, tenant, headers, path):
    if path == "/login":
        response = await client.client.post(path, form=LOGIN, headers=headers)
    else:
        response = await client.client.post(path, json=LOGIN, headers=headers)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers or "sentra_session=;" in str(response.headers)
    assert (await client.get("/auth/me")).status_code == 401


async def test_a_cross_site_write_with_a_session_is_refused(admin_client):
    response = await admin_client.post(
        "/api/shops", json={"name": "Evil"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert await error_code(response) == "csrf_failed"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://localhost"},
    ],
    ids=["no browser", "same origin", "typed", "own origin"],
)
async def test_own_pages_and_non_browser_clients_still_log_in(client, tenant, headers):
    response = await client.client.post("/auth/login", json=LOGIN, headers=headers)
    assert response.status_code == 200
