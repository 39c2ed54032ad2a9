"""Scenarios (a) idle tunnels, (b) commands at fixed rates plus a step search, (c) restart storm."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from .devices import Fleet
from .loadgen import CommandLoad, LoadResult
from .plan import Plan
from .provision import World
from .server import SentraServer

SETTLE_S = 2.0  # after the last welcome, before reading RSS
CONNECT_GATE = 256  # handshakes the generator has in flight while filling up (a)
PAUSE_S = 1.0  # between command runs: in-flight work drains


@dataclass
class Bench:
    plan: Plan
    server: SentraServer
    world: World
    fleet: Fleet
    results: dict = field(default_factory=dict)

    def load(self, online_only: bool = False) -> CommandLoad:
        """Commands to every fleet device (or only those online now), from every staff user."""
        devices = self.fleet.devices
        chosen = [d for d in devices if d.online] if online_only else devices
        ids = [device.key.device_id for device in chosen or devices]
        plan = self.plan
        return CommandLoad(self.server.port, self.world.staff, ids, plan.pool_size, plan.grace_s)


def diff(after: Counter, before: Counter) -> dict:
    """What was counted between two snapshots."""
    return {str(k): after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


async def idle(bench: Bench) -> list[dict]:
    """(a) Hold 1k, 5k, 10k tunnels: server RSS per tunnel, connect rate, failures by kind."""
    gate = asyncio.Semaphore(CONNECT_GATE)
    rss0 = bench.server.rss_kib()
    return [await _idle_step(bench, count, gate, rss0) for count in bench.plan.idle_counts]


async def _idle_step(bench: Bench, count: int, gate: asyncio.Semaphore, rss0) -> dict:
    fleet = bench.fleet
    failures, closes, online0 = Counter(fleet.failures), Counter(fleet.closes), fleet.online
    began = time.monotonic()
    fleet.start(bench.world.fleet[len(fleet.devices) : count], gate)
    complete = await fleet.wait(count, bench.plan.idle_timeout_s)
    seconds = time.monotonic() - began
    await asyncio.sleep(SETTLE_S)
    rss, welcomed = bench.server.rss_kib(), fleet.online
    per = (rss - rss0) / welcomed if welcomed and rss and rss0 else None
    return {
        "tunnels": count,
        "devices": len(fleet.devices),
        "welcomed": welcomed,
        "all_welcomed": complete and welcomed >= count,
        "seconds": round(seconds, 2),
        "connect_rate": round((welcomed - online0) / seconds, 1),
        "rss_before_kib": rss0,
        "rss_after_kib": rss,
        "kib_per_tunnel": round(per, 2) if per is not None else None,
        "failures": diff(fleet.failures, failures),
        "closes": diff(fleet.closes, closes),
        "server_alive": bench.server.alive(),
    }


async def trim(bench: Bench, count: int) -> None:
    """Keep only the first `count` fake devices."""
    if len(bench.fleet.devices) > count:
        await bench.fleet.stop(bench.fleet.devices[count:])


async def commands(bench: Bench) -> dict:
    """(b) Open-loop status commands at fixed rates, then the highest rate with p99 < limit."""
    plan = bench.plan
    await trim(bench, plan.command_tunnels)
    load = bench.load()
    online = bench.fleet.online
    await load.run(20, 1)  # warm-up, not reported
    runs = []
    for rate in plan.command_rates:
        runs.append(await load.run(rate, plan.command_s))
        await asyncio.sleep(PAUSE_S)
    search, best = await _search(load, plan, runs)
    return {
        "devices": len(bench.fleet.devices),
        "tunnels_online": online,
        "runs": [run.summary() for run in runs],
        "search": [run.summary() for run in search],
        "sustained_rate": best,
        "p99_limit_ms": plan.p99_limit_ms,
    }


async def _search(load: CommandLoad, plan: Plan, runs: list[LoadResult]):
    """Step up through the search rates until one fails, then halve the gap a few times."""
    limit = plan.p99_limit_ms
    best = max((run.rate for run in runs if run.healthy(limit)), default=0)
    worst = min(
        (run.rate for run in runs if not run.healthy(limit) and run.rate > best), default=None
    )
    search: list[LoadResult] = []
    if worst is None:
        for rate in (rate for rate in plan.search_rates if rate > best):
            if not (await _step(load, rate, plan, search)).healthy(limit):
                worst = rate
                break
            best = rate
    for _ in range(plan.refine_steps):
        if worst is None or worst - best <= max(20, best * 0.2):
            break
        rate = (best + worst) // 20 * 10 or 10
        if (await _step(load, rate, plan, search)).healthy(limit):
            best = rate
        else:
            worst = rate
    return search, best


async def _step(load: CommandLoad, rate: int, plan: Plan, search: list) -> LoadResult:
    result = await load.run(rate, plan.search_s)
    search.append(result)
    await asyncio.sleep(PAUSE_S)
    return result


async def storm(bench: Bench) -> dict:
    """(c) SIGTERM the server, start it again on the same port and database; time the return."""
    fleet, server = bench.fleet, bench.server
    agents, online_before = len(fleet.devices), fleet.online
    failures, closes = Counter(fleet.failures), Counter(fleet.closes)
    fleet.new_epoch()
    began = time.monotonic()
    how = await server.stop()
    stopped = time.monotonic()
    await server.start()
    ready = time.monotonic()
    complete = await fleet.wait(agents, bench.plan.storm_timeout_s, in_epoch=True)
    back = time.monotonic()
    refused = diff(fleet.failures, failures)
    return {
        "agents": agents,
        "online_before": online_before,
        "stop": how,
        "stop_seconds": round(stopped - began, 2),
        "start_seconds": round(ready - stopped, 2),
        "back_seconds_after_ready": round(back - ready, 2) if complete else None,
        "back_seconds_after_sigterm": round(back - began, 2) if complete else None,
        "waited_seconds": round(back - ready, 2),
        "welcomed_again": fleet.online_in_epoch,
        "left_behind": agents - fleet.online_in_epoch,
        "refused_503": refused.get("http 503", 0),
        "refused_429": refused.get("http 429", 0),
        "failures": refused,
        "closes": diff(fleet.closes, closes),
    }
