"""One writer task per kind of hot write, committing many items per transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from .db import DatabaseBusy, database, is_busy

log = logging.getLogger(__name__)


class BatchWriter:
    """One task that writes queued items in order, many per transaction (group commit).

    SQLite has one writer anyway; funnelling the hot writes (audit, presence) through one task
    per kind turns many small transactions that queue for the lock into a few large ones, and
    the cost per item falls as load rises. A busy database is retried with a growing pause;
    nothing queued is dropped. Subclasses say how a batch is written (`write`) and may have
    work of their own that is due now and then (`has_due_work`, checked every `wake_s`).
    """

    batch_size = 500
    queue_limit = 20_000
    wake_s: float | None = None
    retry_first_s, retry_max_s = 0.05, 2.0

    def __init__(self) -> None:
        self._queue: deque[tuple[object, asyncio.Future]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._last: asyncio.Future | None = None
        self.batches = 0

    async def write(self, items: list) -> list:
        """Store these items in one transaction; one result per item, in order."""
        raise NotImplementedError

    def has_due_work(self) -> bool:
        return False

    def submit(self, item) -> asyncio.Future:
        """Queue an item; the future resolves with its result once it is committed."""
        if len(self._queue) >= self.queue_limit:
            raise DatabaseBusy(f"{type(self).__name__} is behind; try again shortly.")
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._last = future
        self.wake()
        return future

    def wake(self) -> None:
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Wait until every item submitted so far is committed (read your own writes)."""
        if self._last is not None and not self._last.done():
            await asyncio.wait([self._last])

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wake_s):
                    await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue or self.has_due_work():
                await self._write_next()

    async def _write_next(self) -> None:
        batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
        pause = self.retry_first_s
        while True:
            try:
                async with database.obj.write_turn():
                    results = await self.write([item for item, _ in batch])
                break
            except Exception as error:
                if not is_busy(error):
                    log.error(
                        "%s could not write %d items",
                        type(self).__name__,
                        len(batch),
                        exc_info=True,
                    )
                    for _, future in batch:
                        _fail(future, error)
                    return
                log.warning("%s: database busy, retrying %d items", type(self).__name__, len(batch))
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.retry_max_s)
        self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail(future: asyncio.Future, error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
        future.exception()  # the submitter may not wait for it; the log has it already
