"""A restart with the default heartbeat: every tunnel is told 1001 and the server is gone in
moments, without waiting out Hypercorn's grace period or cancelling a single connection."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from .conftest import WAIT_S, RawDevice
from .test_live_tunnel import _registered

TUNNELS = 40


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """The defaults a deployment has: a 20 s heartbeat, longer than Hypercorn's 3 s grace."""
    return {"HEARTBEAT_S": "20", "REGISTER_LIMIT": "1000/minute"}


async def test_sigterm_with_default_heartbeat_cancels_no_connection(live):
    keys = [key for _, key in [await _registered(live) for _ in range(TUNNELS)]]
    async with contextlib.AsyncExitStack() as stack:
        # Like every agent, these wait for the server to close TCP after the close frames.
        devices = [
            await stack.enter_async_context(RawDevice(live.server.ws_url, key)) for key in keys
        ]
        await asyncio.gather(*(device.hello() for device in devices))
        closing = [asyncio.ensure_future(device.wait_closed()) for device in devices]
        live.server.process.terminate()
        assert await asyncio.gather(*closing) == [1001] * TUNNELS
        assert await asyncio.to_thread(live.server.process.wait, WAIT_S) == 0
    log = "".join(live.server.output)
    assert "CancelledError" not in log and "Traceback" not in log, log[-3000:]
