"""The whole portal on a phone: first login to a door opening live, with a real sim agent."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

NEW_ADMIN_PASSWORD = "Sonnenblume-2026"
STAFF_FIRST_PASSWORD = "Erstes-Passwort-1"
STAFF_PASSWORD = "Kiosk-Passwort-22"


def shot(page: Page, tmp_path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def log_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort", exact=True).fill(password)
    page.get_by_role("button", name="Anmelden").click()


def change_first_password(page: Page, old: str, new: str) -> None:
    expect(page).to_have_url(re.compile(r"/password$"))
    page.get_by_label("Bisheriges Passwort").fill(old)
    page.get_by_label("Neues Passwort", exact=True).fill(new)
    page.get_by_label("Neues Passwort wiederholen").fill(new)
    page.get_by_role("button", name="Passwort speichern").click()
    expect(page.get_by_role("heading", name="Türen", exact=True)).to_be_visible()


def create_named(page: Page, url: str, path: str, name: str, **selects: str) -> None:
    page.goto(url + path)
    page.get_by_label("Name", exact=True).fill(name)
    for label, option in selects.items():
        page.get_by_label(label, exact=True).select_option(label=option)
    page.get_by_role("button", name="Anlegen").click()
    expect(page.get_by_role("status")).to_contain_text(name)


def test_first_login_to_live_door(live_server, new_phone, sim_agent, tmp_path):
    url = live_server.url
    page = new_phone()

    page.goto(url + "/")
    shot(page, tmp_path, "01-login")
    log_in(page, url, "admin", "admin")
    expect(page.get_by_role("heading", name="Eigenes Passwort wählen")).to_be_visible()
    page.goto(url + "/audit")  # nothing else is reachable before the change
    expect(page).to_have_url(re.compile(r"/password$"))
    shot(page, tmp_path, "02-forced-password")
    change_first_password(page, "admin", NEW_ADMIN_PASSWORD)

    create_named(page, url, "/tenants", "Bäckerei Sonne")
    create_named(page, url, "/tenants", "Kiosk Ecke")
    shot(page, tmp_path, "03-tenants")
    create_named(page, url, "/shops", "Hauptstraße", Mandant="Bäckerei Sonne")
    create_named(page, url, "/shops", "Bahnhof", Mandant="Kiosk Ecke")
    shot(page, tmp_path, "04-shops")

    page.goto(url + "/devices")
    page.get_by_label("Name", exact=True).fill("Hintertür")
    page.get_by_label("Shop", exact=True).select_option(label="Bäckerei Sonne · Hauptstraße")
    page.get_by_role("button", name="Anlegen").click()
    token = page.locator("#registration-token").inner_text().strip()
    assert token.startswith("reg_")
    expect(page.locator("#register-command")).to_have_text(
        f"sentra-register --token {token} --server {url}"
    )
    shot(page, tmp_path, "05-device-token")

    page.goto(url + "/")
    card = page.locator("article[data-door='Hintertür']")
    expect(card.locator("[data-connection]")).to_have_text("Noch nicht eingerichtet")
    expect(page.locator("[data-live-badge]")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    sim_agent.register(token, url)
    sim_agent.start()
    expect(card.locator("[data-connection]")).to_have_text("Online", timeout=15_000)
    expect(card.locator("[data-lock-state]")).to_have_text("Verriegelt")

    card.get_by_role("button", name="Öffnen").click()
    expect(card.locator("[data-result=ok]")).to_contain_text("Geöffnet.")
    expect(card.locator("[data-result=ok]")).to_contain_text("Entriegelt")

    sim_agent.open_contact()
    expect(card.locator("[data-door-state]")).to_have_text("Tür offen")
    shot(page, tmp_path, "06-doors-open")
    sim_agent.close_contact()
    expect(card.locator("[data-door-state]")).to_have_text("Tür geschlossen")
    assert page.evaluate("window.__sameDocument") is True  # all of it without a reload

    card.get_by_role("link", name=re.compile("Hintertür")).click()
    expect(page.get_by_role("heading", name="Hintertür")).to_be_visible()
    door_path = page.url.removeprefix(url)
    page.get_by_text("Dauerhaft offen", exact=True).click()
    page.get_by_text("1 Stunde", exact=True).click()
    page.get_by_role("button", name="Modus setzen").click()
    expect(page.locator("[data-override-form] [data-result=ok]")).to_contain_text(
        re.compile(r"Dauerhaft offen bis \d{2}:\d{2}")
    )
    expect(page.locator("[data-override-until]")).to_contain_text(re.compile(r"bis \d{2}:\d{2}"))
    expect(page.get_by_label("Öffnungszeit (Sekunden)")).to_have_value("5")
    shot(page, tmp_path, "07-door-detail")

    page.goto(url + "/users")
    page.get_by_label("Benutzername").fill("kiosk-mitarbeiter")
    page.get_by_label("Erstes Passwort").fill(STAFF_FIRST_PASSWORD)
    page.get_by_label("Rolle", exact=True).select_option(label="Mitarbeiter")
    page.get_by_label("Mandant", exact=True).select_option(label="Kiosk Ecke")
    page.get_by_role("button", name="Benutzer anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("kiosk-mitarbeiter")
    shot(page, tmp_path, "08-users")

    other = new_phone()
    log_in(other, url, "kiosk-mitarbeiter", STAFF_FIRST_PASSWORD)
    change_first_password(other, STAFF_FIRST_PASSWORD, STAFF_PASSWORD)
    expect(other.get_by_text("Noch keine Türen")).to_be_visible()
    expect(other.get_by_text("Hintertür")).to_have_count(0)
    response = other.goto(url + door_path)
    assert response.status == 404
    shot(other, tmp_path, "09-other-tenant")

    page.goto(url + "/")
    expect(page.locator("[data-live-badge]")).to_be_visible()
    polling = new_phone()  # a phone whose SSE stream never gets through: polling takes over
    polling.context.add_cookies(page.context.cookies())
    polling.route("**/events*", lambda route: route.abort())
    polling.goto(url + "/")
    polled_card = polling.locator("article[data-door='Hintertür']")
    expect(polled_card.locator("[data-connection]")).to_have_text("Online")
    expect(polling.locator("[data-live-badge]")).to_be_hidden()
    sim_agent.stop()
    expect(card.locator("[data-connection]")).to_have_text("Offline", timeout=10_000)
    expect(polled_card.locator("[data-connection]")).to_have_text("Offline", timeout=10_000)
    shot(page, tmp_path, "10-doors-offline")

    page.goto(url + "/audit")
    for action in ("Anmeldung", "Gerät angelegt", "Gerät registriert", "Tür geöffnet"):
        expect(page.locator("#audit li", has_text=action).first).to_be_visible()
    expect(page.locator("#audit li", has_text="Modus übersteuern").first).to_be_visible()
    shot(page, tmp_path, "11-audit")
    page.goto(url + "/account")
    shot(page, tmp_path, "12-account")
