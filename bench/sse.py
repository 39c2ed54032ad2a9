"""Live pages: many GET /events streams over raw connections, and one device event fanned out.

A stream counts as open once its first data message (the current state) arrived. Then the
device sends one state event, and each stream's latency is the time from that send to its
next data message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

from .httpclient import Connection, ConnectionLost
from .provision import COOKIE, UserSession
from .stats import Latency

OPEN_GATE = 64  # streams being opened at once
DEFAULT_RETRY_S = 3.0  # EventSource's default reconnection time, until the server sends retry:
MAX_RETRY_S = 10.0


class Stream:
    """One live page. Like a browser's EventSource, a stream that ends or is refused while the
    page is still loading is opened again after the server's `retry:` (or `Retry-After`)."""

    def __init__(self, port: int, session: UserSession, retry_until: float):
        self.port, self.session, self.retry_until = port, session, retry_until
        self.arrivals: list[float] = []  # when each data message of this connection arrived
        self.live = self.finished = self.measuring = False
        self.attempts: Counter = Counter()  # connections that ended, by how
        self.retry_s = DEFAULT_RETRY_S
        self.conn: Connection | None = None

    @property
    def ready(self) -> bool:
        return self.live and bool(self.arrivals)

    async def run(self, gate: asyncio.Semaphore) -> None:
        try:
            while True:
                self.attempts[await self._once(gate)] += 1
                late = time.monotonic() + self.retry_s >= self.retry_until
                if self.measuring or late:
                    return
                await asyncio.sleep(self.retry_s)
        finally:
            self.finished = True

    async def _once(self, gate: asyncio.Semaphore) -> str:
        self.arrivals = []
        try:
            async with gate:
                body = await self._open()
            if isinstance(body, str):
                return body
            self.live = True
            await self._read(body)
            return "stream ended"
        except (ConnectionLost, OSError, asyncio.IncompleteReadError, ValueError) as error:
            return f"stream broke: {type(error).__name__}"
        finally:
            self.live = False
            if self.conn:
                self.conn.close()

    async def _open(self):
        """The body's chunks, or why there is none."""
        self.conn = await Connection.open("127.0.0.1", self.port)
        self.conn.writer.write(
            (
                f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Cookie: {COOKIE}={self.session.cookie}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        status, headers = await self.conn.read_head()
        if status != 200:
            retry_after = headers.get("retry-after", "")
            self.retry_s = min(float(retry_after), MAX_RETRY_S) if retry_after.isdigit() else 1.0
            return f"http {status}"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return self.conn.chunks()
        return _raw(self.conn.reader)

    async def _read(self, body) -> None:
        buffer = b""
        async for chunk in body:
            buffer += chunk.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                lines = block.split(b"\n")
                if any(line.startswith(b"data:") for line in lines):
                    self.arrivals.append(time.perf_counter())
                for line in lines:
                    if line.startswith(b"retry:") and line[6:].strip().isdigit():
                        self.retry_s = int(line[6:].strip()) / 1000


async def _raw(reader: asyncio.StreamReader):
    while chunk := await reader.read(65536):
        yield chunk


async def _until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def fan_out(port, viewers, device, streams: int, open_s: float, deliver_s: float) -> dict:
    """Open `streams` live pages, then measure one event from `device` reaching each of them."""
    gate, began = asyncio.Semaphore(OPEN_GATE), time.monotonic()
    pages = [Stream(port, viewers[i % len(viewers)], began + open_s) for i in range(streams)]
    tasks = [asyncio.ensure_future(page.run(gate)) for page in pages]
    try:
        await _until(lambda: all(p.ready or p.finished for p in pages), open_s)
        open_seconds = time.monotonic() - began
        for page in pages:
            page.measuring = True  # from here on a stream that ends is a lost delivery
        ready = [page for page in pages if page.ready]
        marks = {page: len(page.arrivals) for page in ready}
        sent = time.perf_counter()
        await device.send_event({"door": "open", "lock": "unlocked", "mode": "auto",
                                 "override_until": None})  # fmt: skip

        def delivered(page: Stream) -> bool:
            return len(page.arrivals) > marks[page] or not page.live

        await _until(lambda: all(delivered(p) for p in ready), deliver_s)
        latency = Latency()
        for page in ready:
            if len(page.arrivals) > marks[page]:
                latency.record(page.arrivals[marks[page]] - sent)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
    return _summary(pages, ready, open_seconds, latency)


def _summary(pages: list[Stream], ready: list[Stream], open_seconds: float, latency) -> dict:
    retried: Counter = Counter()
    for page in pages:
        retried.update(page.attempts)
    return {
        "streams": len(pages),
        "opened": len(ready),
        "open_seconds": round(open_seconds, 2),
        "open_failures": dict(retried),  # connections that ended or were refused, all pages
        "not_open": len(pages) - len(ready),
        "delivered": latency.count,
        "latency": latency.summary(),
    }
