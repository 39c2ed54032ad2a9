"""Door backends: a relay that holds the strike unlocked, a momentary unlock, and a door contact.

`SimDoor` lives in memory (demos, tests); `GpioDoor` drives a Raspberry Pi relay via gpiozero.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

ContactState = Literal["open", "closed", "unknown"]
log = logging.getLogger(__name__)


class Door(ABC):
    """The relay is energized (unlocked) while held unlocked or during a timed unlock.

    Listeners registered with `on_change` run on the event loop after any relay or contact
    change. Create a door inside the running loop: timers and thread hand-offs need it.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._listeners: list[Callable[[], None]] = []
        self._held_unlocked = False
        self._pulse: asyncio.TimerHandle | None = None
        self._relay_on = False

    @abstractmethod
    def read_contact(self) -> ContactState:
        """The door contact now: "open", "closed", or "unknown" without a sensor."""

    @abstractmethod
    def _drive_relay(self, on: bool) -> None:
        """Energize (unlock) or release (lock) the relay."""

    @property
    def unlocked(self) -> bool:
        return self._relay_on

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def hold_unlocked(self, unlocked: bool) -> None:
        """Keep the strike unlocked (mode "open", schedule) or locked, beyond any timed unlock."""
        self._held_unlocked = unlocked
        self._apply()

    def unlock(self, seconds: float) -> None:
        """Unlock for `seconds`, then fall back to the held state; a new call restarts the timer."""
        self.cancel_unlock()
        self._pulse = self._loop.call_later(seconds, self._end_pulse)
        self._apply()

    def cancel_unlock(self) -> None:
        if self._pulse is not None:
            self._pulse.cancel()
            self._pulse = None
            self._apply()

    def close(self) -> None:
        """Lock and release the hardware; a closed door fails secure (relay off)."""
        self.cancel_unlock()
        self._held_unlocked = False
        self._apply()

    def _end_pulse(self) -> None:
        self._pulse = None
        self._apply()

    def _apply(self) -> None:
        want = self._held_unlocked or self._pulse is not None
        if want != self._relay_on:
            self._drive_relay(want)
            self._relay_on = want
            self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # one broken listener must not stop the door
                log.exception("door change listener failed")


class SimDoor(Door):
    """An in-memory door; tests and demos move the contact with `set_contact`."""

    def __init__(self, contact: ContactState = "closed") -> None:
        super().__init__()
        self._contact: ContactState = contact

    def read_contact(self) -> ContactState:
        return self._contact

    def set_contact(self, is_open: bool) -> None:
        contact: ContactState = "open" if is_open else "closed"
        if contact != self._contact:
            self._contact = contact
            self._notify()

    def _drive_relay(self, on: bool) -> None:
        log.info("sim relay %s", "on (unlocked)" if on else "off (locked)")


class GpioDoor(Door):
    """A relay on `relay_pin` and an optional reed contact on `contact_pin` (BCM numbering).

    By default the contact switches to GND with the internal pull-up: a closed door pulls the
    pin low. gpiozero calls back from its own thread, so changes hop onto the loop.
    """

    def __init__(
        self,
        relay_pin: int = 17,
        contact_pin: int | None = 27,
        *,
        relay_active_high: bool = True,
        contact_closed_when_low: bool = True,
        bounce_s: float | None = 0.05,
        pin_factory: Any = None,
    ) -> None:
        super().__init__()
        from gpiozero import DigitalInputDevice, OutputDevice  # only the Pi needs gpiozero

        self._relay = OutputDevice(
            relay_pin, active_high=relay_active_high, initial_value=False, pin_factory=pin_factory
        )
        self._contact = None
        if contact_pin is not None:
            # pull_up=True makes "pin low" the active state, i.e. active == door closed.
            self._contact = DigitalInputDevice(
                contact_pin,
                pull_up=contact_closed_when_low,
                bounce_time=bounce_s,
                pin_factory=pin_factory,
            )
            self._contact.when_activated = self._contact_changed
            self._contact.when_deactivated = self._contact_changed

    def read_contact(self) -> ContactState:
        if self._contact is None:
            return "unknown"
        return "closed" if self._contact.is_active else "open"

    def _contact_changed(self) -> None:
        self._loop.call_soon_threadsafe(self._notify)

    def _drive_relay(self, on: bool) -> None:
        if on:
            self._relay.on()
        else:
            self._relay.off()

    def close(self) -> None:
        super().close()
        self._relay.close()
        if self._contact is not None:
            self._contact.close()
