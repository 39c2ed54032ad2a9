"""The door logic on the Pi: mode, weekly schedule, override expiry and the command handlers.

Everything here runs on the event loop and keeps working while the tunnel is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from sentra_tunnel import wire
from sentra_tunnel.agent.door import Door
from sentra_tunnel.door_schema import (
    DoorConfig,
    DoorConfigPatch,
    DoorMode,
    DoorState,
    OpenParams,
    OverrideParams,
    UtcDatetime,
    dump,
)

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
StateListener = Callable[[DoorState], None]
# Called with the new config and override after a change, so both survive a reboot.
Store = Callable[[DoorConfig, "Override | None"], None]


class Override(BaseModel):
    """A mode other than "auto", kept until `until` (None: until changed again)."""

    mode: DoorMode
    until: UtcDatetime | None = None


class CommandError(Exception):
    """A command the device refuses; `code` goes to the server as the device error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def utc_now() -> datetime:
    return datetime.now(UTC)


def _validate(model: type[BaseModel], params: Any) -> Any:
    try:
        return model.model_validate(params if params is not None else {})
    except ValidationError as exc:
        parts = [f"{where}: {what}" for where, what in wire.problems(exc).items()]
        raise CommandError("invalid_params", "; ".join(parts)) from None


class DoorController:
    """Owns the door: derives the lock from mode and schedule, runs commands, reports state."""

    def __init__(
        self,
        door: Door,
        config: DoorConfig,
        *,
        override: Override | None = None,
        store: Store | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.door = door
        self.config = config
        self._store = store
        self._clock = clock
        self._listeners: list[StateListener] = []
        self._override: Override | None = None
        self._override_timer: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._last_state: DoorState | None = None
        self.handlers: dict[str, Callable[[Any], dict]] = {  # exactly wire.COMMAND_NAMES
            "open": self._cmd_open,
            "status": lambda _params: dump(self.state),
            "get_config": lambda _params: dump(self.config),
            "set_config": self._cmd_set_config,
            "override": self._cmd_override,
        }
        door.on_change(self._emit_if_changed)
        if override is not None and (override.until is None or override.until > clock()):
            self._set_override(override)

    @property
    def mode(self) -> DoorMode:
        return self._override.mode if self._override else "auto"

    @property
    def state(self) -> DoorState:
        return DoorState(
            door=self.door.read_contact(),
            lock="unlocked" if self.door.unlocked else "locked",
            mode=self.mode,
            override_until=self._override.until if self._override else None,
        )

    def on_state(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Apply the current mode and re-check the schedule at every minute boundary."""
        self.evaluate()
        self._schedule_tick()

    def stop(self) -> None:
        for timer in (self._tick, self._override_timer):
            if timer is not None:
                timer.cancel()
        self._tick = self._override_timer = None

    def evaluate(self) -> None:
        """Drive the relay from mode and schedule; call after the clock or config moved."""
        mode = self.mode
        if mode == "locked":
            self.door.cancel_unlock()  # a lockdown also ends a running timed unlock
        held = mode == "open" or (mode == "auto" and self.config.schedule_active(self._clock()))
        self.door.hold_unlocked(held)
        self._emit_if_changed()

    async def handle(self, name: Any, params: Any) -> dict:
        """Run one command; raises CommandError for anything the device refuses."""
        handler = self.handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            raise CommandError("unknown_command", f"unknown command {name!r}")
        return handler(params)

    def set_override(self, mode: DoorMode, until: datetime | None) -> None:
        """Switch mode; a given `until` reverts to "auto" then, even without a tunnel."""
        self._set_override(None if mode == "auto" else Override(mode=mode, until=until))
        self._persist()

    def _cmd_open(self, params: Any) -> dict:
        open_params = _validate(OpenParams, params)
        if self.mode == "locked":
            raise CommandError("mode_locked", "the door is in locked mode; end the override first")
        self.door.unlock(open_params.duration_s or self.config.open_duration_s)
        return {"opened": True, "state": dump(self.state)}

    def _cmd_set_config(self, params: Any) -> dict:
        patch = _validate(DoorConfigPatch, params)
        try:
            new_config = patch.apply(self.config)
        except ValidationError as exc:  # fields are valid alone; this guards the merge
            raise CommandError("invalid_params", str(exc)) from None
        old_config, self.config = self.config, new_config
        try:
            self._persist(strict=True)
        except OSError as exc:
            self.config = old_config
            raise CommandError("config_write_failed", f"cannot save config: {exc}") from None
        self.evaluate()
        return dump(self.config)

    def _cmd_override(self, params: Any) -> dict:
        override = _validate(OverrideParams, params)
        self.set_override(override.mode, override.expires_at(self._clock()))
        return dump(self.state)

    def _set_override(self, override: Override | None) -> None:
        if self._override_timer is not None:
            self._override_timer.cancel()
            self._override_timer = None
        self._override = override
        if override is not None and override.until is not None:
            delay = max(0.0, (override.until - self._clock()).total_seconds())
            loop = asyncio.get_running_loop()
            self._override_timer = loop.call_later(delay, self._expire_override)
        self.evaluate()

    def _expire_override(self) -> None:
        log.info("override %s ended; back to auto", self.mode)
        self._override_timer = None
        self._set_override(None)
        self._persist()

    def _persist(self, strict: bool = False) -> None:
        if self._store is None:
            return
        try:
            self._store(self.config, self._override)
        except OSError:
            if strict:
                raise
            # The override still holds in memory; only a reboot would forget it.
            log.exception("cannot save override")

    def _schedule_tick(self) -> None:
        now = self._clock()
        delay = max(1.0, 60 - now.second - now.microsecond / 1e6)
        self._tick = asyncio.get_running_loop().call_later(delay, self._on_tick)

    def _on_tick(self) -> None:
        self.evaluate()
        self._schedule_tick()

    def _emit_if_changed(self) -> None:
        state = self.state
        if state == self._last_state:
            return
        self._last_state = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a failing listener (e.g. a dead socket) must not stop the door
                log.exception("state listener failed")
