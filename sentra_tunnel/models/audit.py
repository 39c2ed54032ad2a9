"""The append-only audit trail: each entry chains the hash of the one before it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from datetime import datetime

from peewee import AutoField, CharField, DateTimeField, IntegerField

from ..db import database
from .base import MAX_ID, BaseModel, JSONField, iso, utcnow

GENESIS_HASH = "0" * 64
# One writer per event loop keeps the chain in order; several nodes will need a database lock.
_append_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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


def chain_hash(prev_hash: str, fields: dict) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict:
    fields = entry.to_dict()
    fields.pop("id")
    return fields


def _append(fields: dict) -> AuditEntry:
    with database.atomic():
        last = AuditEntry.select(AuditEntry.hash).order_by(AuditEntry.id.desc()).first()
        entry = AuditEntry(**fields)
        entry.hash = chain_hash(last.hash if last else GENESIS_HASH, _hashed_fields(entry))
        entry.save(force_insert=True)
    return entry


async def record(
    action: str,
    *,
    actor: str,
    target: str,
    outcome: str = "ok",
    tenant_id: int | None = None,
    ip: str = "",
    details: dict | None = None,
    ts: datetime | None = None,
) -> AuditEntry:
    """Append one entry; never updates an existing one."""
    fields = {
        "ts": ts or utcnow(),
        "actor": actor[:100],
        "tenant_id": tenant_id,
        "action": action,
        "target": target[:100],
        "ip": ip[:64],
        "outcome": outcome[:40],
        "details": details or {},
    }
    loop = asyncio.get_running_loop()
    lock = _append_locks.setdefault(loop, asyncio.Lock())
    async with lock:
        return await database.run(_append, fields)


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
    return await database.list(audit_query(viewer, **filters))


def verify_chain() -> tuple[int, int | None]:
    """Recompute every hash; returns (entries checked, id of the first broken entry or None)."""
    prev = GENESIS_HASH
    count = 0
    for entry in AuditEntry.select().order_by(AuditEntry.id).iterator():
        expected = chain_hash(prev, _hashed_fields(entry))
        if expected != entry.hash:
            return count, entry.id
        prev = entry.hash
        count += 1
    return count, None
