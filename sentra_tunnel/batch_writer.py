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
    the cost per item falls as load rises. A failed batch is retried with a growing pause (a
    busy database for up to `busy_retry_s`, any other failure `attempts` times), then each of
    its items alone, so one bad item cannot sink the rest; an item that still fails is logged
    at ERROR (`describe`) and its future fails: nothing is dropped without a word. Subclasses
    say how a batch is written (`write`) and may have work of their own that is due now and
    then (`has_due_work`, checked every `wake_s`).
    """

    batch_size = 500
    queue_limit = 20_000
    wake_s: float | None = None
    retry_first_s, retry_max_s = 0.05, 2.0
    busy_retry_s = 30.0
    attempts = 3

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

    def describe(self, item) -> str:
        """What the log may say about an item it could not store (never a secret)."""
        return f"a {type(item).__name__}"

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
        try:
            results = await self._write_retrying([item for item, _ in batch], self.attempts)
        except Exception as error:
            if len(batch) <= 1 or is_busy(error):
                self._give_up(batch, error)
                return
            for alone in batch:  # once each: a failure shared by all was retried already
                await self._write_alone(alone)
            return
        self._resolve(batch, results)

    async def _write_alone(self, queued: tuple[object, asyncio.Future]) -> None:
        try:
            results = await self._write_retrying([queued[0]], attempts=1)
        except Exception as error:
            self._give_up([queued], error)
        else:
            self._resolve([queued], results)

    async def _write_retrying(self, items: list, attempts: int) -> list:
        name, pause, failures = type(self).__name__, self.retry_first_s, 0
        busy_until = asyncio.get_running_loop().time() + self.busy_retry_s
        while True:
            try:
                async with database.obj.write_turn():
                    return await self.write(items)
            except Exception as error:
                if is_busy(error):
                    if asyncio.get_running_loop().time() + pause > busy_until:
                        raise
                    log.warning("%s: database busy, retrying %d items", name, len(items))
                else:
                    failures += 1
                    if failures >= attempts:
                        raise
                    log.error(
                        "%s could not write %d items; retrying", name, len(items), exc_info=True
                    )
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.retry_max_s)

    def _resolve(self, batch: list, results: list) -> None:
        self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _give_up(self, batch: list, error: Exception) -> None:
        name = type(self).__name__
        log.error("%s could not store %d items: %s", name, len(batch), error, exc_info=error)
        for item, future in batch:
            log.error("%s lost %s", name, self.describe(item))
            _fail(future, error)


def _fail(future: asyncio.Future, error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
        future.exception()  # the submitter may not wait for it; the log has it already
