"""A whole flow against a real server, then its log is searched for every secret it used."""

from __future__ import annotations

from tests.support.api import PASSWORD

from .conftest import RawDevice

NEW_PASSWORD = "amber kettle on the windowsill"


async def test_no_secret_of_a_full_flow_reaches_the_log(live):
    api = live.tenant
    secrets = {"password": PASSWORD, "new password": NEW_PASSWORD, "csrf token": api.csrf}
    device_id, token = await api.create_device(live.tenant_shop)
    secrets["registration token"] = token
    api_key = (await api.register(token))["api_key"]
    secrets["api key"] = api_key
    secrets["api key secret"] = api_key.partition(".")[2]
    session = api.http.cookies.get("sentra_session")
    secrets["session cookie"] = session
    async with RawDevice(live.server.ws_url, api_key) as device:
        await device.hello()
        wrong = await api.http.post(
            "/auth/login", json={"username": "nobody", "password": "hunter2hunter2"}
        )
        assert wrong.status_code == 401
        secrets["wrong password"] = "hunter2hunter2"
        changed = await api.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 204
        reprovisioned = await api.post(f"/api/devices/{device_id}/reprovision")
        secrets["second registration token"] = reprovisioned.json()["registration_token"]
        assert await device.wait_closed() == 4001
    log = "".join(live.server.output)
    assert "POST /auth/password" in log  # the log did record the flow
    leaked = [name for name, value in secrets.items() if value and value in log]
    assert leaked == []
