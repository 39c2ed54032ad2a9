"""One device's tunnel: read and dispatch frames, a bounded outbox, heartbeat and presence.

Three tasks per tunnel: the reader dispatches frames, the writer drains the outbox, the
watchdog probes the device and closes it when it goes quiet. Any of them ending, or `close()`
from elsewhere (replacement, revocation), ends the tunnel; cleanup then always runs to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..db import is_busy
from ..door_schema import dump
from ..models import audit
from ..models.base import utcnow
from ..models.device import Device
from . import protocol
from .hub import GONE, Hub, Reply
from .presence import PresenceWriter
from .protocol import FrameError

log = logging.getLogger(__name__)

OUTBOX_SIZE = 64
IN_FLIGHT_LIMIT = 256
# A probe goes out every heartbeat, so a live device is heard from at least that often; silence
# for 1.5 beats closes it, well inside the promised 2 beats.
SILENCE_LIMIT_BEATS = 1.5
HELLO_LIMIT_BEATS = 2
PROBE_PREFIX = "hb-"


@dataclass(frozen=True)
class TunnelLimits:
    heartbeat_s: int
    frame_rate: float  # frames per second a device may send on average...
    frame_burst: int  # ...and at once

    @classmethod
    def of(cls, settings) -> TunnelLimits:
        return cls(settings.heartbeat_s, settings.device_frame_rate, settings.device_frame_burst)


class FrameBudget:
    """A token bucket per tunnel. Past it frames are dropped (the first with an error frame);
    a device that drops another whole burst's worth before it goes quiet is flooding."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.refilled = time.monotonic()
        self.dropped = 0

    def spend(self) -> bool:
        now = time.monotonic()
        if self.tokens < self.burst:
            self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            if self.tokens >= self.burst - 1:
                self.dropped = 0  # quiet long enough to fill the bucket: a fresh start
            return True
        self.dropped += 1
        return False

    def credit(self) -> None:
        """We asked the device something: its answer must never count against it."""
        self.tokens = min(self.tokens + 1, self.burst + IN_FLIGHT_LIMIT)

    @property
    def flooding(self) -> bool:
        return self.dropped > self.burst


