"""Baselines on the same machine and pinning: a bare `websockets` echo server and a plain Quart app.

Run as servers with `python -m bench.baselines ws|quart PORT`; the functions below measure them
from the generator: memory per idle connection, echo round trip, and a GET round trip.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from . import system
from .httpclient import Connection, build_request
from .server import free_port
from .stats import Latency

READY_MARK = "Running on"
WARMUP = 100
SETTLE_S = 2.0
CONNECT_GATE = 256


async def serve_echo(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(
        echo, "127.0.0.1", port, compression=None, max_size=64 * 1024, ping_interval=20
    ) as server:
        print(f"{READY_MARK} ws://127.0.0.1:{port}", flush=True)
        await server.serve_forever()


def serve_quart(port: int) -> None:
    """One JSON route behind the very Hypercorn settings `sentra-tunnel serve` uses."""
    import uvloop
    from hypercorn.asyncio import serve
    from quart import Quart

    from sentra_tunnel import logs
    from sentra_tunnel.cli import hypercorn_config
    from sentra_tunnel.config import Settings

    logs.configure()  # Hypercorn logs through it, "Running on" included, as the server does
    app = Quart("baseline")

    @app.get("/ping")
    async def ping():
        return {"ok": True}

    uvloop.run(serve(app, hypercorn_config(Settings(port=port, heartbeat_s=20))))


class Baseline:
    """One baseline server process on core 0, with its log in a temp dir removed afterwards."""

    def __init__(self, kind: str):
        self.kind, self.port = kind, free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sentra-bench-{kind}-"))
        self.log_path = self.workdir / "server.log"
        self.process = None

    async def __aenter__(self) -> Baseline:
        args = [sys.executable, "-m", "bench.baselines", self.kind, str(self.port)]
        offset = system.log_size(self.log_path)
        self.process = system.spawn(args, None, self.log_path)
        if not await system.wait_for_line(self.log_path, READY_MARK, self.process, 30, offset):
            output = system.tail(self.log_path)
            await self.__aexit__()
            raise RuntimeError(f"{self.kind} baseline did not start: {output}")
        return self

    async def __aexit__(self, *exc_info) -> None:
        await system.stop_async(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


async def _open_ws(url: str, gate: asyncio.Semaphore):
    async with gate:
        ws = await connect(url, compression=None, proxy=None, ping_interval=None, close_timeout=2)
        await ws.send('{"type":"hello"}')  # as a tunnel says hello and hears welcome
        await ws.recv()
        return ws


async def ws_idle_and_echo(counts: tuple[int, ...], messages: int, timeout: float) -> dict:
    """KiB of server RSS per idle connection at each count; then echo RTT with them open."""
    async with Baseline("ws") as server:
        url, gate = f"ws://127.0.0.1:{server.port}", asyncio.Semaphore(CONNECT_GATE)
        opened, rows = [], []
        rss0 = system.rss_kib(server.process.pid)
        try:
            for count in counts:
                began = time.monotonic()
                opened += await _open_many(url, gate, count - len(opened), timeout)
                seconds = time.monotonic() - began
                await asyncio.sleep(SETTLE_S)
                rss = system.rss_kib(server.process.pid)
                rows.append(_idle_row(count, len(opened), seconds, rss0, rss))
            echo = await _echo_rtt(url, messages)
        finally:
            await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return {"idle": rows, "echo": echo.summary()}


async def _open_many(url: str, gate: asyncio.Semaphore, count: int, timeout: float) -> list:
    """Open `count` connections within `timeout`; those that fail or are late are dropped."""
    tasks = [asyncio.ensure_future(_open_ws(url, gate)) for _ in range(count)]
    if not tasks:
        return []
    done, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        task.cancel()
    return [task.result() for task in done if task.exception() is None]


def _idle_row(count: int, opened: int, seconds: float, rss0, rss) -> dict:
    per = (rss - rss0) / opened if opened and rss and rss0 else None
    return {
        "connections": count,
        "opened": opened,
        "seconds": round(seconds, 2),
        "connect_rate": round(opened / seconds, 1) if seconds else None,
        "rss_before_kib": rss0,
        "rss_after_kib": rss,
        "kib_per_connection": round(per, 2) if per is not None else None,
    }


async def _echo_rtt(url: str, messages: int) -> Latency:
    latency = Latency()
    payload = '{"type":"command","id":"0123456789abcdef","name":"status","params":{}}'
    async with connect(url, compression=None, proxy=None, ping_interval=None) as ws:
        for i in range(messages + WARMUP):
            began = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            if i >= WARMUP:
                latency.record(time.perf_counter() - began)
    return latency


async def quart_get(requests: int) -> dict:
    """Round trip of GET /ping on one keep-alive connection, one request at a time."""
    async with Baseline("quart") as server:
        latency = Latency()
        raw = build_request("GET", "/ping", f"127.0.0.1:{server.port}", {})
        conn = await Connection.open("127.0.0.1", server.port)
        try:
            for i in range(requests + WARMUP):
                if not conn.usable():
                    conn = await Connection.open("127.0.0.1", server.port)
                began = time.perf_counter()
                response = await conn.request(raw)
                if i >= WARMUP and response.status == 200:
                    latency.record(time.perf_counter() - began)
        finally:
            conn.close()
    return {"get": latency.summary()}


if __name__ == "__main__":
    kind, port_text = sys.argv[1], sys.argv[2]
    if kind == "ws":
        import uvloop

        uvloop.run(serve_echo(int(port_text)))
    else:
        serve_quart(int(port_text))
