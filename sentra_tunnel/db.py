"""The database handle: one proxy the models bind to; async for the app, sync for migrations.

`playhouse.pwasyncio` lends a pooled connection to the asyncio task that first queries and takes
it back only when that task ends. Tunnels, live streams and requests waiting on a device are
tasks that live for minutes, so with that default each would pin a connection. Every query and
every transaction here is a unit of work instead: `run()` — which every async query helper,
model method and `atomic()` goes through — hands the connection back as soon as no transaction
is open. Nothing has to remember to release, and no await on a device, a queue or a timer can
hold one. The pool itself is bounded (`DATABASE_POOL_SIZE`) and so is the line waiting for it:
past that, or after `ACQUIRE_TIMEOUT_S`, `DatabaseBusy` answers `503 busy` instead of a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import DatabaseProxy, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.migrations import Runner
from playhouse.pwasyncio import AsyncPostgresqlDatabase, AsyncSqliteDatabase, greenlet_spawn

from .config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
}

# A read-then-write transaction (the audit chain) that starts as a reader fails at once with
# "database is locked" when another connection wrote meanwhile; IMMEDIATE takes the write lock
# up front, so the busy timeout applies instead.
SQLITE_OPTIONS = {"pragmas": SQLITE_PRAGMAS, "timeout": 5, "lock_type": "IMMEDIATE"}

ACQUIRE_TIMEOUT_S = 5
WAITERS_PER_CONNECTION = (
    500  # a line that long clears in well under a second; longer ones fail fast
)

log = logging.getLogger(__name__)
database = DatabaseProxy()


class DatabaseBusy(OperationalError):
    """No connection could be had right now; the caller answers 503 and the client retries."""


def is_busy(error: BaseException) -> bool:
    """A database error that means "try again shortly" rather than a bug."""
    if isinstance(error, DatabaseBusy):
        return True
    return isinstance(error, OperationalError) and "locked" in str(error)


class UnitOfWorkMixin:
    """Connections are lent per query or transaction, never per task (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._waiting = 0
        self._max_waiting = WAITERS_PER_CONNECTION * max(1, self._pool_size)

    async def run(self, fn, *args, **kwargs):
        try:
            return await greenlet_spawn(fn, *args, **kwargs)
        finally:
            if not self.in_transaction():
                await self._hand_back()

    async def _hand_back(self) -> None:
        try:
            await self.aclose()
        except Exception:  # a broken connection is replaced by the pool on the next acquire
            log.warning("could not return a database connection to the pool", exc_info=True)

    async def _acquire_conn_async(self):
        if self._waiting >= self._max_waiting:
            raise DatabaseBusy("Too many requests are waiting for the database.")
        self._waiting += 1
        try:
            return await super()._acquire_conn_async()
        except OperationalError as error:
            if "Timed out" in str(error):
                raise DatabaseBusy("No database connection was free in time.") from error
            raise
        finally:
            self._waiting -= 1


class SqliteUnitOfWork(UnitOfWorkMixin, AsyncSqliteDatabase):
    pass


class PostgresUnitOfWork(UnitOfWorkMixin, AsyncPostgresqlDatabase):
    pass


def _sqlite_path(url: str) -> str:
    path = url.removeprefix("sqlite:///")
    if path in ("", ":memory:"):
        return ":memory:"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _postgres_params(url: str) -> dict:
    parsed = urlparse(url)
    params = {"database": parsed.path.lstrip("/"), "host": parsed.hostname, "port": parsed.port}
    if parsed.username:
        params["user"] = unquote(parsed.username)
    if parsed.password:
        params["password"] = unquote(parsed.password)
    return {key: value for key, value in params.items() if value is not None}


def open_async(url: str, pool_size: int = 8):
    """The database the server uses: queries run without blocking the event loop."""
    pool = {"pool_size": pool_size, "acquire_timeout": ACQUIRE_TIMEOUT_S}
    if url.startswith("sqlite:"):
        return SqliteUnitOfWork(_sqlite_path(url), **SQLITE_OPTIONS, **pool)
    params = _postgres_params(url)
    return PostgresUnitOfWork(params.pop("database"), **params, **pool)


def open_sync(url: str):
    """A plain connection for migrations and the command line."""
    if url.startswith("sqlite:"):
        return SqliteDatabase(_sqlite_path(url), **SQLITE_OPTIONS)
    params = _postgres_params(url)
    return PostgresqlDatabase(params.pop("database"), **params)


def migration_runner(sync_db) -> Runner:
    return Runner(sync_db, str(MIGRATIONS_DIR))


def pending_migrations(url: str) -> list[str]:
    sync_db = open_sync(url)
    try:
        return [m.name for m in migration_runner(sync_db).status() if not m.applied]
    finally:
        sync_db.close()


def migrate_up(url: str) -> list[str]:
    sync_db = open_sync(url)
    try:
        return migration_runner(sync_db).up()
    finally:
        sync_db.close()


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
