"""Refused `/ws` keys in the audit, at most one entry per address and minute.

A key-guessing storm, or a revoked Pi that keeps retrying, must not become an audit-write storm:
the first refusal from an address is recorded, the ones after it within the window are only
counted, and the next entry says how many there were. Never the key: its id's first characters
at most, and only when it looks like a key id.
"""

from __future__ import annotations

import string
import time

from ..models import audit

WINDOW_S = 60.0
MAX_ADDRESSES = 10_000  # tracked at once; past that a refusal is counted, not recorded
PREFIX_CHARS = 8
_HEX = frozenset(string.hexdigits)


def key_prefix(api_key: str) -> str:
    """The first characters of the key's id, or "" for something that is no key of ours."""
    key_id, dot, _ = api_key.partition(".")
    return key_id[:PREFIX_CHARS] if dot and key_id and set(key_id) <= _HEX else ""


class RefusalLog:
    def __init__(
        self, window_s: float = WINDOW_S, max_addresses: int = MAX_ADDRESSES, clock=time.monotonic
    ):
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self.unrecorded = 0  # refusals in no entry: too many addresses, or a full audit queue
        self._windows: dict[str, tuple[float, int]] = {}  # ip → (recorded at, refused since)

    def refused(self, ip: str, api_key: str) -> None:
        now = self._clock()
        recorded_at, since = self._windows.get(ip, (None, 0))
        if recorded_at is not None and now - recorded_at < self.window_s:
            self._windows[ip] = (recorded_at, since + 1)
            return
        if recorded_at is None and len(self._windows) >= self.max_addresses:
            self._forget_before(now - self.window_s)
            if len(self._windows) >= self.max_addresses:
                self.unrecorded += 1
                return
        self._windows[ip] = (now, 0)
        recorded = audit.record_later(
            "device.connect_refused",
            actor="anonymous",
            target="device:unknown",
            outcome="invalid_key",
            ip=ip,
            details={"key_prefix": key_prefix(api_key), "refused_since_last_entry": since},
        )
        self.unrecorded += not recorded

    def _forget_before(self, moment: float) -> None:
        self._windows = {ip: w for ip, w in self._windows.items() if w[0] >= moment}
