"""The orchestrator: baselines, the real server, scenarios (a)-(e), an optional soak; a table.

    python -m bench.run [--quick] [--soak SECONDS] [--tunnels N] [--strict]

This process is the load generator (uvloop, pinned to core 1); every server it measures runs
in its own process pinned to core 0. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import uvloop

from . import baselines, scenarios, scenarios_live, system, verdict
from .devices import Fleet
from .plan import FULL, QUICK, Plan
from .provision import provision
from .report import RESULTS_DIR, write_json
from .server import RAISED_LIMITS, SentraServer

BEGAN = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - BEGAN:6.1f} s] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short run (under 2 minutes)")
    parser.add_argument("--soak", type=float, default=0, metavar="SECONDS", help="add a soak")
    parser.add_argument("--soak-rate", type=int, default=None, help="commands/s during the soak")
    parser.add_argument("--tunnels", type=int, default=None, help="override the tunnel counts")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def choose_plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    if args.tunnels:
        plan = dataclasses.replace(plan, idle_counts=(args.tunnels,), command_tunnels=args.tunnels)
    if args.soak_rate:
        plan = dataclasses.replace(plan, soak_rate=args.soak_rate)
    return plan


def timeouts(plan: Plan, soak_s: float) -> dict[str, float]:
    """Outer bounds per scenario; the inner timeouts normally end them much earlier."""
    per_run = plan.grace_s + scenarios.PAUSE_S + 5
    return {
        "idle": len(plan.idle_counts) * (plan.idle_timeout_s + scenarios.SETTLE_S + 10) + 30,
        "commands": len(plan.command_rates) * (plan.command_s + per_run)
        + (len(plan.search_rates) + plan.refine_steps) * (plan.search_s + per_run)
        + 30,
        "storm": system.STOP_WAIT_S + 70 + plan.storm_timeout_s,
        "sse": plan.sse_open_s + 40,
        "flood": plan.rejoin_s + 2 * (plan.flood_s + per_run) + 40,
        "soak": soak_s + per_run + 30,
    }


async def guarded(results: dict, name: str, work, timeout: float) -> None:
    """Run a scenario; a failure or a timeout becomes a failed row, never a crash or a hang."""
    say(f"{name}: starting (bounded to {timeout:.0f} s)")
    try:
        results[name] = await asyncio.wait_for(work, timeout)
        say(f"{name}: done")
    except Exception as error:
        results["errors"][name] = f"{type(error).__name__}: {error}" if str(error) else repr(error)
        say(f"{name}: FAILED {results['errors'][name]}")
        traceback.print_exc(limit=3, file=sys.stdout)


async def run_baselines(plan: Plan, results: dict) -> None:
    base = results.setdefault("baselines", {"errors": {}})
    counts, echo = plan.baseline_counts, plan.echo_messages
    ws_work = baselines.ws_idle_and_echo(counts, echo, timeout=plan.idle_timeout_s)
    await guarded(base, "ws", ws_work, len(counts) * (plan.idle_timeout_s + 10) + 60)
    await guarded(base, "quart", baselines.quart_get(echo), 90)
    results["errors"].update({f"baseline {k}": v for k, v in base.pop("errors", {}).items()})


async def ensure_server(bench: scenarios.Bench, results: dict, name: str) -> None:
    """A server that died in one scenario is started again for the next, and that is noted."""
    if not bench.server.alive():
        results.setdefault("server_exits", []).append(f"before {name}")
        say(f"the server had exited; starting it again for {name}")
        await bench.server.start()


async def run_sentra(plan: Plan, args: argparse.Namespace, results: dict, workdir: Path) -> None:
    server = SentraServer(workdir)
    say(f"sentra server: migrating and creating the admin in {workdir}")
    await asyncio.to_thread(server.prepare)
    await server.start()
    say(f"sentra server on port {server.port}, pid {server.pid}; provisioning")
    fleet = Fleet(server.ws_url)
    try:
        devices, people = max(plan.idle_counts), (plan.staff_users, plan.viewer_users)
        world = await asyncio.wait_for(provision(server.base_url, devices, *people), 900)
        results["provision"] = _provision_summary(world)
        gc.collect()
        gc.freeze()  # the long-lived setup leaves the collector's view: shorter pauses under load
        say(f"provisioned: {results['provision']}")
        bench = scenarios.Bench(plan, server, world, fleet)
        limits = timeouts(plan, args.soak)
        steps = [
            ("idle", lambda: scenarios.idle(bench)),
            ("commands", lambda: scenarios.commands(bench)),
            ("storm", lambda: scenarios.storm(bench)),
            ("sse", lambda: scenarios_live.live_pages(bench)),
            ("flood", lambda: scenarios_live.flood(bench)),
        ]
        if args.soak and not args.quick:
            steps.append(("soak", lambda: scenarios_live.soak(bench, args.soak)))
        for name, work in steps:
            await ensure_server(bench, results, name)
            await guarded(results, name, work(), limits[name])
    finally:
        await asyncio.wait_for(fleet.stop(graceful=False), 60)
        await server.stop(wait_s=3)  # nothing is measured any more
        _keep_log(server)


def _provision_summary(world) -> dict:
    return {
        "devices": len(world.fleet),
        "staff": len(world.staff),
        "viewers": len(world.viewers),
        "seconds": round(world.seconds, 1),
        "refused": dict(world.refused),
        "failed": dict(world.failed),
    }


def _keep_log(server: SentraServer) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-server.log"
    if server.log_path.exists():
        shutil.copyfile(server.log_path, target)
        say(f"server log kept in {target}")


def announce(plan: Plan, machine: dict, pinned: bool, nofile: int) -> None:
    cpu = f"{machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}"
    say(f"plan {plan.name}; {cpu}")
    cores = f"generator on core {system.GENERATOR_CORE}, servers on core {system.SERVER_CORE}"
    say(f"RLIMIT_NOFILE raised to {nofile}; {cores}" + ("" if pinned else " (pinning failed)"))
    say(
        "rate limits raised for the server under test: "
        + ", ".join(f"{name}={value}" for name, value in RAISED_LIMITS.items())
        + ", because every benchmark client comes from 127.0.0.1 (per-address limits would "
        "measure the limiter, not the server); other limits and DATABASE_POOL_SIZE keep defaults"
    )


async def main_async(args: argparse.Namespace) -> int:
    # SIGTERM ends the run as Ctrl-C does: the scenario is cancelled, the servers are stopped.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    plan, nofile = choose_plan(args), system.raise_file_limit()
    pinned = system.pin(system.GENERATOR_CORE)
    machine = system.machine()
    announce(plan, machine, pinned, nofile)
    results: dict = {"errors": {}}
    await run_baselines(plan, results)
    workdir = Path(tempfile.mkdtemp(prefix="sentra-bench-"))
    try:
        await run_sentra(plan, args, results, workdir)
    except Exception as error:
        results["errors"]["sentra server"] = f"{type(error).__name__}: {error}"[:300]
        say(f"sentra server: FAILED {results['errors']['sentra server']}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = verdict.build(results)
    print("\n" + table.render(), flush=True)
    payload = {
        "plan": dataclasses.asdict(plan),
        "soak_s": args.soak,
        "seconds": round(time.monotonic() - BEGAN, 1),
        "machine": machine,
        "settings": {"raised_limits": RAISED_LIMITS, "heartbeat_s": 20, "bcrypt_rounds": 4},
        "results": results,
        "rows": table.rows,
    }
    path = write_json(payload)
    say(f"results in {path}")
    missed = any(row["met"] is False for row in table.rows)
    return 1 if args.strict and missed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    try:
        return uvloop.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted: stopping the servers", flush=True)
        return 130
    finally:
        system.stop_all()


if __name__ == "__main__":
    sys.exit(main())
