"""Who may open a tunnel right now, decided before any database work.

After a restart a whole fleet reconnects at once. Handshakes in progress (upgrade until welcome)
are bounded; beyond that an upgrade is refused at once with `503` and a `Retry-After` spread over
a few seconds, so the fleet comes back in waves instead of queueing for the database. Upgrades
are also limited per address and per key, and a device closed for flooding waits out a cool-down.
"""

from __future__ import annotations

import random
import time

from ..errors import APIError, busy
from ..ratelimit import hit

RETRY_AFTER_S = (1, 4)  # a refused device retries after a random whole number of seconds
FLOOD_COOL_DOWN_S = 30


class HandshakeSlot:
    """One handshake in progress; released at welcome or when the attempt ends."""

    def __init__(self, admission: Admission):
        self._admission = admission
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._admission.in_progress -= 1


class Admission:
    def __init__(self, concurrency: int, ip_limit: str, key_limit: str):
        self.concurrency = concurrency
        self.ip_limit, self.key_limit = ip_limit, key_limit
        self.in_progress = 0
        self.stopping = False  # set at shutdown: tunnels are being closed, none may start
        self.refused = 0
        self._cooling: dict[str, float] = {}  # key id → when it may connect again

    async def admit(self, ip: str, key_id: str) -> HandshakeSlot:
        """A slot for this handshake, or APIError 503/429 with Retry-After."""
        if self.stopping:
            raise busy("The server is restarting; connect again shortly.", self._retry_after())
        if self.in_progress >= self.concurrency:
            self.refused += 1
            raise busy("Too many devices are connecting; try again shortly.", self._retry_after())
        self.in_progress += 1  # taken before any await, so concurrent checks see it
        slot = HandshakeSlot(self)
        try:
            self._refuse_while_cooling(key_id)
            await hit(self.ip_limit, "ws-ip", ip)
            if key_id:
                await hit(self.key_limit, "ws-key", key_id)
        except BaseException:
            slot.release()
            raise
        return slot

    def cool_down(self, key_id: str, seconds: float = FLOOD_COOL_DOWN_S) -> None:
        self._cooling[key_id] = time.monotonic() + seconds

    def _refuse_while_cooling(self, key_id: str) -> None:
        until = self._cooling.get(key_id)
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            del self._cooling[key_id]
            return
        raise APIError(
            429,
            "rate_limited",
            "This device sent too many frames; it may reconnect later.",
            headers={"Retry-After": str(max(1, round(left)))},
        )

    @staticmethod
    def _retry_after() -> int:
        return random.randint(*RETRY_AFTER_S)
