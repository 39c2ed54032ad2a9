"""The agent's tunnel client: connect, hello/welcome, answer commands, push state, reconnect.

The door logic lives in the controller and keeps running while the tunnel is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from sentra_tunnel import wire
from sentra_tunnel.agent import AGENT_VERSION
from sentra_tunnel.agent.config import AgentConfig
from sentra_tunnel.agent.controller import CommandError, DoorController
from sentra_tunnel.agent.net import ssl_context
from sentra_tunnel.door_schema import dump

log = logging.getLogger("sentra.agent")

EXIT_OK, EXIT_KEY_REJECTED = 0, 3
WELCOME_TIMEOUT_S = 10
MAX_RETRY_AFTER_S = 600  # a wrong header must not park a door for hours


class KeyRejected(Exception):
    """The server refused or revoked our API key: retrying cannot help, re-registering can."""


class ProtocolError(Exception):
    """The server did not follow the tunnel protocol during the handshake."""


class RetryLater(Exception):
    """The server is busy or limits us (503/429): wait at least `seconds` before trying again."""

    def __init__(self, status: int, seconds: float):
        super().__init__(f"the server asked us to retry in {seconds:g} s (HTTP {status})")
        self.seconds = seconds


class Backoff:
    """Exponential backoff with full jitter: a random wait below a ceiling that starts at
    `initial` and doubles up to `maximum`; reset on success."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0) -> None:
        self.initial, self.maximum = initial, maximum
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        # Anywhere below the ceiling: a fleet of Pis after a server restart spreads out instead
        # of coming back in waves.
        return random.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class TunnelClient:
    """One device's tunnel client: connect, hello/welcome, serve commands, report state."""

    def __init__(
        self, config: AgentConfig, controller: DoorController, *, backoff: Backoff | None = None
    ) -> None:
        self.config = config
        self.controller = controller
        self.backoff = backoff or Backoff()
        self._state_dirty = asyncio.Event()
        self._send_lock = asyncio.Lock()
        controller.on_state(lambda _state: self._state_dirty.set())

    async def run(self, stop: asyncio.Event) -> int:
        """Stay connected until `stop` is set; returns an exit code."""
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                session = asyncio.create_task(self._session())
                await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    session.cancel()
                    await asyncio.gather(session, return_exceptions=True)
                    break
                if not self._session_ended(session):
                    return EXIT_KEY_REJECTED
                delay = self._delay(session.exception())
                log.info("reconnecting in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stopping), delay)
        finally:
            stopping.cancel()
        return EXIT_OK

    def _delay(self, exc: BaseException | None) -> float:
        delay = self.backoff.next_delay()
        if isinstance(exc, RetryLater):  # at least what the server asked, never in lockstep
            delay = max(delay, exc.seconds + random.random())
        return delay

    def _session_ended(self, session: asyncio.Task) -> bool:
        """Log why a session ended; False when the key is dead and the agent must quit."""
        exc = session.exception()
        if isinstance(exc, KeyRejected):
            log.error("%s", exc)
            return False
        if isinstance(exc, (OSError, TimeoutError, InvalidHandshake, ProtocolError, RetryLater)):
            log.warning("tunnel to %s failed: %s", self.config.ws_url, exc or type(exc).__name__)
        elif exc is not None:
            log.error("tunnel session crashed", exc_info=exc)
        return True

    async def _session(self) -> None:
        try:
            async with connect(
                self.config.ws_url,
                additional_headers={"Authorization": f"Bearer {self.config.api_key}"},
                max_size=wire.MAX_FRAME_BYTES,
                ssl=self._ssl(),
                user_agent_header=f"sentra-agent/{AGENT_VERSION}",
            ) as ws:
                try:
                    await self._handshake(ws)
                    self.backoff.reset()
                    await self._serve(ws)
                except ConnectionClosed:
                    pass
                self._check_close(ws.close_code, ws.close_reason)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise KeyRejected(
                    f"the server rejected this device's API key (HTTP "
                    f"{status}); register again with a new token"
                ) from None
            if status in (429, 503):
                raise RetryLater(status, _retry_after(exc.response.headers)) from None
            raise

    def _ssl(self) -> Any:
        if not self.config.ws_url.startswith("wss:"):
            return None
        return ssl_context(self.config.ca_file, insecure=self.config.insecure)

    def _check_close(self, code: int | None, reason: str | None) -> None:
        if code == wire.CLOSE_REVOKED:
            raise KeyRejected(
                "the server revoked this device's API key (close 4001); "
                "register again with a new token"
            )
        if code == wire.CLOSE_REPLACED:
            log.warning("replaced by a newer connection with the same key (another agent?)")
        else:
            log.info("tunnel closed (code %s %s)", code, reason or "")

    async def _handshake(self, ws: ClientConnection) -> None:
        self._state_dirty.clear()  # hello carries the current state
        await self._send(ws, wire.hello(AGENT_VERSION, self._state()))
        frame = await asyncio.wait_for(ws.recv(), WELCOME_TIMEOUT_S)
        message = _parse(frame)
        if not message or message.get("type") != wire.WELCOME:
            raise ProtocolError(f"expected welcome, got {str(frame)[:200]!r}")
        log.info(
            "connected as device %s (heartbeat %s s)",
            message.get("device_id"),
            message.get("heartbeat_s"),
        )

    async def _serve(self, ws: ClientConnection) -> None:
        sender = asyncio.create_task(self._send_state_events(ws))
        try:
            async for frame in ws:
                await self._on_frame(ws, frame)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send_state_events(self, ws: ClientConnection) -> None:
        # Coalesces bursts: the server only needs the latest state.
        while True:
            await self._state_dirty.wait()
            self._state_dirty.clear()
            await self._send(ws, wire.state_event(self._state()))

    async def _on_frame(self, ws: ClientConnection, frame: str | bytes) -> None:
        message = _parse(frame)
        kind = message.get("type") if message else None
        if kind == wire.COMMAND:
            await self._send(ws, await self.run_command(message))
        elif kind == wire.ERROR:
            log.warning("server reported an error: %s", message.get("error"))
        elif kind != wire.WELCOME:
            log.warning("ignoring frame: %s", str(frame)[:200])

    async def run_command(self, message: dict) -> dict:
        """Turn a command frame into its result frame; the one place errors become codes."""
        command_id, name = message.get("id"), message.get("name")
        # The server probes with `status` every heartbeat; only commands that act are worth INFO.
        log.log(
            logging.DEBUG if name == "status" else logging.INFO, "command %s: %s", command_id, name
        )
        try:
            result = await self.controller.handle(name, message.get("params") or {})
        except CommandError as exc:
            return wire.failure(command_id, exc.code, exc.message)
        except Exception:
            log.exception("command %s (%s) failed", command_id, name)
            return wire.failure(
                command_id, wire.INTERNAL_ERROR, "the agent failed to run the command"
            )
        return wire.result(command_id, result)

    async def _send(self, ws: ClientConnection, message: dict) -> None:
        async with self._send_lock:  # the command loop and the state sender share the socket
            await ws.send(wire.encode(message))

    def _state(self) -> dict:
        return dump(self.controller.state)


def _retry_after(headers) -> float:
    """Seconds from a Retry-After header (an HTTP date counts as unknown: 0)."""
    try:
        return min(max(float(headers.get("Retry-After", "0")), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return 0.0


def _parse(frame: str | bytes) -> dict | None:
    if isinstance(frame, bytes):
        return None
    try:
        message = json.loads(frame)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
