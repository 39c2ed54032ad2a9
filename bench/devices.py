"""Fake door controllers: hello, welcome, answer every command at once, reconnect with jitter.

A `Fleet` runs many of them and keeps the counts the scenarios report: connection attempts that
failed (by kind), tunnels that closed after their welcome (by close code), and how many are
online now, overall and since the last `new_epoch()` (a server restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .provision import DeviceKey

STATE = {"door": "closed", "lock": "locked", "mode": "auto", "override_until": None}
OPEN_TIMEOUT_S = 10
WELCOME_TIMEOUT_S = 10
CLOSE_TIMEOUT_S = 2
MAX_RETRY_AFTER_S = 60


class Backoff:
    """Full jitter, as the real agent does: uniform below a ceiling that doubles (1 s → 60 s)."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0):
        self.initial, self.maximum, self.attempt = initial, maximum, 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return random.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class Refused(Exception):
    """An attempt that did not end in a welcome: its kind, and what the server asked for."""

    def __init__(self, kind: str, retry_after: float = 0.0, fatal: bool = False):
        super().__init__(kind)
        self.kind, self.retry_after, self.fatal = kind, retry_after, fatal


def _refusal(error: Exception) -> Refused:
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        try:
            retry_after = float(error.response.headers.get("Retry-After", "0"))
        except ValueError:
            retry_after = 0.0
        retry_after = min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        return Refused(f"http {status}", retry_after, fatal=status == 401)
    if isinstance(error, TimeoutError):
        return Refused("handshake timeout")
    if isinstance(error, ConnectionRefusedError):
        return Refused("connection refused")
    if isinstance(error, OSError):
        return Refused(f"socket error {type(error).__name__}")
    if isinstance(error, InvalidHandshake):
        return Refused(f"handshake error {type(error).__name__}")
    return Refused(f"{type(error).__name__}")


def _parse(raw) -> dict:
    try:
        frame = json.loads(raw)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


def result_for(frame: dict) -> dict:
    result = dict(STATE)
    if frame.get("name") == "open":
        result["opened"] = True
    return {"type": "result", "id": frame.get("id", ""), "success": True, "result": result}


class FakeDevice:
    def __init__(self, key: DeviceKey, fleet: Fleet):
        self.key, self.fleet = key, fleet
        self.ws = None
        self.online = False
        self.epoch = -1
        self.welcomed_at = 0.0
        self.received: Counter = Counter()  # error frames by code, other frames by type
        self.last_close: tuple[int | None, str] | None = None

    async def run(self, gate: asyncio.Semaphore | None) -> None:
        """Stay connected until cancelled; each failed attempt is counted, then backed off."""
        backoff = Backoff()
        while True:
            try:
                async with gate or contextlib.nullcontext():
                    await self._connect()
            except Refused as refused:
                self.fleet.failures[refused.kind] += 1
                if refused.fatal:
                    return
                delay = backoff.next_delay()
                if refused.retry_after:  # at least what the server asked, never in lockstep
                    delay = max(delay, refused.retry_after + random.random())
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            await self._serve()
            if not self.fleet.reconnect:
                return
            await asyncio.sleep(backoff.next_delay())

    async def _connect(self) -> None:
        try:
            self.ws = await connect(
                self.fleet.url,
                additional_headers={"Authorization": f"Bearer {self.key.api_key}"},
                compression=None,
                proxy=None,
                open_timeout=OPEN_TIMEOUT_S,
                ping_interval=None,  # the server pings; the library answers
                close_timeout=CLOSE_TIMEOUT_S,
                user_agent_header=None,
            )
        except Exception as error:
            raise _refusal(error) from None
        try:
            hello = {"type": "hello", "agent_version": "bench", "state": STATE}
            await self.ws.send(json.dumps(hello))
            await asyncio.wait_for(self._await_welcome(), WELCOME_TIMEOUT_S)
        except TimeoutError:
            await self.close()
            raise Refused("welcome timeout") from None
        except ConnectionClosed:
            raise Refused(f"closed before welcome {self.ws.close_code}") from None
        self.online, self.welcomed_at = True, time.monotonic()
        self.fleet.note_online(self)

    async def _await_welcome(self) -> None:
        while True:
            raw = await self.ws.recv()
            if _parse(raw).get("type") == "welcome":
                return
            await self._handle(raw)

    async def _serve(self) -> None:
        try:
            async for raw in self.ws:
                await self._handle(raw)
        except ConnectionClosed:
            pass
        finally:
            self.last_close = (self.ws.close_code, self.ws.close_reason or "")
            self.fleet.closes[str(self.ws.close_code)] += 1
            if self.online:
                self.online = False
                self.fleet.note_offline(self)

    async def _handle(self, raw) -> None:
        frame = _parse(raw)
        kind = frame.get("type", "unparsable")
        if kind == "command":
            await self.ws.send(json.dumps(result_for(frame)))
        elif kind == "error":
            self.received[(frame.get("error") or {}).get("code", "error")] += 1
        else:
            self.received[str(kind)] += 1

    async def send_event(self, state: dict) -> None:
        await self.ws.send(json.dumps({"type": "event", "event": "state", "data": state}))

    async def flood(self, frames: int) -> dict:
        """Send `frames` state events as fast as the socket takes them; stop if it closes."""
        sent, began = 0, time.perf_counter()
        doors = ("open", "closed")
        try:
            for i in range(frames):
                await self.send_event({**STATE, "door": doors[i % 2]})
                sent += 1
        except (ConnectionClosed, AttributeError):
            pass
        return {"frames": frames, "sent": sent, "seconds": time.perf_counter() - began}

    async def close(self, graceful: bool = True) -> None:
        if self.ws is None:
            return
        with contextlib.suppress(Exception):
            if graceful:
                await asyncio.wait_for(self.ws.close(), CLOSE_TIMEOUT_S)
            else:
                self.ws.transport.abort()


