"""The base model and the time helpers every model shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from peewee import TextField
from playhouse.pwasyncio import AsyncModel

from ..db import database

MAX_ID = 2**31 - 1  # the largest id a PostgreSQL serial holds; larger ones overflow the drivers


def valid_id(value) -> bool:
    """True for an id a row can have; anything else (huge, negative, text) is simply absent.

    Ids arrive as ints from routes and API bodies or as strings from forms; an unbounded int
    would overflow the database driver instead of finding nothing.
    """
    if isinstance(value, bool | float):  # True is 1 and 1.5 truncates to 1: neither is an id
        return False
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        return False  # int() also reads " 7", "+7", "7_0" and other scripts' digits
    try:
        return 1 <= int(value) <= MAX_ID
    except (TypeError, ValueError):
        return False


def utcnow() -> datetime:
    """Naive UTC, the form stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


class JSONField(TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(AsyncModel):
    class Meta:
        database = database
        legacy_table_names = False
