"""The API describes itself; its docs page loads nothing from other hosts and runs no inline
script, and in production both need a login unless made public."""

import re

import pytest

from sentra_tunnel.headers import CONTENT_SECURITY_POLICY


async def test_openapi_lists_the_contract_endpoints(client):
    response = await client.get("/openapi.json")
    paths = (await response.get_json())["paths"]
    for path in ("/auth/login", "/api/users/{user_id}", "/api/devices/create", "/api/audit"):
        assert path in paths
    assert "/docs" not in paths


async def test_docs_page_serves_its_assets_itself_under_the_strict_policy(client):
    response = await client.get("/docs")
    page = (await response.get_data()).decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, "the docs page references no assets at all"
    assert all(source.startswith("/static/") for source in sources), sources
    for source in sources:
        assert (await client.get(source)).status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script"


@pytest.fixture
async def production(app_with):
    return await app_with(debug=False)


async def test_in_production_the_docs_need_a_login(production, tenant):
    anonymous = production.test_client()
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 401
    page = await anonymous.get("/docs")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


async def test_public_docs_are_open_when_configured(app_with):
    app = await app_with(debug=False, public_api_docs=True)
    assert (await app.test_client().get("/openapi.json")).status_code == 200
