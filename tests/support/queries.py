"""Count the SQL statements the app runs, through Peewee's query hooks."""

from __future__ import annotations

import contextlib

from sentra_tunnel.db import database


@contextlib.contextmanager
def recorded_queries():
    """Yields the list of SQL statements run inside the block, in order."""
    statements: list[str] = []

    def hook(event) -> None:
        statements.append(event.sql)

    database.obj.query_hooks.append(hook)
    try:
        yield statements
    finally:
        database.obj.query_hooks.remove(hook)
