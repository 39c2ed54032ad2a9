"""One tunnel's socket: a bounded outbox drained by one writer, a reader, and a close that wins.

It moves frames and knows nothing of what they say; `connection.py` holds the conversation.
A tunnel lives for days and a fleet keeps thousands open, so it costs as little as it can:
the handler's own task writes, one task reads, and nothing else waits on its behalf.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .. import wire

log = logging.getLogger(__name__)

OUTBOX_SIZE = 64


class TunnelSocket:
    __slots__ = ("ws", "outbox", "closing", "close_code", "close_reason", "_closed")

    def __init__(self, ws, outbox_size: int = OUTBOX_SIZE):
        self.ws = ws
        self.outbox: asyncio.Queue[dict | None] = asyncio.Queue(outbox_size)
        self.closing = False
        self.close_code, self.close_reason = wire.CLOSE_NORMAL, ""
        self._closed = False

    def send(self, frame: dict) -> bool:
        """Queue a frame; a device that does not read fast enough is closed, not buffered."""
        if self.closing:
            return False
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(wire.CLOSE_TRY_LATER, "too slow to read")
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Ask the tunnel to close with this code; the first request wins."""
        if self.closing:
            return
        self.closing = True
        self.close_code, self.close_reason = code, reason
        with contextlib.suppress(asyncio.QueueFull):  # a full outbox: the writer is busy anyway
            self.outbox.put_nowait(None)

    async def run(self, on_frame: Callable[[str | bytes], Awaitable[None]]) -> None:
        """Move frames until the tunnel closes, from either end; the close frame is not sent
        yet, so that the conversation can first put its affairs in order."""
        reader = asyncio.ensure_future(self._read(on_frame))
        try:
            await self._write()
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):  # its end is ours too; nothing to report
                await asyncio.shield(reader)

    async def send_close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # the peer may be gone already
                await self.ws.close(self.close_code, self.close_reason)

    async def _write(self) -> None:
        while not self.closing:
            frame = await self.outbox.get()
            if frame is None:
                return
            await self.ws.send(wire.encode(frame))

    async def _read(self, on_frame: Callable[[str | bytes], Awaitable[None]]) -> None:
        try:
            while not self.closing:
                raw = await self.ws.receive()
                # Hypercorn enforces this itself; the check keeps other servers and tests honest.
                if wire.frame_size(raw) > wire.MAX_FRAME_BYTES:
                    self.close(wire.CLOSE_TOO_BIG, "frame over 64 KiB")
                    return
                await on_frame(raw)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tunnel reader failed")
            self.close(wire.CLOSE_POLICY, "server error")
        finally:
            self.close(wire.CLOSE_NORMAL, "device disconnected")  # no-op if closing already
