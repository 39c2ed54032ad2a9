"""Open-loop command load: POST /api/commands/{id}/status on a fixed schedule.

Request i is due at start + i/rate whether or not earlier ones were answered, and its latency
is measured from that due time, so a stalled server cannot hide behind a stalled generator
(no coordinated omission). Requests run over a pool of keep-alive connections, each logged in
as one of many staff users, to every device in turn.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from .httpclient import Connection, ConnectionLost
from .provision import UserSession
from .stats import Latency, of

REQUEST_TIMEOUT_S = 15.0  # above the server's 10 s command timeout: its 504 is what we count


@dataclass
class Lease:
    conn: Connection
    head: str  # the request after the request line: host, session cookie, CSRF token

    def request(self, device_id: int) -> bytes:
        return f"POST /api/commands/{device_id}/status HTTP/1.1\r\n{self.head}".encode()


class Pool:
    """Keep-alive connections, at most `size`; used in turn (FIFO) so every user gets work."""

    def __init__(self, port: int, users: list[UserSession], size: int):
        self.port, self.size = port, size
        self.users = itertools.cycle(users)
        self.idle: deque[Lease] = deque()
        self.waiters: deque[asyncio.Future] = deque()
        self.opened = 0
        self.every: list[Connection] = []

    async def warm(self, count: int) -> None:
        leases = await asyncio.gather(
            *(self._open() for _ in range(min(count, self.size))), return_exceptions=True
        )
        self.idle.extend(lease for lease in leases if isinstance(lease, Lease))

    async def _open(self) -> Lease:
        self.opened += 1
        try:
            conn = await Connection.open("127.0.0.1", self.port)
        except ConnectionLost:
            self.opened -= 1
            raise
        self.every.append(conn)
        user = next(self.users)
        head = (
            f"Host: 127.0.0.1:{self.port}\r\nCookie: sentra_session={user.cookie}\r\n"
            f"X-CSRF-Token: {user.csrf}\r\nContent-Length: 0\r\n\r\n"
        )
        return Lease(conn, head)

    async def acquire(self) -> Lease:
        while self.idle:
            lease = self.idle.popleft()
            if lease.conn.usable():
                return lease
            self.discard(lease)
        if self.opened >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            lease = await waiter
            if lease is not None:
                return lease
        return await self._open()

    def release(self, lease: Lease) -> None:
        if lease.conn.closed:
            self.discard(lease)
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(lease)
                return
        self.idle.append(lease)

    def discard(self, lease: Lease) -> None:
        lease.conn.close()
        self.opened -= 1
        while self.waiters:  # a waiter may open a connection in its place
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in self.every:
            conn.close()


@dataclass
class LoadResult:
    rate: float
    duration: float
    latency: Latency = field(default_factory=Latency)  # answered 200
    lag: Latency = field(default_factory=Latency)  # due time → the generator got to it
    statuses: Counter = field(default_factory=Counter)  # HTTP status or failure kind
    samples: list[tuple[float, float, object]] = field(default_factory=list)
    retried: int = 0
    started_at: float = 0.0  # time.monotonic() of the first due time

    @property
    def scheduled(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def errors(self) -> dict:
        return {str(k): v for k, v in sorted(self.statuses.items(), key=str) if k != 200}

    def window(self, start: float, end: float) -> Latency:
        """Answered requests due in [start, end) seconds after the run began."""
        return of(lat for due, lat, status in self.samples if start <= due < end and status == 200)

    def healthy(self, p99_limit_ms: float) -> bool:
        p99 = self.latency.percentile_ms(99)
        return bool(self.scheduled) and self.ok >= 0.99 * self.scheduled and p99 < p99_limit_ms

    def summary(self) -> dict:
        return {
            "rate_per_s": self.rate,
            "duration_s": self.duration,
            "scheduled": self.scheduled,
            "ok": self.ok,
            "errors": self.errors(),
            "retried_stale_connections": self.retried,
            "latency": self.latency.summary(),
            "generator_lag": self.lag.summary(),
        }


class CommandLoad:
    def __init__(self, port, users: list[UserSession], device_ids: list[int], size, grace_s):
        self.port, self.users, self.size, self.grace_s = port, users, size, grace_s
        self.device_ids = device_ids or [0]
        self.next_device = itertools.cycle(self.device_ids)

    async def run(self, rate: float, duration: float) -> LoadResult:
        """Send rate × duration requests on schedule; wait at most `grace_s` for stragglers."""
        result, pool = LoadResult(rate, duration), Pool(self.port, self.users, self.size)
        await pool.warm(len(self.users))
        tasks: set[asyncio.Task] = set()
        start = result.started_at = time.monotonic() + 0.02
        try:
            for i in range(int(rate * duration)):
                due = start + i / rate
                if (delay := due - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                task = asyncio.ensure_future(self._one(pool, result, due, start))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await self._finish(tasks, result)
        finally:
            pool.close()
        return result

    async def _finish(self, tasks: set[asyncio.Task], result: LoadResult) -> None:
        if tasks:
            _, late = await asyncio.wait(set(tasks), timeout=self.grace_s)
            for task in late:
                task.cancel()
            if late:  # an answer racing the cancellation is counted as answered, not twice
                await asyncio.wait(late, timeout=2)
                unfinished = sum(1 for task in late if task.cancelled() or not task.done())
                result.statuses["unfinished"] += unfinished

    async def _one(self, pool: Pool, result: LoadResult, due: float, start: float) -> None:
        result.lag.record(time.monotonic() - due)  # the generator's own tardiness
        device_id = next(self.next_device)
        status = await self._send(pool, result, device_id, due)
        latency = time.monotonic() - due
        result.statuses[status] += 1
        result.samples.append((due - start, latency, status))
        if status == 200:
            result.latency.record(latency)

    async def _send(self, pool: Pool, result: LoadResult, device_id: int, due: float):
        for attempt in range(2):
            try:
                lease = await pool.acquire()
            except ConnectionLost:
                return "connect failed"
            reused = lease.conn.requests > 0
            try:
                response = await asyncio.wait_for(
                    lease.conn.request(lease.request(device_id)), REQUEST_TIMEOUT_S
                )
            except TimeoutError:
                lease.conn.close()
                pool.release(lease)
                return "client timeout"
            except ConnectionLost:
                pool.release(lease)
                if reused and attempt == 0:  # the server retired a keep-alive connection
                    result.retried += 1
                    continue
                return "connection lost"
            pool.release(lease)
            return response.status
        return "connection lost"
