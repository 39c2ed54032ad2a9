"""The real Pi agent as a subprocess: register, every command, server restart, revoke."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.support.live import stop_process

from .conftest import WAIT_S


def _register(server, token: str, config_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sentra_tunnel.agent.register", "--token", token]
        + ["--server", server.url, "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def start_agent(tmp_path):
    """`start_agent(config_path)` runs sentra-agent with the sim door; stopped after the test."""
    processes = []

    def start(config_path):
        log = open(tmp_path / f"agent-{len(processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "sentra_tunnel.agent.agent"]
            + ["--config", str(config_path), "--door", "sim"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        stop_process(process)
        log.close()


async def _command(api, device_id, method, name, body=None):
    path = f"/api/commands/{device_id}/{name}"
    if method == "get":
        return await api.get(path)
    return await api.post(path, json=body) if body is not None else await api.post(path)


async def test_agent_end_to_end(live, tmp_path, start_agent):
    api, server = live.tenant, live.server
    device_id, token = await api.create_device(live.tenant_shop)
    config_path = tmp_path / "agent.json"
    registered = _register(server, token, config_path)
    assert registered.returncode == 0, registered.stderr
    assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600
    used_again = _register(server, token, tmp_path / "again.json")
    assert used_again.returncode != 0 and "rejected" in used_again.stderr

    agent = start_agent(config_path)
    await api.wait_online(device_id)
    assert (await api.device(device_id))["state"]["door"] in ("open", "closed", "unknown")

    await _every_command(api, device_id)
    await _audited(api, device_id)

    server.restart()
    await api.wait_online(device_id)  # the agent reconnected by itself
    status = await _command(api, device_id, "post", "status")
    assert status.status_code == 200, status.text

    revoked = await api.post(f"/api/devices/{device_id}/revoke")
    assert revoked.status_code == 204, "".join(server.output[-40:])
    assert agent.wait(WAIT_S) == 3  # the agent gives up: its key is dead
    assert (await api.device(device_id))["online"] is False


async def _every_command(api, device_id):
    calls = [
        ("post", "status", None),
        ("post", "open", {"duration_s": 1}),
        ("get", "config", None),
        ("post", "config", {"open_duration_s": 7, "timezone": "Europe/Vienna"}),
        ("post", "override", {"mode": "locked", "duration_s": 600}),
    ]
    results = {}
    for method, name, body in calls:
        response = await _command(api, device_id, method, name, body)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["ok"] is True
        results[(method, name)] = response.json()["result"]
    assert set(results[("post", "status")]) == {"door", "lock", "mode", "override_until"}
    assert results[("post", "open")]["opened"] is True
    assert results[("post", "config")]["open_duration_s"] == 7
    assert results[("post", "config")]["timezone"] == "Europe/Vienna"
    refused = await _command(api, device_id, "post", "open", {})
    assert refused.status_code == 502
    assert refused.json()["error"]["device_error"]["code"] == "mode_locked"
    back = await _command(api, device_id, "post", "override", {"mode": "auto"})
    assert back.status_code == 200
    assert back.json()["result"]["mode"] == "auto"


async def _audited(api, device_id):
    response = await api.get("/api/audit", params={"device_id": device_id, "limit": 100})
    entries = response.json()["entries"]
    by_action = {}
    for entry in entries:
        by_action.setdefault(entry["action"], []).append(entry["outcome"])
    assert sorted(by_action["command.status"]) == ["ok", "requested"]
    assert sorted(by_action["command.get_config"]) == ["ok", "requested"]
    assert sorted(by_action["command.set_config"]) == ["ok", "requested"]
    assert sorted(by_action["command.open"]) == ["device_error", "ok", "requested", "requested"]
    assert sorted(by_action["command.override"]) == ["ok", "ok", "requested", "requested"]
    assert {"device.create", "device.register", "device.connect"} <= set(by_action)
