"""Every route declares a rate limit or an explicit exemption; a test guards the habit."""

from __future__ import annotations

from tests.support.api import error_code

# quart-schema's generated documentation and Quart's static files: no view of ours to decorate.
UNDECORATED = {"static", "openapi"}


def test_every_route_declares_a_rate_limit(app):
    missing = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDECORATED
        and not getattr(app.view_functions[rule.endpoint], "rate_limit", None)
    )
    assert missing == []


def test_the_exemptions_exist(app):
    """A stale entry in UNDECORATED would hide nothing, but says the list needs care."""
    assert {rule.endpoint for rule in app.url_map.iter_rules()} >= UNDECORATED


async def test_the_api_limit_answers_429_with_retry_after(app_with):
    from tests.support.api import ApiClient

    app = await app_with(api_limit="2/minute")
    client = ApiClient(app.test_client())
    for _ in range(2):
        assert (await client.get("/auth/me")).status_code == 401
    response = await client.get("/auth/me")
    assert response.status_code == 429
    assert await error_code(response) == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
