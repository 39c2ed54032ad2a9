"""The append-only audit trail: each entry chains the keyed hash of the one before it.

`hash = HMAC-SHA256(key, prev_hash + canonical JSON of the entry)`. The key is not in the
database (it comes from `AUDIT_KEY` or is derived from `SECRET_KEY`), so someone who can write
to the database cannot recompute the chain after editing it; the signed checkpoints the
writer logs (`audit_chain.py`) also catch entries cut off the end.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import weakref
from datetime import datetime

from peewee import AutoField, CharField, DateTimeField, IntegerField

from ..batch_writer import BatchWriter
from ..db import DatabaseBusy, database
from .base import MAX_ID, BaseModel, JSONField, iso, utcnow

GENESIS_HASH = "0" * 64
KEY_CONTEXT = b"sentra-tunnel audit chain v1"
CHECKPOINT_EVERY = 1000  # entries between two checkpoints in the log
INSERT_CHUNK = 100  # rows per INSERT: well inside SQLite's limit on bound parameters
# One writer per event loop keeps the chain in order; several nodes will need a database lock.
_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_chain_key: list[bytes] = []  # set once per process by `use_key`

log = logging.getLogger(__name__)


def derive_key(secret: str) -> bytes:
    """The chain key from `AUDIT_KEY` or `SECRET_KEY`: never stored beside the entries."""
    return hmac.new(secret.encode(), KEY_CONTEXT, hashlib.sha256).digest()


def use_key(key: bytes) -> None:
    _chain_key[:] = [key]


def chain_key() -> bytes:
    if not _chain_key:
        raise RuntimeError("the audit chain key is not set (audit.use_key)")
    return _chain_key[0]


class AuditEntry(BaseModel):
    id = AutoField()
    ts = DateTimeField(default=utcnow, index=True)
    actor = CharField(max_length=100)
    tenant_id = IntegerField(null=True, index=True)
    action = CharField(max_length=40, index=True)
    target = CharField(max_length=100, index=True)
    ip = CharField(max_length=64, default="")
    outcome = CharField(max_length=40)
    details = JSONField(default=dict)
    hash = CharField(max_length=64)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "ts": iso(self.ts),
            "actor": self.actor,
            "tenant_id": self.tenant_id,
            "action": self.action,
            "target": self.target,
            "ip": self.ip,
            "outcome": self.outcome,
            "details": self.details,
        }


def canonical(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, fields: dict, key: bytes | None = None) -> str:
    message = (prev_hash + canonical(fields)).encode()
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def hashed_fields(entry: AuditEntry) -> dict:
    fields = entry.to_dict()
    fields.pop("id")
    return fields


# The chain is written with plain SQL: building an ORM insert per row cost more than the insert.
COLUMNS = ("ts", "actor", "tenant_id", "action", "target", "ip", "outcome", "details", "hash")
LAST_HASH_SQL = 'SELECT "hash" FROM "audit_entry" ORDER BY "id" DESC LIMIT 1'


@functools.lru_cache(maxsize=INSERT_CHUNK)
def _insert_sql(rows: int, param: str) -> str:
    row = "(" + ", ".join([param] * len(COLUMNS)) + ")"
    columns = ", ".join(f'"{column}"' for column in COLUMNS)
    return f'INSERT INTO "audit_entry" ({columns}) VALUES {", ".join([row] * rows)} RETURNING "id"'


def _row_values(entry: AuditEntry) -> list:
    return [
        AuditEntry.ts.db_value(entry.ts),
        entry.actor,
        entry.tenant_id,
        entry.action,
        entry.target,
        entry.ip,
        entry.outcome,
        AuditEntry.details.db_value(entry.details),
        entry.hash,
    ]


def _append_many(rows: list[dict]) -> list[AuditEntry]:
    """Chain and insert entries in one transaction, in the order given."""
    with database.atomic():
        last = database.execute_sql(LAST_HASH_SQL).fetchone()
        prev_hash = last[0] if last else GENESIS_HASH
        entries = []
        for fields in rows:
            entry = AuditEntry(**fields)
            entry.hash = prev_hash = chain_hash(prev_hash, hashed_fields(entry))
            entries.append(entry)
        for start in range(0, len(entries), INSERT_CHUNK):
            chunk = entries[start : start + INSERT_CHUNK]
            values = [value for entry in chunk for value in _row_values(entry)]
            cursor = database.execute_sql(_insert_sql(len(chunk), database.param), values)
            for entry, (entry_id,) in zip(chunk, cursor.fetchall(), strict=True):
                entry.id = entry_id
    return entries


def _append(fields: dict) -> AuditEntry:
    """One entry on a plain connection (the command line)."""
    return _append_many([fields])[0]


class AuditWriter(BatchWriter):
    """The one audit writer of this process: entries keep their order and share transactions.

    It logs a signed checkpoint of the chain's head when it starts, every CHECKPOINT_EVERY
    entries and when it closes: a copy of the head outside the database.
    """

    def __init__(self) -> None:
        super().__init__()
        self._since_checkpoint: int | None = None  # None: the starting checkpoint is due

    async def write(self, items: list) -> list:
        if self._since_checkpoint is None:
            self._since_checkpoint = 0
            await self.log_checkpoint()
        entries = await database.run(_append_many, items)
        self._since_checkpoint += len(entries)
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            log_checkpoint(entries[-1].id, entries[-1].hash)
        return entries

    def describe(self, item: dict) -> str:
        # Action, target and outcome name a lost entry well enough; details may say more.
        return f"audit entry {item['action']} {item['target']} ({item['outcome']})"

    async def log_checkpoint(self) -> None:
        head = await database.run(chain_head)
        if head is not None:
            log_checkpoint(*head)

    async def close(self) -> None:
        await super().close()
        if self._since_checkpoint:
            await self.log_checkpoint()


def chain_head() -> tuple[int, str] | None:
    """(id, hash) of the newest entry."""
    row = database.execute_sql('SELECT "id", "hash" FROM "audit_entry" ORDER BY "id" DESC LIMIT 1')
    found = row.fetchone()
    return (found[0], found[1]) if found else None


def checkpoint_signature(entry_id: int, entry_hash: str, key: bytes | None = None) -> str:
    message = f"checkpoint:{entry_id}:{entry_hash}".encode()
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def checkpoint_line(entry_id: int, entry_hash: str, key: bytes | None = None) -> str:
    sig = checkpoint_signature(entry_id, entry_hash, key)
    return f"audit-checkpoint id={entry_id} hash={entry_hash} sig={sig}"


def log_checkpoint(entry_id: int, entry_hash: str) -> None:
    log.info("%s", checkpoint_line(entry_id, entry_hash))


def current_writer() -> AuditWriter:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = AuditWriter()
    return writer


async def close_writer() -> None:
    """Commit what is queued; called before the database closes."""
    writer = _writers.pop(asyncio.get_running_loop(), None)
    if writer is not None:
        await writer.close()


def _fields(
    action: str,
    *,
    actor: str,
    target: str,
    outcome: str = "ok",
    tenant_id: int | None = None,
    ip: str = "",
    details: dict | None = None,
    ts: datetime | None = None,
) -> dict:
    return {
        "ts": ts or utcnow(),
        "actor": actor[:100],
        "tenant_id": tenant_id,
        "action": action,
        "target": target[:100],
        "ip": ip[:64],
        "outcome": outcome[:40],
        "details": details or {},
    }


async def record(action: str, **fields) -> AuditEntry:
    """Append one entry and return once it is durable; never updates an existing one."""
    future = current_writer().submit(_fields(action, **fields))
    return await asyncio.shield(future)  # a cancelled caller does not unwrite the entry


def record_later(action: str, **fields) -> bool:
    """Append one entry without waiting for its commit; the writer owns it from here on,
    retries it, and logs it at ERROR if it cannot be stored. A full queue is logged here and
    answered False: whatever the caller was doing (a command's answer, a refusal) goes on."""
    try:
        current_writer().submit(_fields(action, **fields))
    except DatabaseBusy:
        target, outcome = fields.get("target"), fields.get("outcome")
        log.error("audit queue full: %s %s (%s) not recorded", action, target, outcome)
        return False
    return True


def audit_query(viewer, *, device_id=None, action=None, before=None, limit=50):
    query = AuditEntry.select().order_by(AuditEntry.id.desc()).limit(limit)
    if viewer.tenant_id is not None:
        query = query.where(AuditEntry.tenant_id == viewer.tenant_id)
    if device_id is not None:
        query = query.where(AuditEntry.target == f"device:{device_id}")
    if action:
        query = query.where(AuditEntry.action == action)
    # A cursor past every possible id filters nothing, one below 1 leaves nothing; either way
    # the bound sent to the database must fit its integer column.
    if before is not None and before <= MAX_ID:
        query = query.where(AuditEntry.id < max(before, 0))
    return query


async def entries_visible_to(viewer, **filters) -> list[AuditEntry]:
    await current_writer().flush()
    return await database.list(audit_query(viewer, **filters))
