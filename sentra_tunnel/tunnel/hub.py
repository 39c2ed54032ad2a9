"""The hub: one live tunnel per device, and the commands waiting on them.

`send` registers a command under a fresh id, hands the frame to the broker (which finds the
node holding the tunnel; in-process that is this hub's `deliver_local`) and waits. Which
tunnel carries which command is the hub's alone to know: a result is accepted only from the
tunnel the command went to, and a tunnel that closes fails everything it carried. Every exit
path — result, device error, timeout, disconnect, cancelled request — removes the command.
A revoked key is refused here before the database forgets it, so revocation fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
import uuid
from typing import Protocol

from .. import wire
from .broker import Broker, device_event
from .outcomes import (
    GONE,
    CommandFailed,
    DeviceOffline,
    DeviceRejected,
    DeviceTimeout,
    HubBusy,
    Reply,
)

__all__ = ["CommandFailed", "DeviceOffline", "DeviceRejected", "DeviceTimeout", "Hub", "HubBusy"]

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 5
PENDING_LIMIT = 10_000  # commands waiting for devices at once; more answer 503 busy at once
CARRIED_LIMIT = 256  # unanswered commands one tunnel may carry; the oldest are long timed out
CLOSED_MEMORY_S = 60


class Tunnel(Protocol):
    """What the hub needs of a tunnel (`connection.Connection`)."""

    device_id: int
    generation: int | None
    started: float  # when its key was checked
    finished: asyncio.Event
    device: object  # the device row as the tunnel knows it

    def send_command(self, frame: dict) -> bool: ...

    def close(self, code: int, reason: str) -> None: ...


class Hub:
    def __init__(self, broker: Broker, node_id: str | None = None):
        self.broker = broker
        self.node_id = node_id or secrets.token_hex(4)
        self.connections: dict[int, Tunnel] = {}
        self.pending: dict[str, asyncio.Future] = {}  # command id → its waiting request here
        self.dropped_results = 0
        # tunnel → {command id: the node waiting for it}, for every command it carries
        self._carried: dict[Tunnel, dict[str, str]] = {}
        # device id → when it was closed from outside (revoked, reprovisioned, deleted)
        self._closed_at: dict[int, float] = {}
        # key id → when the database forgot it (inf: not yet); no tunnel of these may serve
        self._dead_keys: dict[str, float] = {}
        self._background: set[asyncio.Task] = set()
        broker.bind(self)

    # Commands ------------------------------------------------------------------------------

    @staticmethod
    def new_command_id() -> str:
        return uuid.uuid4().hex

    async def send(
        self,
        device_id: int,
        name: str,
        params: dict,
        *,
        timeout: float,
        command_id: str = "",
        key_id: str | None = None,
    ) -> dict:
        """Send a command and return the device's result; raises a CommandFailed subclass.

        With `key_id` (the device's key as the database knows it now), only a tunnel opened
        with that key may carry the command: never one of a revoked or replaced key.
        """
        if len(self.pending) >= PENDING_LIMIT:
            raise HubBusy("Too many door commands are under way; try again shortly.")
        command_id = command_id or self.new_command_id()
        future = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        try:
            frame = wire.command(command_id, name, params)
            if not await self.broker.deliver(device_id, frame, key_id):
                raise DeviceOffline("The device is offline.")
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise DeviceTimeout("The device did not answer in time.") from None
        finally:
            self.pending.pop(command_id, None)
            self._uncarry(device_id, command_id)
        return reply.outcome()

    async def resolve(self, command_id: str, reply: Reply) -> None:
        """Complete a command waiting here; a reply nobody waits for any more is dropped."""
        future = self.pending.get(command_id)
        if future is None or future.done():
            self.count_dropped(command_id)
            return
        future.set_result(reply)

    async def answered(self, tunnel: Tunnel, frame: wire.ResultFrame) -> None:
        """A device's result: only the tunnel the command went to may answer it."""
        origin = self._carried.get(tunnel, {}).pop(frame.id, None)
        if origin is None:  # unknown, answered already, timed out, or another device's
            self.count_dropped(frame.id)
        elif origin == self.node_id:
            await self.resolve(frame.id, Reply.of(frame))
        else:
            await self.broker.reply(origin, frame.id, Reply.of(frame))

    def carried_by(self, tunnel: Tunnel) -> dict[str, str]:
        """The commands a tunnel carries now (command id → waiting node)."""
        return dict(self._carried.get(tunnel, {}))

    def count_dropped(self, command_id: str) -> None:
        self.dropped_results += 1
        log.info("dropped a result for unknown or answered command %s", command_id[:64])

    def _uncarry(self, device_id: int, command_id: str) -> None:
        tunnel = self.connections.get(device_id)
        if tunnel is not None:
            self._carried.get(tunnel, {}).pop(command_id, None)

    # Tunnels held by this process ------------------------------------------------------------

    def deliver_local(
        self, device_id: int, frame: dict, key_id: str | None = None, origin: str | None = None
    ) -> bool:
        tunnel = self.connections.get(device_id)
        if tunnel is None or (key_id is not None and tunnel.device.key_id != key_id):
            return False
        if tunnel.device.key_id in self._dead_keys:  # revoked, its close still on the way
            return False
        if not tunnel.send_command(frame):
            return False
        carried = self._carried.setdefault(tunnel, {})
        if len(carried) >= CARRIED_LIMIT:
            carried.pop(next(iter(carried)))
        carried[frame["id"]] = origin or self.node_id
        return True

    def close_local(self, device_id: int, code: int, reason: str) -> None:
        now = time.monotonic()
        self._closed_at = {d: t for d, t in self._closed_at.items() if now - t < CLOSED_MEMORY_S}
        self._closed_at[device_id] = now
        tunnel = self.connections.get(device_id)
        if tunnel is not None:
            tunnel.close(code, reason)

    def refuse_key(self, key_id: str) -> None:
        """From now on no tunnel of this key may start or carry a command, whatever the
        database still says: revocation holds even if the database write after it fails."""
        self._dead_keys[key_id] = math.inf

    def key_forgotten(self, key_id: str | None) -> None:
        """The database no longer knows this key; the refusal is kept a while for handshakes
        that read the key just before, then dropped."""
        now = time.monotonic()
        self._dead_keys = {k: t for k, t in self._dead_keys.items() if now - t < CLOSED_MEMORY_S}
        if key_id in self._dead_keys:
            self._dead_keys[key_id] = now

    def refuses_key(self, key_id: str | None) -> bool:
        return key_id in self._dead_keys

    def admits(self, tunnel: Tunnel) -> bool:
        """False, and the tunnel closed with 4001, if its key was refused or its device was
        closed from outside after the key was checked. Asked before the welcome and at attach."""
        closed_at = self._closed_at.get(tunnel.device_id, float("-inf"))
        if closed_at >= tunnel.started or self.refuses_key(tunnel.device.key_id):
            tunnel.close(wire.CLOSE_REVOKED, "key revoked")
            return False
        return True

    async def attach(self, tunnel: Tunnel) -> bool:
        """Make this the device's tunnel, closing an older one; False if a newer one exists or
        `admits` refuses it."""
        if not self.admits(tunnel):
            return False
        current = self.connections.get(tunnel.device_id)
        if current is not None and current.generation > tunnel.generation:
            tunnel.close(wire.CLOSE_REPLACED, "a newer connection exists")
            return False
        self.connections[tunnel.device_id] = tunnel
        if current is not None and current is not tunnel:
            current.close(wire.CLOSE_REPLACED, "replaced by a newer connection")
        await self.broker.claim(tunnel.device_id, self.node_id)
        return True

    async def detach(self, tunnel: Tunnel) -> None:
        """The tunnel is closing: whatever it carried fails at once, wherever it waits."""
        if self.connections.get(tunnel.device_id) is tunnel:
            del self.connections[tunnel.device_id]
            await self.broker.release(tunnel.device_id, self.node_id)
        for command_id, origin in self._carried.pop(tunnel, {}).items():
            if origin == self.node_id:
                await self.resolve(command_id, GONE)
            else:
                await self.broker.reply(origin, command_id, GONE)

    def is_connected(self, device_id: int) -> bool:
        return device_id in self.connections

    async def close_device(
        self, device_id: int, code: int, reason: str, key_id: str | None = None
    ) -> None:
        """Close the device's tunnel wherever it is held (revocation, deletion); with `key_id`,
        refuse that key first, so no handshake with it gets in while the database catches up."""
        if key_id:
            self.refuse_key(key_id)
        await self.broker.close_device(device_id, code, reason)

    # Events and housekeeping -----------------------------------------------------------------

    async def publish_device(self, device) -> None:
        await self.broker.publish(device_event(device))

    def spawn(self, coroutine) -> asyncio.Task:
        """Run work that must finish even if its caller is cancelled (cleanup, final audit)."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def drain(self, timeout: float = SHUTDOWN_WAIT_S) -> None:
        """Wait for background work (connection cleanup) to finish."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    async def shutdown(self) -> None:
        """Close every tunnel so devices are marked offline before the database closes."""
        tunnels = list(self.connections.values())
        for tunnel in tunnels:
            tunnel.close(wire.CLOSE_GOING_AWAY, "server shutting down")
        waiters = [asyncio.ensure_future(t.finished.wait()) for t in tunnels]
        if waiters:
            await asyncio.wait(waiters, timeout=SHUTDOWN_WAIT_S)
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(Exception):
            await self.drain()
