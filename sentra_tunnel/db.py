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
import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import (
    DatabaseProxy,
    InterfaceError,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
)
from playhouse.migrations import Runner
from playhouse.pwasyncio import (
    AsyncPostgresqlDatabase,
    AsyncSqliteConnection,
    AsyncSqliteDatabase,
    AsyncSqlitePool,
    CursorAdapter,
    greenlet_spawn,
)

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
# A line this long per connection clears in well under a second; a longer one fails at once.
WAITERS_PER_CONNECTION = 500

log = logging.getLogger(__name__)
database = DatabaseProxy()


class DatabaseBusy(OperationalError):
    """No connection could be had right now; the caller answers 503 and the client retries."""


def is_busy(error: BaseException) -> bool:
    """A database error that means "try again shortly" rather than a bug."""
    if isinstance(error, DatabaseBusy):
        return True
    return isinstance(error, OperationalError) and "locked" in str(error)


def _run_statement(raw, sql: str, params) -> CursorAdapter:
    cursor = raw.execute(sql, params)
    try:
        return CursorAdapter(
            cursor.fetchall(),
            lastrowid=cursor.lastrowid,
            rowcount=cursor.rowcount,
            description=cursor.description,
        )
    finally:
        cursor.close()


class OneTripSqliteConnection(AsyncSqliteConnection):
    """Execute, fetch and close in one trip to aiosqlite's thread instead of three: each trip
    is a thread handoff under the GIL, and they were most of a small query's cost."""

    async def _execute(self, sql, params=None):
        return await self.conn._execute(_run_statement, self.conn._conn, sql, params or ())


class SqlitePool(AsyncSqlitePool):
    async def _create_connection(self):
        return OneTripSqliteConnection((await super()._create_connection()).conn)

    async def acquire(self, timeout=None):
        if self._closed:
            raise InterfaceError("Pool is closed.")
        try:
            return self._queue.get_nowait()  # the common case needs no timer
        except asyncio.QueueEmpty:
            async with asyncio.timeout(timeout):
                return await self._queue.get()


class UnitOfWorkMixin:
    """Connections are lent per query or transaction, never per task (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._waiting = 0
        self._max_waiting = WAITERS_PER_CONNECTION * max(1, self._pool_size)
        self._write_turn = asyncio.Lock()

    def write_turn(self) -> asyncio.Lock:
        """Held around this process's batched write transactions: taking turns here is free,
        while SQLite makes the loser of a race sleep in its busy handler (1 ms and up)."""
        return self._write_turn

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
            if self._pool is None:
                return await super()._acquire_conn_async()
            conn = await self._pool_acquire(self._pool)  # skips the pool-creation timer
            conn._pool = self._pool
            return conn
        except TimeoutError as error:
            raise DatabaseBusy("No database connection was free in time.") from error
        except OperationalError as error:
            if "Timed out" in str(error):
                raise DatabaseBusy("No database connection was free in time.") from error
            raise
        finally:
            self._waiting -= 1


class SqliteUnitOfWork(UnitOfWorkMixin, AsyncSqliteDatabase):
    async def _create_pool_async(self):
        size = 1 if self.database == ":memory:" else self._pool_size
        pool = SqlitePool(
            self.database,
            pool_size=size,
            on_connect=self._add_conn_hooks,
            timeout=self._timeout,
            **self.connect_params,
        )
        return await pool.initialize()


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
