"""Unsafe requests need the CSRF token; other tenants' ids are 404; door answers in plain words."""

from __future__ import annotations

import asyncio

import pytest

from sentra_tunnel.errors import APIError
from sentra_tunnel.portal import door_actions
from tests.support.api import PASSWORD
from tests.tunnel.fakes import STATE, WAIT_S, FakeDevice, provision


async def test_post_without_csrf_is_refused(portal_as, tenant):
    portal = await portal_as(tenant.admin)
    refused = await portal.post("/shops", {"name": "Nowhere"}, csrf=False)
    assert refused.status_code == 403
    assert "Formular ist abgelaufen" in await refused.get_data(as_text=True)
    field = await portal.post(
        "/shops", {"name": "Somewhere", "csrf_token": portal.csrf_token}, csrf=False, htmx=False
    )
    assert field.status_code == 201


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/doors/{id}"),
        ("get", "/doors/{id}/config"),
        ("get", "/events?door={id}"),
        ("get", "/audit?device_id={id}"),
        ("post", "/doors/{id}/open"),
        ("post", "/doors/{id}/override"),
        ("post", "/devices/{id}/revoke"),
        ("post", "/devices/{id}/reprovision"),
        ("post", "/devices/{id}/delete"),
    ],
)
async def test_another_tenants_door_is_not_found(portal_as, tenant, other_door, method, path):
    portal = await portal_as(tenant.admin)
    url = path.format(id=other_door.id)
    if method == "get":
        response = await portal.get(url)
    else:
        response = await portal.post(url, {"mode": "open", "end": "forever"})
    assert response.status_code == 404, url


async def test_another_tenants_user_is_not_found(portal_as, tenant, other_tenant):
    portal = await portal_as(tenant.admin)
    assert (
        await portal.post(f"/users/{other_tenant.staff.id}", {"role": "viewer"})
    ).status_code == 404
    assert (await portal.post(f"/users/{other_tenant.staff.id}/delete")).status_code == 404


async def test_other_tenant_sees_no_doors(portal_as, other_tenant, tenant_door):
    portal = await portal_as(other_tenant.staff)
    html = await (await portal.get("/")).get_data(as_text=True)
    assert "Front door" not in html and "Noch keine Türen" in html


@pytest.fixture
def commands(monkeypatch):
    """Replace the tunnel with a script: each call pops the next answer (dict or APIError)."""
    calls, answers = [], []

    async def fake(user, door_id, name, params):
        calls.append((door_id, name, params))
        answer = answers.pop(0)
        if isinstance(answer, APIError):
            raise answer
        return answer

    monkeypatch.setattr(door_actions, "run_command", fake)
    return calls, answers


async def test_open_reports_success_with_the_state(portal_as, tenant, tenant_door, commands):
    calls, answers = commands
    answers.append({"opened": True, "door": "closed", "lock": "unlocked", "mode": "auto"})
    portal = await portal_as(tenant.staff)
    response = await portal.post(f"/doors/{tenant_door.id}/open", {"duration_s": "5"})
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Geöffnet." in html and "Entriegelt" in html
    assert calls == [(tenant_door.id, "open", {"duration_s": 5})]


@pytest.mark.parametrize(
    "error, words",
    [
        (APIError(503, "device_offline", "offline"), "Die Tür ist offline"),
        (APIError(504, "device_timeout", "late"), "nicht rechtzeitig geantwortet"),
        (
            APIError(
                502,
                "device_error",
                "no",
                extra={"device_error": {"code": "mode_locked", "message": "door is locked"}},
            ),
            "Meldung der Tür: door is locked",
        ),
        (APIError(403, "forbidden", "no"), "Das dürfen Sie nicht."),
    ],
)
async def test_open_failures_in_plain_words(portal_as, tenant, tenant_door, commands, error, words):
    commands[1].append(error)
    portal = await portal_as(tenant.staff)
    response = await portal.post(f"/doors/{tenant_door.id}/open")
    html = await response.get_data(as_text=True)
    assert response.status_code == error.status
    assert "Nicht geöffnet." in html and words in html


async def test_viewer_may_not_open(portal_as, tenant, tenant_door, commands):
    portal = await portal_as(tenant.viewer)
    response = await portal.post(f"/doors/{tenant_door.id}/open")
    assert response.status_code == 403 and commands[0] == []


async def test_override_for_an_hour(portal_as, tenant, tenant_door, commands):
    calls, answers = commands
    answers.append(
        {
            "door": "closed",
            "lock": "unlocked",
            "mode": "open",
            "override_until": "2030-01-01T12:00:00Z",
        }
    )
    portal = await portal_as(tenant.staff)
    response = await portal.post(f"/doors/{tenant_door.id}/override", {"mode": "open", "end": "1h"})
    assert "Modus gesetzt: Dauerhaft offen bis" in await response.get_data(as_text=True)
    assert calls == [(tenant_door.id, "override", {"mode": "open", "duration_s": 3600})]


