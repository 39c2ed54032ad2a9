"""`sentra-agent`: loads the config, builds the door, and runs the tunnel until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from sentra_tunnel.agent import AGENT_VERSION
from sentra_tunnel.agent.config import (
    AgentConfig,
    ConfigError,
    GpioSettings,
    load_config,
    path_for_read,
    save_config,
)
from sentra_tunnel.agent.controller import DoorController, Override
from sentra_tunnel.agent.door import Door, GpioDoor, SimDoor
from sentra_tunnel.agent.net import INSECURE_WARNING, InsecureURLError, check_url, ssl_context
from sentra_tunnel.agent.tunnel import EXIT_OK, TunnelClient
from sentra_tunnel.door_schema import DoorConfig

log = logging.getLogger("sentra.agent")
EXIT_CONFIG = 2


class ConfigStore:
    """Saves door config and override changes back into the agent's config file."""

    def __init__(self, path: Path, config: AgentConfig) -> None:
        self.path = path
        self.config = config

    def __call__(self, door: DoorConfig, override: Override | None) -> None:
        updated = self.config.model_copy(update={"door": door, "override": override})
        save_config(self.path, updated)
        self.config = updated


def make_door(kind: str, gpio: GpioSettings) -> Door:
    if kind == "sim":
        log.warning("door backend: sim (no hardware is switched; SIGUSR1/SIGUSR2 open/close it)")
        return _signal_controlled(SimDoor())
    return GpioDoor(
        gpio.relay_pin,
        gpio.contact_pin,
        relay_active_high=gpio.relay_active_high,
        contact_closed_when_low=gpio.contact_closed_when_low,
        bounce_s=gpio.bounce_s,
    )


def _signal_controlled(door: SimDoor) -> SimDoor:
    """Let demos and tests open and close the simulated door contact: kill -USR1 / -USR2."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, door.set_contact, True)
    loop.add_signal_handler(signal.SIGUSR2, door.set_contact, False)
    return door


async def run(
    config: AgentConfig, config_path: Path, door_kind: str, stop: asyncio.Event | None = None
) -> int:
    """Run door and tunnel until `stop` (set by SIGTERM/SIGINT); returns an exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        door = make_door(door_kind, config.gpio)
    except Exception as exc:  # gpiozero raises assorted errors off a Pi or on a busy pin
        log.error("cannot open the door hardware: %s", exc)
        return EXIT_CONFIG
    store = ConfigStore(config_path, config)
    controller = DoorController(door, config.door, override=config.override, store=store)
    controller.start()
    try:
        return await TunnelClient(config, controller).run(stop)
    finally:
        controller.stop()
        door.close()  # fail secure: the relay drops, the strike locks
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sentra-agent", description=__doc__)
    parser.add_argument("--config", type=Path, help="config file written by sentra-register")
    parser.add_argument(
        "--door", choices=("sim", "gpio"), default="sim", help="door backend (default: sim)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    path = args.config or path_for_read()
    try:
        config = load_config(path)
        check_url(config.ws_url, insecure=config.insecure)
    except (ConfigError, InsecureURLError) as exc:
        print(f"sentra-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:  # a bad CA file is a setup error, not something a reconnect would fix
        ssl_context(config.ca_file, insecure=config.insecure)
    except OSError as exc:
        print(f"sentra-agent: cannot use CA file {config.ca_file}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if config.insecure:
        log.warning(INSECURE_WARNING)
    log.info("sentra-agent %s, device %s, config %s", AGENT_VERSION, config.device_id, path)
    code = asyncio.run(run(config, path, args.door))
    if code != EXIT_OK:
        print(f"sentra-agent: stopped with exit code {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
