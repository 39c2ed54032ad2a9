"""A device's frame budget: what one tunnel may send, so that no device can hurt the others.

A token bucket per tunnel (`DEVICE_FRAME_RATE` per second on average, `DEVICE_FRAME_BURST` at
once). Past it frames are dropped, the first with an error frame; a device that drops another
whole burst's worth before it goes quiet is flooding and is closed (1008) and cooled down.
Answers to what the server asked never count: every command sent grants one frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

CREDIT_LIMIT = 256  # unanswered commands a device may owe at most


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

    __slots__ = ("rate", "burst", "tokens", "refilled", "dropped")

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
        self.tokens = min(self.tokens + 1, self.burst + CREDIT_LIMIT)

    @property
    def flooding(self) -> bool:
        return self.dropped > self.burst