class Fleet:
    """Many fake devices against one server URL."""

    def __init__(self, url: str, reconnect: bool = True):
        self.url, self.reconnect = url, reconnect
        self.devices: list[FakeDevice] = []
        self.tasks: dict[FakeDevice, asyncio.Task] = {}
        self.failures: Counter = Counter()
        self.closes: Counter = Counter()
        self.epoch = 0
        self.online = 0
        self.online_in_epoch = 0
        self.running = 0

    def start(self, keys: list[DeviceKey], gate: asyncio.Semaphore | None = None) -> None:
        for key in keys:
            device = FakeDevice(key, self)
            self.devices.append(device)
            self.running += 1  # counted now: `wait` must not see an empty fleet before it runs
            self.tasks[device] = asyncio.ensure_future(self._keep(device, gate))

    async def _keep(self, device: FakeDevice, gate: asyncio.Semaphore | None) -> None:
        try:
            await device.run(gate)
        finally:
            self.running -= 1

    def note_online(self, device: FakeDevice) -> None:
        device.epoch = self.epoch
        self.online += 1
        self.online_in_epoch += 1

    def note_offline(self, device: FakeDevice) -> None:
        self.online -= 1
        if device.epoch == self.epoch:
            self.online_in_epoch -= 1

    def new_epoch(self) -> None:
        """From now on count only welcomes that happen after this moment (a restart)."""
        self.epoch += 1
        self.online_in_epoch = 0

    async def wait(self, count: int, timeout: float, in_epoch: bool = False) -> bool:
        deadline = time.monotonic() + timeout
        while (self.online_in_epoch if in_epoch else self.online) < count:
            if time.monotonic() >= deadline or not self.running:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self, devices: list[FakeDevice] | None = None, graceful: bool = True) -> None:
        """Cancel and close these devices (all by default), bounded in time."""
        chosen = list(self.tasks) if devices is None else devices
        for device in chosen:
            self.tasks.pop(device).cancel()
        closing = (device.close(graceful) for device in chosen)
        await asyncio.gather(*closing, return_exceptions=True)
        gone = set(chosen)
        self.devices = [device for device in self.devices if device not in gone]
        for device in chosen:
            if device.online:
                device.online = False
                self.note_offline(device)
