"""One device's conversation: hello and welcome, results and events, heartbeat and the frame
budget, and the cleanup that always runs to the end.

It speaks through a TunnelSocket (`socket.py`), which it is handed; commands waiting for
answers belong to the hub, presence to the PresenceWriter. The heartbeat is a timer on the
event loop rather than a sleeping task, so an idle tunnel costs no more than its socket.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from .. import wire
from ..db import is_busy
from ..door_schema import dump
from ..models import audit
from ..models.base import utcnow
from ..models.device import Device
from ..wire import FrameError
from .budget import FrameBudget, TunnelLimits
from .hub import Hub
from .presence import PresenceWriter
from .socket import TunnelSocket

log = logging.getLogger(__name__)

# A probe goes out every heartbeat, so a live device is heard from at least that often; silence
# for 1.5 beats closes it, well inside the promised 2 beats.
SILENCE_LIMIT_BEATS = 1.5
HELLO_LIMIT_BEATS = 2


class Connection:
    # A fleet keeps thousands open for days: no per-instance dict.
    __slots__ = (
        "id",
        "socket",
        "device",
        "device_id",
        "hub",
        "presence",
        "heartbeat_s",
        "budget",
        "ip",
        "on_ready",
        "on_flood",
        "generation",
        "finished",
        "started",
        "last_received",
        "_next_probe",
        "last_seen",
        "_probes",
        "_timer",
    )

    def __init__(
        self,
        socket: TunnelSocket,
        device: Device,
        hub: Hub,
        presence: PresenceWriter,
        limits: TunnelLimits,
        ip: str,
    ):
        self.id = secrets.token_hex(3)
        self.socket = socket
        self.device = device
        self.device_id = device.id
        self.hub = hub
        self.presence = presence
        self.heartbeat_s = limits.heartbeat_s
        self.budget = FrameBudget(limits.frame_rate, limits.frame_burst)
        self.ip = ip
        self.on_ready: Callable[[], None] = lambda: None  # called once the welcome is out
        self.on_flood: Callable[[], None] = lambda: None  # called before a flood closes it
        self.generation: int | None = None
        self.finished = asyncio.Event()
        self.started = self.last_received = self._next_probe = time.monotonic()
        self.last_seen = utcnow()
        self._probes = 0
        self._timer: asyncio.TimerHandle | None = None

    def _log(self, level: int, message: str, *args, **kwargs) -> None:
        log.log(level, f"[{self.id} device:{self.device_id}] {message}", *args, **kwargs)

    # Lifecycle -------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run the tunnel until it closes; returns after cleanup unless cancelled."""
        self._tick()
        try:
            await self.socket.run(self._on_frame)
        finally:
            self._timer.cancel()
            # Shielded: a peer that vanished cancels us, but presence must still be corrected.
            await asyncio.shield(self.hub.spawn(self._finish()))

    def close(self, code: int, reason: str) -> None:
        self.socket.close(code, reason)

    def send(self, frame: dict) -> bool:
        return self.socket.send(frame)

    def send_command(self, frame: dict) -> bool:
        """Hand the device a command; its answer will not count against the frame budget."""
        if self.generation is None or not self.socket.send(frame):
            return False
        self.budget.credit()
        return True

    async def _finish(self) -> None:
        try:
            await self.hub.detach(self)  # every command still waiting on us fails now
            # Offline before the close frame: whoever sees the close also sees the new presence.
            changed = self.generation is not None and await self.presence.disconnect(
                self.device_id, self.generation, self.last_seen
            )
            await self.socket.send_close()
            if self.generation is not None:
                await self._went_offline(changed)
        except Exception:
            self._log(logging.ERROR, "cleanup failed", exc_info=True)
        finally:
            await self.socket.send_close()
            self.finished.set()

    async def _went_offline(self, changed: bool) -> None:
        code, reason = self.socket.close_code, self.socket.close_reason
        self._log(logging.INFO, "closed (%s %s)", code, reason)
        await self._audit("device.disconnect", {"code": code, "reason": reason})
        if changed:  # otherwise a newer tunnel owns the row, and it says online
            self.device.online = False
            self.device.last_seen = self.last_seen
            await self.hub.publish_device(self.device)

    # Receiving -------------------------------------------------------------------------------

    async def _on_frame(self, raw: str | bytes) -> None:
        self.last_received = time.monotonic()
        self._seen_now()
        if self.budget.spend():
            await self._dispatch(raw)
        else:
            self._over_budget()

    def _over_budget(self) -> None:
        if self.budget.flooding:
            self.on_flood()  # before the close frame: a quick reconnect must meet the cool-down
            self.close(wire.CLOSE_POLICY, "frame budget exceeded")
        elif self.budget.dropped == 1:
            self._log(logging.WARNING, "over its frame budget; dropping frames")
            self.send(wire.error(wire.RATE_LIMITED, "Too many frames; slow down."))

    def _seen_now(self) -> None:
        now = utcnow()  # whole seconds: noted at most once a second, stored behind
        if now != self.last_seen:
            self.last_seen = self.device.last_seen = now
            if self.generation is not None:
                self.presence.note(self.device_id, last_seen=now)

    async def _dispatch(self, raw) -> None:
        try:
            frame = wire.parse_frame(raw)
            if self.generation is None and not isinstance(frame, wire.HelloFrame):
                raise FrameError(wire.INVALID_FORMAT, "Send hello first.")
            await HANDLERS[type(frame)](self, frame)
        except Exception as exc:
            if self.generation is None and is_busy(exc):
                # Not welcomed yet: a clean "come back later" beats a half-open tunnel.
                self.close(wire.CLOSE_TRY_LATER, "server busy")
                return
            self.send(wire.error(*self._error_for(exc)))

    def _error_for(self, exc: Exception) -> tuple[str, str]:
        """The one place a failure while handling a frame becomes an error code."""
        if isinstance(exc, FrameError):
            self._log(logging.INFO, "bad frame: %s", exc.message)
            return exc.code, exc.message
        self._log(logging.ERROR, "failed to handle a frame", exc_info=exc)
        return wire.INTERNAL_ERROR, "The server could not handle this frame."

    async def _on_hello(self, hello: wire.HelloFrame) -> None:
        if self.generation is not None:
            raise FrameError(wire.INVALID_FORMAT, "hello was already received.")
        state = dump(hello.state)
        generation = await self.presence.connect(
            self.device_id, self.device.key_id, hello.agent_version, state
        )
        if generation is None:
            self.close(wire.CLOSE_REVOKED, "key revoked")
            return
        self.generation = generation  # set even if refused below: cleanup marks it offline
        if not self.hub.admits(self):  # revoked while the key was being checked: no welcome
            return
        self.device.online, self.device.last_seen = True, utcnow()
        self.device.agent_version, self.device.state = hello.agent_version, state
        # Welcome goes first: no command may reach the device before it.
        self.send(wire.welcome(self.device_id, self.heartbeat_s))
        self.on_ready()  # the handshake is done; what follows is bounded by the writers' queues
        if not await self.hub.attach(self):
            return
        self._log(logging.INFO, "online (generation %s, agent %s)", generation, hello.agent_version)
        await self._audit("device.connect", {"agent_version": hello.agent_version})
        await self.hub.publish_device(self.device)

    async def _on_result(self, frame: wire.ResultFrame) -> None:
        if not frame.id.startswith(wire.PROBE_PREFIX):  # a probe's answer: hearing it was all
            await self.hub.answered(self, frame)

    async def _on_event(self, frame: wire.EventFrame) -> None:
        state = dump(wire.parse_state(frame))
        if state != self.device.state:
            self.device.state = state
            self.presence.note(self.device_id, state=state)
        await self.hub.publish_device(self.device)

    # Heartbeat -------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Probe every heartbeat; close a device that stays silent, or never says hello."""
        beat, now = self.heartbeat_s, time.monotonic()
        deadline = self.last_received + SILENCE_LIMIT_BEATS * beat
        if now >= deadline:
            self.close(wire.CLOSE_POLICY, "heartbeat missed")
            return
        if self.generation is None and now - self.started > HELLO_LIMIT_BEATS * beat:
            self.close(wire.CLOSE_POLICY, "no hello")
            return
        if now >= self._next_probe + beat and self.generation is not None:
            self._probe()
            self._next_probe = now
        wake = min(deadline, self._next_probe + beat) - now
        self._timer = asyncio.get_running_loop().call_later(max(0.01, wake), self._tick)

    def _probe(self) -> None:
        # `status` is the cheapest command every agent must answer; any frame proves it alive.
        self._probes += 1
        self.send_command(wire.command(f"{wire.PROBE_PREFIX}{self._probes}", "status", {}))

    async def _audit(self, action: str, details: dict) -> None:
        await audit.record(
            action,
            actor=f"device:{self.device_id}",
            target=f"device:{self.device_id}",
            tenant_id=self.device.tenant_id,
            ip=self.ip,
            details={**details, "generation": self.generation, "connection": self.id},
        )


HANDLERS: dict[type, Callable[[Connection, object], Awaitable[None]]] = {
    wire.HelloFrame: Connection._on_hello,
    wire.ResultFrame: Connection._on_result,
    wire.EventFrame: Connection._on_event,
}
