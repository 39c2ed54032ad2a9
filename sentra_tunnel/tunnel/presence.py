"""Presence: who is online (by generation), and `last_seen`/state written behind in batches.

A connect or disconnect is a compare-and-set on the device row's generation and is awaited:
the welcome waits for it, and a late close of an old tunnel never marks the new one offline.
Everything else a tunnel learns — `last_seen` on every frame, state from events — is only noted
in memory and stored by one writer at most every `FLUSH_S`, all devices in one transaction;
reads lay the unwritten fields over the rows meanwhile. Connects and disconnects of a
reconnecting fleet share transactions the same way.
"""

from __future__ import annotations

import asyncio

from ..batch_writer import BatchWriter
from ..db import database
from ..models.device import unwritten_presence, write_presence

FLUSH_S = 2.0


class PresenceWriter(BatchWriter):
    wake_s = FLUSH_S

    def __init__(self) -> None:
        super().__init__()
        self._flushed_at = 0.0

    @property
    def _unwritten(self) -> dict[int, dict]:
        return unwritten_presence()  # the open database's, so each app has its own

    def note(self, device_id: int, **fields) -> None:
        """Remember fresh presence fields; they are stored with the next flush."""
        self._unwritten.setdefault(device_id, {}).update(fields)

    async def connect(self, device_id: int, key_id: str, agent_version: str, state: dict):
        """The tunnel's new generation, or None when the key was revoked meanwhile."""
        return await self.submit(("connect", device_id, key_id, agent_version, state))

    async def disconnect(self, device_id: int, generation: int, last_seen) -> bool:
        """True if this tunnel was still the device's current one and is now offline."""
        return await self.submit(("disconnect", device_id, generation, last_seen))

    def has_due_work(self) -> bool:
        loop_time = asyncio.get_running_loop().time()
        return bool(self._unwritten) and loop_time - self._flushed_at >= FLUSH_S

    async def write(self, items: list) -> list:
        snapshot = {}
        if self.has_due_work():
            # Stamped first: a flush that fails waits for the next turn instead of spinning.
            self._flushed_at = asyncio.get_running_loop().time()
            snapshot = {device_id: dict(fields) for device_id, fields in self._unwritten.items()}
        results = await database.run(write_presence, items, snapshot)
        self._forget_written(snapshot)
        return results

    def _forget_written(self, snapshot: dict[int, dict]) -> None:
        for device_id, fields in snapshot.items():
            if self._unwritten.get(device_id) == fields:  # nothing newer arrived meanwhile
                del self._unwritten[device_id]

    async def store_now(self) -> None:
        """Store whatever is unwritten at once (shutdown, tests)."""
        await self.flush()
        if self._unwritten:
            self._flushed_at = float("-inf")
            await self.write([])

    async def close(self) -> None:
        await super().close()
        await self.store_now()
