"""The API describes itself, and its docs page loads nothing from other hosts."""

import re


async def test_openapi_lists_the_contract_endpoints(client):
    response = await client.get("/openapi.json")
    paths = (await response.get_json())["paths"]
    for path in ("/auth/login", "/api/users/{user_id}", "/api/devices/create", "/api/audit"):
        assert path in paths


async def test_docs_page_serves_its_assets_itself(client):
    page = (await (await client.get("/docs")).get_data()).decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, "the docs page references no assets at all"
    assert all(source.startswith("/static/") for source in sources), sources
    for source in sources:
        assert (await client.get(source)).status_code == 200
