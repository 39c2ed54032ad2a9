"""The database handle: one proxy the models bind to; async for the app, sync for migrations."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.migrations import Runner
from playhouse.pwasyncio import AsyncPostgresqlDatabase, AsyncSqliteDatabase

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

database = DatabaseProxy()


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


def open_async(url: str):
    """The database the server uses: queries run without blocking the event loop."""
    if url.startswith("sqlite:"):
        return AsyncSqliteDatabase(_sqlite_path(url), **SQLITE_OPTIONS)
    params = _postgres_params(url)
    return AsyncPostgresqlDatabase(params.pop("database"), **params)


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
