"""TunnelSocket: frames leave in order through one writer, the first close wins, a device that
reads too slowly or sends too much is closed rather than buffered."""

from __future__ import annotations

import asyncio
import json

import pytest

from sentra_tunnel import wire
from sentra_tunnel.tunnel.socket import TunnelSocket


class FakeWebSocket:
    """The part of Quart's websocket the socket uses, with the peer's frames fed by the test."""

    def __init__(self):
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.wrote = asyncio.Condition()
        self.closes: list[tuple[int, str]] = []

    async def receive(self):
        item = await self.incoming.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))
        async with self.wrote:
            self.wrote.notify_all()

    async def written(self, count: int) -> None:
        async with self.wrote:
            await asyncio.wait_for(self.wrote.wait_for(lambda: len(self.sent) >= count), 5)

    async def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


async def run_until_closed(socket: TunnelSocket, on_frame=None) -> list:
    received = []

    async def collect(raw):
        received.append(raw)
        if on_frame:
            await on_frame(raw)

    await asyncio.wait_for(socket.run(collect), 5)
    return received


async def test_frames_leave_in_order_and_the_first_close_wins():
    ws = FakeWebSocket()
    socket = TunnelSocket(ws)
    running = asyncio.ensure_future(run_until_closed(socket))
    for n in range(3):
        assert socket.send({"type": "command", "id": str(n)})
    await ws.written(3)  # the writer drains the outbox; it is the one task that sends
    socket.close(wire.CLOSE_REVOKED, "key revoked")
    socket.close(wire.CLOSE_NORMAL, "later")
    await running
    await socket.send_close()
    await socket.send_close()
    assert [frame["id"] for frame in ws.sent] == ["0", "1", "2"]
    assert ws.closes == [(wire.CLOSE_REVOKED, "key revoked")]
    assert socket.send({"type": "command", "id": "late"}) is False


async def test_a_close_is_not_queued_behind_frames_the_device_has_not_taken():
    ws = FakeWebSocket()
    socket = TunnelSocket(ws)
    socket.send({"type": "command", "id": "queued"})
    socket.close(wire.CLOSE_REVOKED, "key revoked")
    await run_until_closed(socket)
    assert ws.sent == []  # a revoked device gets nothing more, not even what was waiting


async def test_a_full_outbox_closes_the_tunnel_instead_of_buffering():
    socket = TunnelSocket(FakeWebSocket(), outbox_size=2)
    assert [socket.send({"n": n}) for n in range(3)] == [True, True, False]
    assert (socket.closing, socket.close_code) == (True, wire.CLOSE_TRY_LATER)


async def test_the_reader_hands_every_frame_on_until_the_peer_leaves():
    ws = FakeWebSocket()
    socket = TunnelSocket(ws)
    for raw in ('{"type": "hello"}', '{"type": "state"}'):
        ws.incoming.put_nowait(raw)
    ws.incoming.put_nowait(asyncio.CancelledError())  # how Quart ends a receive on disconnect

    async def leave_after_two(raw):
        if raw == '{"type": "state"}':
            socket.close(wire.CLOSE_NORMAL, "device disconnected")

    received = await run_until_closed(socket, leave_after_two)
    assert received == ['{"type": "hello"}', '{"type": "state"}']
    assert socket.close_code == wire.CLOSE_NORMAL


async def test_a_frame_over_the_limit_closes_with_1009():
    ws = FakeWebSocket()
    socket = TunnelSocket(ws)
    ws.incoming.put_nowait("x" * (wire.MAX_FRAME_BYTES + 1))
    received = await run_until_closed(socket)
    assert received == []
    assert socket.close_code == wire.CLOSE_TOO_BIG


@pytest.mark.parametrize("failure", [RuntimeError("boom"), ValueError("bad")])
async def test_a_failing_handler_closes_with_policy_not_silence(failure, caplog):
    ws = FakeWebSocket()
    socket = TunnelSocket(ws)
    ws.incoming.put_nowait('{"type": "hello"}')

    async def fail(raw):
        raise failure

    await run_until_closed(socket, fail)
    assert (socket.close_code, socket.close_reason) == (wire.CLOSE_POLICY, "server error")
    assert "tunnel reader failed" in caplog.text


async def test_a_close_frame_to_a_peer_already_gone_is_not_an_error():
    class GoneWebSocket(FakeWebSocket):
        async def close(self, code, reason):
            raise ConnectionResetError()

    socket = TunnelSocket(GoneWebSocket())
    socket.close(wire.CLOSE_GOING_AWAY, "server restarting")
    await socket.send_close()
    assert socket.close_code == wire.CLOSE_GOING_AWAY
