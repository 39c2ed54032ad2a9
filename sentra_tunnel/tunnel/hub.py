"""The hub: one live tunnel per device, and commands sent through them to waiting requests.

`send` registers a future under a fresh command id, hands the frame to the broker (which finds
the node holding the tunnel; in-process that is this hub's `deliver_local`) and waits. Every
exit path — result, device error, timeout, disconnect, cancelled request — removes the future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import protocol
from .broker import device_event

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 5
PENDING_LIMIT = 10_000  # commands waiting for devices at once; more answer 503 busy at once
CLOSED_MEMORY_S = 60


class CommandFailed(Exception):
    """A command did not produce a result; subclasses say why."""


class DeviceOffline(CommandFailed):
    pass


class DeviceTimeout(CommandFailed):
    pass


class HubBusy(CommandFailed):
    """Too many commands are waiting for devices already."""


class DeviceRejected(CommandFailed):
    """The device answered with `success: false`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Reply:
    """What came back for a command: a result, the device's error, or `gone` (tunnel closed)."""

    success: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    gone: bool = False


GONE = Reply(success=False, gone=True)


class Hub:
    def __init__(self, broker, node_id: str | None = None):
        self.broker = broker
        self.node_id = node_id or secrets.token_hex(4)
        self.connections: dict[int, Connection] = {}
        self.pending: dict[str, asyncio.Future] = {}
        self.dropped_results = 0
        # device id → when it was closed from outside (revoked, reprovisioned, deleted)
        self._closed_at: dict[int, float] = {}
        self._background: set[asyncio.Task] = set()
        broker.bind(self)

    # Commands ------------------------------------------------------------------------------

    @staticmethod
    def new_command_id() -> str:
        return uuid.uuid4().hex

    async def send(
        self, device_id: int, name: str, params: dict, *, timeout: float, command_id: str = ""
    ) -> dict:
        """Send a command and return the device's result; raises a CommandFailed subclass."""
        if len(self.pending) >= PENDING_LIMIT:
            raise HubBusy("Too many door commands are under way; try again shortly.")
        command_id = command_id or self.new_command_id()
        future = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        try:
            frame = protocol.command(command_id, name, params)
            if not await self.broker.deliver(device_id, frame):
                raise DeviceOffline("The device is offline.")
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise DeviceTimeout("The device did not answer in time.") from None
        finally:
            self.pending.pop(command_id, None)
            self._forget(device_id, command_id)
        if reply.gone:
            raise DeviceOffline("The device disconnected before answering.")
        if not reply.success:
            raise DeviceRejected(reply.error["code"], reply.error["message"])
        return reply.result

    async def resolve(self, command_id: str, reply: Reply, origin: str | None = None) -> None:
        """Complete a command; a reply nobody waits for any more is dropped and counted."""
        if origin not in (None, self.node_id):
            await self.broker.reply(origin, command_id, reply)
            return
        future = self.pending.get(command_id)
        if future is None or future.done():
            self.count_dropped(command_id)
            return
        future.set_result(reply)

    def count_dropped(self, command_id: str) -> None:
        self.dropped_results += 1
        log.info("dropped a result for unknown or answered command %s", command_id[:64])

    def _forget(self, device_id: int, command_id: str) -> None:
        connection = self.connections.get(device_id)
        if connection is not None:
            connection.in_flight.pop(command_id, None)

    # Tunnels held by this process ------------------------------------------------------------

    def deliver_local(self, device_id: int, frame: dict, origin: str | None = None) -> bool:
        connection = self.connections.get(device_id)
        return connection is not None and connection.send_command(frame, origin)

    def close_local(self, device_id: int, code: int, reason: str) -> None:
        now = time.monotonic()
        self._closed_at = {d: t for d, t in self._closed_at.items() if now - t < CLOSED_MEMORY_S}
        self._closed_at[device_id] = now
        connection = self.connections.get(device_id)
        if connection is not None:
            connection.close(code, reason)

    async def attach(self, connection: Connection) -> bool:
        """Make this the device's tunnel, closing an older one; False if a newer one exists or
        the device was closed from outside after this tunnel's key was checked."""
        if self._closed_at.get(connection.device_id, float("-inf")) >= connection.started:
            connection.close(protocol.CLOSE_REVOKED, "key revoked")
            return False
        current = self.connections.get(connection.device_id)
        if current is not None and current.generation > connection.generation:
            connection.close(protocol.CLOSE_REPLACED, "a newer connection exists")
            return False
        self.connections[connection.device_id] = connection
        if current is not None and current is not connection:
            current.close(protocol.CLOSE_REPLACED, "replaced by a newer connection")
        await self.broker.claim(connection.device_id, self.node_id)
        return True

    async def detach(self, connection: Connection) -> None:
        if self.connections.get(connection.device_id) is connection:
            del self.connections[connection.device_id]
            await self.broker.release(connection.device_id, self.node_id)

    def held_device(self, device_id: int):
        """The row of a device whose tunnel this process holds, or None."""
        connection = self.connections.get(device_id)
        return connection.device if connection is not None else None

    def is_connected(self, device_id: int) -> bool:
        return device_id in self.connections

    async def close_device(self, device_id: int, code: int, reason: str) -> None:
        """Close the device's tunnel wherever it is held (revocation, deletion)."""
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
        connections = list(self.connections.values())
        for connection in connections:
            connection.close(protocol.CLOSE_GOING_AWAY, "server shutting down")
        waiters = [asyncio.ensure_future(c.finished.wait()) for c in connections]
        if waiters:
            await asyncio.wait(waiters, timeout=SHUTDOWN_WAIT_S)
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(Exception):
            await self.drain()