class Connection:
    def __init__(
        self, ws, device: Device, hub: Hub, presence: PresenceWriter, limits: TunnelLimits, ip: str
    ):
        self.id = secrets.token_hex(3)
        self.ws = ws
        self.device = device
        self.device_id = device.id
        self.hub = hub
        self.presence = presence
        self.heartbeat_s = limits.heartbeat_s
        self.budget = FrameBudget(limits.frame_rate, limits.frame_burst)
        self.on_ready: Callable[[], None] = lambda: None  # called once the welcome is out
        self.on_flood: Callable[[], None] = lambda: None  # called before a flood closes it
        self.ip = ip
        self.generation: int | None = None
        self.outbox: asyncio.Queue[dict] = asyncio.Queue(OUTBOX_SIZE)
        self.in_flight: dict[str, str | None] = {}  # command id → origin node
        self.finished = asyncio.Event()
        self.started = self.last_received = time.monotonic()
        self.last_seen = utcnow()
        self._probes = 0
        self._closing = asyncio.Event()
        self._socket_closed = False
        self.close_code, self.close_reason = protocol.CLOSE_NORMAL, ""
        self._handlers: dict[type, Callable[..., Awaitable[None]]] = {
            protocol.HelloFrame: self._on_hello,
            protocol.ResultFrame: self._on_result,
            protocol.EventFrame: self._on_event,
        }

    def _log(self, level: int, message: str, *args, **kwargs) -> None:
        log.log(level, f"[{self.id} device:{self.device_id}] {message}", *args, **kwargs)

    # Lifecycle -------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run the tunnel until it closes; returns after cleanup unless cancelled."""
        tasks = {
            asyncio.ensure_future(self._read_loop()),
            asyncio.ensure_future(self._write_loop()),
            asyncio.ensure_future(self._watchdog()),
        }
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            done, _ = await asyncio.wait({*tasks, closing}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {closing}:
                if task.exception() is not None:
                    self._log(logging.ERROR, "tunnel task failed", exc_info=task.exception())
                    self.close(protocol.CLOSE_POLICY, "server error")
        finally:
            self.close(protocol.CLOSE_NORMAL, "device disconnected")  # no-op if already closing
            for task in (*tasks, closing):
                task.cancel()
            # Shielded: a peer that vanished cancels us, but presence must still be corrected.
            await asyncio.shield(self.hub.spawn(self._finish(tasks)))

    def close(self, code: int, reason: str) -> None:
        """Ask the tunnel to close with this code; the first request wins."""
        if not self._closing.is_set():
            self.close_code, self.close_reason = code, reason
            self._closing.set()

    async def _finish(self, tasks) -> None:
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.hub.detach(self)
            for command_id, origin in list(self.in_flight.items()):
                await self.hub.resolve(command_id, GONE, origin)
            self.in_flight.clear()
            # Offline before the close frame: whoever sees the close also sees the new presence.
            changed = self.generation is not None and await self.presence.disconnect(
                self.device_id, self.generation, self.last_seen
            )
            await self._close_socket()
            if self.generation is not None:
                await self._went_offline(changed)
        except Exception:
            self._log(logging.ERROR, "cleanup failed", exc_info=True)
        finally:
            await self._close_socket()
            self.finished.set()

    async def _close_socket(self) -> None:
        if not self._socket_closed:
            self._socket_closed = True
            with contextlib.suppress(Exception):  # the peer may be gone already
                await self.ws.close(self.close_code, self.close_reason)

    async def _went_offline(self, changed: bool) -> None:
        self._log(logging.INFO, "closed (%s %s)", self.close_code, self.close_reason)
        await self._audit(
            "device.disconnect", {"code": self.close_code, "reason": self.close_reason}
        )
        if changed:  # otherwise a newer tunnel owns the row, and it says online
            self.device.online = False
            self.device.last_seen = self.last_seen
            await self.hub.publish_device(self.device)

    # Sending ---------------------------------------------------------------------------------

    def send(self, frame: dict) -> bool:
        """Queue a frame; a device that does not read fast enough is closed, not buffered."""
        if self._closing.is_set():
            return False
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(protocol.CLOSE_TRY_LATER, "too slow to read")
            return False
        return True

    def send_command(self, frame: dict, origin: str | None) -> bool:
        if self.generation is None or not self.send(frame):
            return False
        if len(self.in_flight) >= IN_FLIGHT_LIMIT:  # only unanswered, long timed-out ids remain
            self.in_flight.pop(next(iter(self.in_flight)))
        self.in_flight[frame["id"]] = origin
        self.budget.credit()
        return True

    async def _write_loop(self) -> None:
        while True:
            frame = await self.outbox.get()
            await self.ws.send(protocol.encode(frame))

    # Receiving -------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            raw = await self.ws.receive()
            # Hypercorn enforces this itself; the check keeps other servers and tests honest.
            if protocol.frame_size(raw) > protocol.MAX_FRAME_BYTES:
                self.close(protocol.CLOSE_TOO_BIG, "frame over 64 KiB")
                return
            self.last_received = time.monotonic()
            self._seen_now()
            if self.budget.spend():
                await self._dispatch(raw)
            elif not self._over_budget():
                return

    def _over_budget(self) -> bool:
        """Drop the frame; False once the device is flooding and has been told to go."""
        if self.budget.flooding:
            self.on_flood()  # before the close frame: a quick reconnect must meet the cool-down
            self.close(protocol.CLOSE_POLICY, "frame budget exceeded")
            return False
        if self.budget.dropped == 1:
            self._log(logging.WARNING, "over its frame budget; dropping frames")
            self.send(protocol.error(protocol.RATE_LIMITED, "Too many frames; slow down."))
        return True

    def _seen_now(self) -> None:
        now = utcnow()  # whole seconds: noted at most once a second, stored behind
        if now != self.last_seen:
            self.last_seen = self.device.last_seen = now
            if self.generation is not None:
                self.presence.note(self.device_id, last_seen=now)

    async def _dispatch(self, raw) -> None:
        try:
            frame = protocol.parse_frame(raw)
            if self.generation is None and not isinstance(frame, protocol.HelloFrame):
                raise FrameError(protocol.INVALID_FORMAT, "Send hello first.")
            await self._handlers[type(frame)](frame)
        except Exception as exc:
            if self.generation is None and is_busy(exc):
                # Not welcomed yet: a clean "come back later" beats a half-open tunnel.
                self.close(protocol.CLOSE_TRY_LATER, "server busy")
                return
            self.send(protocol.error(*self._error_for(exc)))

    def _error_for(self, exc: Exception) -> tuple[str, str]:
        """The one place a failure while handling a frame becomes an error code."""
        if isinstance(exc, FrameError):
            self._log(logging.INFO, "bad frame: %s", exc.message)
            return exc.code, exc.message
        self._log(logging.ERROR, "failed to handle a frame", exc_info=exc)
        return protocol.INTERNAL_ERROR, "The server could not handle this frame."

    async def _on_hello(self, hello: protocol.HelloFrame) -> None:
        if self.generation is not None:
            raise FrameError(protocol.INVALID_FORMAT, "hello was already received.")
        state = dump(hello.state)
        generation = await self.presence.connect(
            self.device_id, self.device.key_id, hello.agent_version, state
        )
        if generation is None:
            self.close(protocol.CLOSE_REVOKED, "key revoked")
            return
        self.generation = generation
        self.device.online, self.device.last_seen = True, utcnow()
        self.device.agent_version, self.device.state = hello.agent_version, state
        # Welcome goes first: no command may reach the device before it.
        self.send(protocol.welcome(self.device_id, self.heartbeat_s))
        self.on_ready()  # the handshake is done; what follows is bounded by the writers' queues
        if not await self.hub.attach(self):
            return
        self._log(logging.INFO, "online (generation %s, agent %s)", generation, hello.agent_version)
        await self._audit("device.connect", {"agent_version": hello.agent_version})
        await self.hub.publish_device(self.device)

    async def _on_result(self, frame: protocol.ResultFrame) -> None:
        if frame.id.startswith(PROBE_PREFIX):
            return  # a heartbeat answer: hearing it was the point
        if frame.id not in self.in_flight:  # unknown, answered already, or timed out
            self.hub.count_dropped(frame.id)
            return
        origin = self.in_flight.pop(frame.id)
        error = frame.error.model_dump() if frame.error else None
        reply = Reply(success=frame.success, result=frame.result or {}, error=error)
        await self.hub.resolve(frame.id, reply, origin)

    async def _on_event(self, frame: protocol.EventFrame) -> None:
        state = dump(protocol.parse_state(frame))
        if state != self.device.state:
            self.device.state = state
            self.presence.note(self.device_id, state=state)
        await self.hub.publish_device(self.device)

    # Heartbeat -------------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        """Probe every heartbeat; close a device that stays silent, or never says hello."""
        beat = self.heartbeat_s
        next_probe = time.monotonic() + beat
        while True:
            now = time.monotonic()
            deadline = self.last_received + SILENCE_LIMIT_BEATS * beat
            if now >= deadline:
                self.close(protocol.CLOSE_POLICY, "heartbeat missed")
                return
            if self.generation is None and now - self.started > HELLO_LIMIT_BEATS * beat:
                self.close(protocol.CLOSE_POLICY, "no hello")
                return
            if now >= next_probe and self.generation is not None:
                self._probe()
                next_probe = now + beat
            await asyncio.sleep(max(0.01, min(deadline, next_probe) - time.monotonic()))

    def _probe(self) -> None:
        # `status` is the cheapest command every agent must answer; any frame proves it alive.
        self._probes += 1
        if self.send(protocol.command(f"{PROBE_PREFIX}{self._probes}", "status", {})):
            self.budget.credit()

    async def _audit(self, action: str, details: dict) -> None:
        await audit.record(
            action,
            actor=f"device:{self.device_id}",
            target=f"device:{self.device_id}",
            tenant_id=self.device.tenant_id,
            ip=self.ip,
            details={**details, "generation": self.generation, "connection": self.id},
        )
