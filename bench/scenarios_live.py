"""Scenarios (d) one event to many live pages, (e) a flooding device, and the soak."""

from __future__ import annotations

import asyncio
import time

from . import sse
from .devices import Fleet
from .scenarios import Bench
from .stats import Latency

SPECIAL_WELCOME_S = 15
FLOOD_DELAY_S = 1.0  # into the command run, so the run has a calm start
FLOOD_TAIL_S = 1.0  # commands due this long after the last flood frame still count as "during"
CLOSE_WAIT_S = 2  # after the flood's command run, for the close the server may have sent
RSS_EVERY_S = 10
GROWTH_WINDOW_S = 60


async def _special(bench: Bench, name: str) -> Fleet:
    """A one-device fleet for the live or the flooding door; it does not reconnect."""
    fleet = Fleet(bench.server.ws_url, reconnect=False)
    fleet.start([bench.world.specials[name]])
    if not await fleet.wait(1, SPECIAL_WELCOME_S):
        await fleet.stop()
        raise RuntimeError(f"the {name} device got no welcome: {dict(fleet.failures)}")
    return fleet


async def live_pages(bench: Bench) -> dict:
    """(d) Open N streams of GET /events, then one device event: per-stream delivery latency."""
    fleet = await _special(bench, "live")
    try:
        plan = bench.plan
        return await sse.fan_out(
            bench.server.port,
            bench.world.viewers,
            fleet.devices[0],
            plan.sse_streams,
            plan.sse_open_s,
            deliver_s=10,
        )
    finally:
        await fleet.stop()


async def flood(bench: Bench) -> dict:
    """(e) Other devices' command p99 while one device floods state events, and without."""
    plan = bench.plan
    await bench.fleet.wait(len(bench.fleet.devices), plan.rejoin_s)  # stragglers of the storm
    online, load = bench.fleet.online, bench.load(online_only=True)  # the flood is the variable
    calm = await load.run(plan.flood_rate, plan.flood_s)
    fleet = await _special(bench, "flood")
    device = fleet.devices[0]
    try:
        running = asyncio.ensure_future(load.run(plan.flood_rate, plan.flood_s))
        await asyncio.sleep(FLOOD_DELAY_S)
        flood_start = time.monotonic()
        sent = await device.flood(plan.flood_frames)
        flood_end = time.monotonic()
        stormy = await running
        await asyncio.wait({fleet.tasks[device]}, timeout=CLOSE_WAIT_S)
        closed = device.last_close or (None, f"still open {CLOSE_WAIT_S} s after the flood")
    finally:
        await fleet.stop()
    during = stormy.window(
        flood_start - stormy.started_at, flood_end - stormy.started_at + FLOOD_TAIL_S
    )
    return {"tunnels_online": online, **_flood_report(calm, stormy, during, device, sent, closed)}


def _flood_report(calm, stormy, during: Latency, device, sent: dict, closed) -> dict:
    code, reason = closed
    errors = sum(device.received.values())
    return {
        "without_flood": calm.summary(),
        "with_flood": stormy.summary(),
        "during_flood": during.summary(),
        "flood": {
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in sent.items()},
            "received": dict(device.received),
            "rate_limited_frames": device.received.get("rate_limited", 0),
            "error_frames_per_s": round(errors / sent["seconds"], 1) if sent["seconds"] else None,
            "close_code": code,
            "close_reason": reason,
        },
    }


async def soak(bench: Bench, seconds: float) -> dict:
    """Commands at the soak rate for `seconds`, server RSS every 10 s; growth first→last minute."""
    samples: list[tuple[float, int]] = []
    began = time.monotonic()

    async def sample() -> None:
        while True:
            rss = bench.server.rss_kib()
            if rss:
                samples.append((round(time.monotonic() - began, 1), rss))
            await asyncio.sleep(RSS_EVERY_S)

    sampler = asyncio.ensure_future(sample())
    try:
        result = await bench.load().run(bench.plan.soak_rate, seconds)
    finally:
        sampler.cancel()
    window = min(GROWTH_WINDOW_S, seconds / 2)
    first = [rss for t, rss in samples if t < window] or [0]
    last = [rss for t, rss in samples if t >= seconds - window] or [0]
    first_kib, last_kib = sum(first) / len(first), sum(last) / len(last)
    return {
        "seconds": seconds,
        "commands": result.summary(),
        "rss_samples_kib": samples,
        "rss_first_minute_kib": round(first_kib),
        "rss_last_minute_kib": round(last_kib),
        "growth_kib": round(last_kib - first_kib),
        "growth_percent": round(100 * (last_kib / first_kib - 1), 1) if first_kib else None,
    }
