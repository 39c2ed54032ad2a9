"""The real `sentra-agent --door sim`, plus a hook for tests: SIGUSR1 opens the simulated door
contact, SIGUSR2 closes it. (The agent has no outside control of its sim door of its own.)"""

from __future__ import annotations

import asyncio
import signal
import sys

from sentra_tunnel.agent import agent


def _make_door_with_hook(make_door):
    def make(kind, gpio):
        door = make_door(kind, gpio)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, door.set_contact, True)
        loop.add_signal_handler(signal.SIGUSR2, door.set_contact, False)
        return door

    return make


if __name__ == "__main__":
    agent.make_door = _make_door_with_hook(agent.make_door)
    sys.exit(agent.main(sys.argv[1:]))
