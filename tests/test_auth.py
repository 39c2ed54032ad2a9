"""Answers carrying a secret (API key, registration token, CSRF token) are never stored by a
cache: decided in one place, from the view's declared response body or the page's type."""

from __future__ import annotations

from sentra_tunnel.auth import carries_secret
from tests.portal.conftest import PortalClient

SECRET_VIEWS = {
    "auth.login",
    "auth.me",
    "devices.create",
    "devices.register",
    "devices.reprovision",
}


def no_store(response) -> bool:
    return response.headers.get("Cache-Control") == "no-store"


def test_exactly_the_views_answering_with_a_secret_are_found(app):
    found = {endpoint for endpoint, view in app.view_functions.items() if carries_secret(view)}
    assert found == SECRET_VIEWS


async def test_login_and_me_hand_out_the_csrf_token_uncached(client, tenant):
    login = await client.login("bakery-admin")
    assert login.status_code == 200 and no_store(login)
    me = await client.get("/auth/me")
    assert me.status_code == 200 and no_store(me)
    assert not no_store(await client.get("/api/devices"))  # nothing secret, cacheable as before


async def test_device_tokens_and_keys_are_handed_out_uncached(admin_client, client, tenant):
    created = await admin_client.post(
        "/api/devices/create", json={"name": "Door", "shop_id": tenant.shop_a.id}
    )
    assert created.status_code == 201 and no_store(created)
    body = await created.get_json()
    registered = await client.post(
        "/api/devices/register", json={"token": body["registration_token"]}
    )
    assert registered.status_code == 201 and no_store(registered)
    again = await admin_client.post(f"/api/devices/{body['device']['id']}/reprovision")
    assert again.status_code == 201 and no_store(again)


async def test_every_page_is_uncached_since_its_forms_carry_the_csrf_token(app, tenant):
    portal = PortalClient(app.test_client())
    assert no_store(await portal.get("/login"))
    await portal.login("bakery-admin")
    account = await portal.get("/account")
    assert 'name="csrf_token"' in await account.get_data(as_text=True)
    for page in (account, await portal.get("/"), await portal.get("/devices", htmx=True)):
        assert page.status_code == 200
        assert no_store(page)
    shown = await portal.post(
        "/devices", form={"name": "Back door", "shop_id": str(tenant.shop_a.id)}
    )
    assert shown.status_code == 201
    assert "reg_" in await shown.get_data(as_text=True)
    assert no_store(shown)
