"""Pages per role, page-or-fragment on one URL, login and the forced password change."""

from __future__ import annotations

import pytest

from tests.support.api import make_user

PAGES = ["/", "/account", "/password", "/devices", "/users", "/shops", "/audit", "/tenants"]
LOWEST_ROLE = {
    "/": "viewer",
    "/account": "viewer",
    "/password": "viewer",
    "/devices": "admin",
    "/users": "admin",
    "/shops": "admin",
    "/audit": "admin",
    "/tenants": "superadmin",
}
ROLE_ORDER = ["viewer", "staff", "admin", "superadmin"]


def world_user(role, tenant, superadmin):
    return {
        "viewer": tenant.viewer,
        "staff": tenant.staff,
        "admin": tenant.admin,
        "superadmin": superadmin,
    }[role]


@pytest.mark.parametrize("role", ROLE_ORDER)
async def test_pages_answer_by_role(portal_as, tenant, superadmin, tenant_door, role):
    portal = await portal_as(world_user(role, tenant, superadmin))
    for path in PAGES + [f"/doors/{tenant_door.id}"]:
        response = await portal.get(path)
        allowed = ROLE_ORDER.index(role) >= ROLE_ORDER.index(LOWEST_ROLE.get(path, "viewer"))
        assert response.status_code == (200 if allowed else 403), path
        assert "HX-Request" in response.headers.get("Vary", ""), path


async def test_without_login_pages_redirect_to_login(client):
    response = await client.get("/devices")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=/devices")
    htmx = await client.get("/", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/login")


async def test_same_url_gives_fragment_to_htmx(portal_as, tenant, tenant_door):
    portal = await portal_as(tenant.staff)
    page = await portal.get("/")
    fragment = await portal.get("/", htmx=True)
    page_html, fragment_html = (
        await page.get_data(as_text=True),
        await fragment.get_data(as_text=True),
    )
    assert "<html" in page_html and "<html" not in fragment_html
    assert fragment_html.lstrip().startswith('<div id="doors"')
    assert "Front door" in fragment_html and "Öffnen" in fragment_html
    assert fragment.headers["Vary"] == page.headers["Vary"] == "HX-Request"


async def test_viewer_sees_no_open_button(portal_as, tenant, tenant_door):
    portal = await portal_as(tenant.viewer)
    html = await (await portal.get("/")).get_data(as_text=True)
    assert "Front door" in html and "data-open-button" not in html


async def test_body_carries_the_csrf_header_for_htmx(portal_as, tenant):
    portal = await portal_as(tenant.admin)
    html = await (await portal.get("/")).get_data(as_text=True)
    assert f'hx-headers:inherited=\'{{"X-CSRF-Token": "{portal.csrf_token}"}}\'' in html


async def test_english_by_setting_and_by_browser(portal_as, tenant):
    portal = await portal_as(tenant.admin)
    english = await portal.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<h1 class="page-title">Doors</h1>' in await english.get_data(as_text=True)
    await portal.post("/account/language", {"language": "de"}, htmx=False)
    german = await portal.get("/", headers={"Accept-Language": "en-US"})
    assert '<h1 class="page-title">Türen</h1>' in await german.get_data(as_text=True)


async def test_wrong_password_says_so(client):
    response = await client.client.post("/login", form={"username": "x", "password": "y"})
    assert response.status_code == 401
    assert "Benutzername oder Passwort falsch." in await response.get_data(as_text=True)


async def test_forced_password_change_is_the_only_page(app, tenant):
    from tests.portal.conftest import PortalClient

    newbie = await make_user("newbie", "staff", tenant.id, must_change=True)
    portal = PortalClient(app.test_client())
    response = await portal.login(newbie.username)
    assert response.headers["Location"] == "/password"
    for path in ("/", "/account", "/doors/1"):
        assert (await portal.get(path)).headers["Location"] == "/password"
    weak = await portal.post(
        "/password",
        {"current_password": "correct horse battery", "new_password": "short"},
        htmx=False,
    )
    assert weak.status_code == 422
    done = await portal.post(
        "/password",
        {
            "current_password": "correct horse battery",
            "new_password": "a much better one",
            "new_password_repeat": "a much better one",
        },
        htmx=False,
    )
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert (await portal.get("/")).status_code == 200


async def test_a_wrong_current_password_is_audited_and_shown_in_the_log(portal_as, tenant):
    portal = await portal_as(tenant.admin)
    new = "a much better one"
    form = {"current_password": "not it at all", "new_password": new, "new_password_repeat": new}
    refused = await portal.post("/password", form, htmx=False)
    assert refused.status_code == 422
    page = await portal.get("/audit?action=auth.password_failed")
    html = await page.get_data(as_text=True)
    assert '<option value="auth.password_failed" selected' in html
    assert html.count("Passwortänderung fehlgeschlagen") == 2  # the filter and the one entry
    assert "invalid_credentials" in html


async def test_manifest_makes_an_installable_app(client):
    response = await client.get("/manifest.webmanifest")
    body = await response.get_json()
    assert response.mimetype == "application/manifest+json"
    assert body["display"] == "standalone"
    for icon in body["icons"]:
        assert (await client.get(icon["src"])).status_code == 200


async def test_unknown_page_is_a_styled_404(client):
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Fehler 404" in await response.get_data(as_text=True)


def test_every_portal_view_is_limited_or_exempt(app):
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("portal_"):
            assert getattr(view, "rate_limit", None), endpoint
