"""The tunnel client against a tiny `websockets` server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

import pytest
import pytest_asyncio
from websockets.asyncio.server import ServerConnection

from sentra_tunnel.agent import AGENT_VERSION
from sentra_tunnel.agent.config import AgentConfig
from sentra_tunnel.agent.tunnel import (
    EXIT_KEY_REJECTED,
    EXIT_OK,
    Backoff,
    RetryLater,
    TunnelClient,
)
from sentra_tunnel.door_schema import dump

from .fakes import API_KEY, TIMEOUT


def agent_config(url: str, api_key: str = API_KEY) -> AgentConfig:
    return AgentConfig(server="http://127.0.0.1", device_id="dev_1", api_key=api_key, ws_url=url)


@pytest_asyncio.fixture
async def start_client(controller):
    stop = asyncio.Event()
    tasks = []

    def start(url: str, api_key: str = API_KEY) -> asyncio.Task:
        client = TunnelClient(
            agent_config(url, api_key), controller, backoff=Backoff(initial=0.01, maximum=0.05)
        )
        tasks.append(asyncio.create_task(client.run(stop)))
        return tasks[-1]

    yield start
    stop.set()
    for task in tasks:
        await asyncio.wait_for(task, TIMEOUT)


async def receive(ws: ServerConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def command(ws: ServerConnection, name: str, params: dict | None = None, cid="c1") -> dict:
    await ws.send(json.dumps({"type": "command", "id": cid, "name": name, "params": params or {}}))
    while True:
        message = await receive(ws)
        if message["type"] == "result":
            assert message["id"] == cid
            return message


@pytest.mark.asyncio
async def test_hello_carries_version_state_and_key(hub, start_client, controller):
    start_client(hub.url)
    ws, hello = await hub.next_connection()
    assert hello == {
        "type": "hello",
        "agent_version": AGENT_VERSION,
        "state": dump(controller.state),
    }
    assert ws.request.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.asyncio
async def test_command_round_trips(hub, start_client):
    start_client(hub.url)
    ws, _ = await hub.next_connection()
    opened = await command(ws, "open", {"duration_s": 2}, cid="a")
    assert opened["success"] is True and opened["result"]["opened"] is True
    assert opened["result"]["state"]["lock"] == "unlocked"
    status = await command(ws, "status", cid="b")
    assert status["result"]["lock"] == "unlocked"
    config = await command(ws, "set_config", {"open_duration_s": 3}, cid="c")
    assert config == {
        "type": "result",
        "id": "c",
        "success": True,
        "result": {"open_duration_s": 3, "timezone": "Europe/Berlin", "schedule": []},
    }


@pytest.mark.asyncio
async def test_command_errors_are_results(hub, start_client):
    start_client(hub.url)
    ws, _ = await hub.next_connection()
    unknown = await command(ws, "reboot", cid="x")
    assert unknown["success"] is False and unknown["error"]["code"] == "unknown_command"
    bad = await command(ws, "open", {"duration_s": 99}, cid="y")
    assert bad["error"]["code"] == "invalid_params" and "duration_s" in bad["error"]["message"]
    await command(ws, "override", {"mode": "locked"}, cid="z")
    refused = await command(ws, "open", cid="w")
    assert refused["error"] == {
        "code": "mode_locked",
        "message": "the door is in locked mode; end the override first",
    }


@pytest.mark.asyncio
async def test_junk_frames_are_ignored(hub, start_client):
    start_client(hub.url)
    ws, _ = await hub.next_connection()
    for junk in ("not json", "[1, 2]", b"\x00binary", '{"type": "error", "error": {}}'):
        await ws.send(junk)
    assert (await command(ws, "status", cid="after-junk"))["success"] is True


@pytest.mark.asyncio
async def test_state_event_after_contact_change(hub, start_client, sim_door):
    start_client(hub.url)
    ws, _ = await hub.next_connection()
    sim_door.set_contact(True)
    event = await receive(ws)
    assert event["type"] == "event" and event["event"] == "state"
    assert event["data"]["door"] == "open"


@pytest.mark.asyncio
@pytest.mark.parametrize("close_code", [1011, 1000, 4000])
async def test_reconnects_after_the_server_closes(hub, start_client, sim_door, close_code):
    start_client(hub.url)
    ws, _ = await hub.next_connection()
    await ws.close(close_code)
    sim_door.set_contact(True)  # a change while offline shows up in the next hello
    _, hello = await hub.next_connection()
    assert hello["state"]["door"] == "open"


@pytest.mark.asyncio
async def test_reconnects_when_the_welcome_is_missing(hub, start_client):
    hub.welcome = False
    start_client(hub.url)
    await hub.next_connection()
    hub.welcome = True
    ws, _ = await hub.next_connection()
    assert (await command(ws, "status"))["success"] is True


@pytest.mark.asyncio
async def test_revocation_close_4001_exits_3(hub, start_client):
    task = start_client(hub.url)
    ws, _ = await hub.next_connection()
    await ws.close(4001, "revoked")
    assert await asyncio.wait_for(task, TIMEOUT) == EXIT_KEY_REJECTED


@pytest.mark.asyncio
async def test_http_401_at_handshake_exits_3(hub, start_client):
    task = start_client(hub.url, api_key="wrong")
    assert await asyncio.wait_for(task, TIMEOUT) == EXIT_KEY_REJECTED
    assert hub.connections.empty()


@pytest.mark.asyncio
async def test_stop_while_connected_and_while_waiting(hub, controller):
    stop = asyncio.Event()
    client = TunnelClient(agent_config(hub.url), controller)
    task = asyncio.create_task(client.run(stop))
    await hub.next_connection()
    stop.set()
    assert await asyncio.wait_for(task, TIMEOUT) == EXIT_OK
    # Unreachable server: the agent sits in its backoff wait, which stop must cut short.
    stop = asyncio.Event()
    client = TunnelClient(agent_config("ws://127.0.0.1:9/ws"), controller, backoff=Backoff(60, 60))
    task = asyncio.create_task(client.run(stop))
    await asyncio.sleep(0.1)  # let the first attempt fail; nothing observable to await
    stop.set()
    assert await asyncio.wait_for(task, TIMEOUT) == EXIT_OK


def test_backoff_doubles_with_full_jitter_up_to_the_cap_and_resets():
    backoff = Backoff(initial=1, maximum=60)
    delays = [backoff.next_delay() for _ in range(9)]
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_a_fleet_spreads_over_the_whole_backoff_window():
    """Full jitter: 1,000 agents at the same attempt land all over [0, ceiling], not in a band."""
    delays = []
    for _ in range(1000):
        backoff = Backoff(initial=1, maximum=60)
        backoff.attempt = 3  # ceiling 8 s
        delays.append(backoff.next_delay())
    assert min(delays) < 1 and max(delays) > 7
    assert sum(1 for d in delays if d < 4) > 300  # the lower half is used, not skipped


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.TOO_MANY_REQUESTS])
async def test_a_refused_upgrade_waits_at_least_retry_after(hub, controller, status):
    hub.refusals = [(status, "7")]
    client = TunnelClient(agent_config(hub.url), controller, backoff=Backoff(0.01, 0.05))
    with pytest.raises(RetryLater) as refused:
        await client._session()
    assert refused.value.seconds == 7
    assert all(client._delay(refused.value) >= 7 for _ in range(50))


@pytest.mark.asyncio
async def test_the_agent_comes_back_after_a_refusal(hub, start_client):
    hub.refusals = [(HTTPStatus.SERVICE_UNAVAILABLE, "0"), (HTTPStatus.SERVICE_UNAVAILABLE, "soon")]
    start_client(hub.url)
    _, hello = await hub.next_connection()
    assert hello["type"] == "hello" and hub.refusals == []
