"""`sentra-agent` entry point: config errors, door choice, and a full run that persists changes."""

from __future__ import annotations

import asyncio
import json

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from sentra_tunnel.agent.agent import EXIT_CONFIG, main, make_door, run
from sentra_tunnel.agent.config import AgentConfig, GpioSettings, load_config, save_config
from sentra_tunnel.agent.door import GpioDoor, SimDoor
from sentra_tunnel.agent.tunnel import EXIT_OK

from .fakes import API_KEY, TIMEOUT


def write_config(path, ws_url: str, **extra) -> AgentConfig:
    config = AgentConfig(
        server="https://tunnel.example.com",
        device_id="dev_1",
        api_key=API_KEY,
        ws_url=ws_url,
        **extra,
    )
    save_config(path, config)
    return config


def test_missing_config_exits_2_with_hint(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "none.json")]) == EXIT_CONFIG
    assert "run sentra-register first" in capsys.readouterr().err


def test_plain_ws_to_another_host_exits_2(tmp_path, capsys):
    path = tmp_path / "tunnel.json"
    write_config(path, "ws://tunnel.example.com/ws")
    assert main(["--config", str(path)]) == EXIT_CONFIG
    assert "refusing plain ws://" in capsys.readouterr().err


def test_missing_ca_file_exits_2(tmp_path, capsys):
    path = tmp_path / "tunnel.json"
    write_config(path, "wss://tunnel.example.com/ws", ca_file=str(tmp_path / "missing.pem"))
    assert main(["--config", str(path)]) == EXIT_CONFIG
    assert "cannot use CA file" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_make_door_builds_the_chosen_backend(monkeypatch):
    assert isinstance(make_door("sim", GpioSettings()), SimDoor)
    pins = MockFactory()
    monkeypatch.setattr(Device, "pin_factory", pins)
    door = make_door("gpio", GpioSettings(relay_pin=4, contact_pin=None, bounce_s=None))
    assert isinstance(door, GpioDoor)
    door.hold_unlocked(True)
    assert pins.pin(4).state == 1
    door.close()
    pins.close()


@pytest.mark.asyncio
async def test_run_persists_config_and_override_then_stops(hub, tmp_path):
    path = tmp_path / "tunnel.json"
    config = write_config(path, hub.url)
    stop = asyncio.Event()
    task = asyncio.create_task(run(config, path, "sim", stop))
    ws, hello = await hub.next_connection()
    assert hello["state"]["mode"] == "auto"
    for cid, name, params in [
        ("1", "set_config", {"open_duration_s": 12}),
        ("2", "override", {"mode": "locked", "duration_s": 600}),
    ]:
        await ws.send(json.dumps({"type": "command", "id": cid, "name": name, "params": params}))
    results = []
    while len(results) < 2:
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message["type"] == "result":
            results.append(message)
    assert all(r["success"] for r in results), results
    stored = load_config(path)
    assert stored.door.open_duration_s == 12
    assert stored.override.mode == "locked" and stored.override.until is not None
    assert stored.api_key == API_KEY
    stop.set()
    assert await asyncio.wait_for(task, TIMEOUT) == EXIT_OK