def test_override_until_a_time_is_the_next_such_moment():
    assert door_actions.override_params("locked", "forever", "") == {"mode": "locked"}
    assert door_actions.override_params("auto", "1h", "") == {"mode": "auto"}
    params = door_actions.override_params("open", "until", "23:59")
    assert params["until"].endswith("Z")
    assert door_actions.override_params("open", "until", "nonsense") is None


async def test_config_form_round_trip(portal_as, tenant, tenant_door, commands):
    calls, answers = commands
    config = {
        "open_duration_s": 5,
        "timezone": "Europe/Berlin",
        "schedule": [{"days": ["mon", "tue"], "from": "08:00", "to": "18:00"}],
    }
    answers.extend([config, {**config, "open_duration_s": 7}])
    portal = await portal_as(tenant.admin)
    form_html = await (await portal.get(f"/doors/{tenant_door.id}/config", htmx=True)).get_data(
        as_text=True
    )
    assert 'value="08:00"' in form_html and 'name="rows" value="3"' in form_html
    form = {
        "rows": "3",
        "open_duration_s": "7",
        "timezone": "Europe/Berlin",
        "from_0": "08:00",
        "to_0": "18:00",
        "days_0": "mon",
    }
    saved = await portal.post(f"/doors/{tenant_door.id}/config", form)
    assert "Auf der Tür gespeichert." in await saved.get_data(as_text=True)
    assert calls[1][2] == {
        "open_duration_s": 7,
        "timezone": "Europe/Berlin",
        "schedule": [{"days": ["mon"], "from": "08:00", "to": "18:00"}],
    }


@pytest.mark.parametrize(
    "path",
    [
        "/doors/99999999999999999999999",
        "/audit?device_id=99999999999999999999999&before=x&action=nope",
        "/events?door=99999999999999999999999",
        "/login?next=//evil.example",
    ],
)
async def test_odd_input_never_answers_500(portal_as, tenant, path):
    portal = await portal_as(tenant.admin)
    response = await portal.get(path)
    assert response.status_code < 500, path


async def test_an_audit_cursor_out_of_range_pages_instead_of_failing(portal_as, tenant):
    portal = await portal_as(tenant.admin)  # the login is an audit entry of the tenant
    past_every_id = await portal.get("/audit?before=99999999999999999999")
    assert past_every_id.status_code == 200
    assert "auth.login" in await past_every_id.get_data(as_text=True)
    below_the_first = await portal.get("/audit?before=-99999999999999999999", htmx=True)
    assert below_the_first.status_code == 200
    assert "auth.login" not in await below_the_first.get_data(as_text=True)


async def test_a_shop_or_tenant_id_out_of_range_is_not_found(portal_as, tenant, superadmin):
    admin = await portal_as(tenant.admin)
    device = await admin.post("/devices", {"name": "Door", "shop_id": "99999999999999999999"})
    assert device.status_code == 404
    operator = await portal_as(superadmin)
    shop = await operator.post("/shops", {"name": "Shop", "tenant_id": "99999999999999999999"})
    assert shop.status_code == 404


@pytest.mark.parametrize("next_path", ["/devices\r\nSet-Cookie: x=y", "/\x00", "/a\x7fb"])
async def test_login_ignores_a_next_path_with_control_characters(client, tenant, next_path):
    form = {"username": "bakery-admin", "password": PASSWORD, "next": next_path}
    response = await client.client.post("/login", form=form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "action, form, result",
    [
        ("open", {}, {}),
        ("open", {}, {"opened": "yes", "state": STATE}),
        ("override", {"mode": "open", "end": "forever"}, {**STATE, "override_until": "not-a-date"}),
    ],
    ids=["open-empty", "open-not-bool", "override-not-a-date"],
)
async def test_a_malformed_answer_is_shown_as_not_understood(
    app, portal_as, admin_client, tenant, action, form, result
):
    door_id, api_key = await provision(admin_client, tenant.shop_a.id)
    portal = await portal_as(tenant.staff)
    async with FakeDevice(app, api_key) as fake:
        await fake.hello()
        request = asyncio.ensure_future(portal.post(f"/doors/{door_id}/{action}", form))
        await fake.answer(await fake.receive(), result)
        response = await asyncio.wait_for(request, WAIT_S)
    html = await response.get_data(as_text=True)
    assert response.status_code == 502
    assert "Die Antwort der Tür war nicht verständlich" in html
    assert 'data-code="invalid_result"' in html and "Geöffnet." not in html
