"""Door controllers (Sentra Guard devices) and the queries that scope them."""

from __future__ import annotations

import weakref

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from ..db import database
from ..errors import not_found
from .base import BaseModel, JSONField, iso, utcnow, valid_id
from .tenant import Shop, Tenant


class Device(BaseModel):
    id = AutoField()
    tenant = ForeignKeyField(Tenant, backref="devices", on_delete="CASCADE")
    shop = ForeignKeyField(Shop, backref="devices", on_delete="CASCADE")
    name = CharField(max_length=100)
    registered = BooleanField(default=False)
    # The API key is "<key_id>.<secret>": the id finds the row, the secret is checked by hash.
    key_id = CharField(max_length=32, null=True, unique=True)
    key_hash = CharField(max_length=64, null=True)
    registration_token_hash = CharField(max_length=64, null=True, unique=True)
    registration_expires_at = DateTimeField(null=True)
    online = BooleanField(default=False)
    generation = IntegerField(default=0)
    last_seen = DateTimeField(null=True)
    agent_version = CharField(max_length=64, null=True)
    hostname = CharField(max_length=255, null=True)
    state = JSONField(null=True)
    created_at = DateTimeField(default=utcnow)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "tenant_id": self.tenant_id,
            "shop_id": self.shop_id,
            "registered": self.registered,
            "online": self.online,
            "last_seen": iso(self.last_seen),
            "agent_version": self.agent_version,
            "state": self.state,
        }

    def is_visible_to(self, user) -> bool:
        """The in-memory twin of `_devices_query`, for a row this process holds already."""
        if user.tenant_id is not None and self.tenant_id != user.tenant_id:
            return False
        return not user.shop_ids or self.shop_id in user.shop_ids


def _devices_query(user):
    query = Device.select().order_by(Device.shop, Device.name)
    if user.tenant_id is not None:
        query = query.where(Device.tenant == user.tenant_id)
    if user.shop_ids:
        query = query.where(Device.shop.in_(user.shop_ids))
    return query


async def devices_visible_to(user) -> list[Device]:
    return with_presence(await database.list(_devices_query(user)))


async def get_device_for(user, device_id) -> Device:
    """The device if this user may see it; anything else is indistinguishable from absence."""
    device = None
    if valid_id(device_id):
        device = await database.first(_devices_query(user).where(Device.id == int(device_id)))
    if device is None:
        raise not_found("device")
    return with_presence([device])[0]


async def get_device(device_id: int) -> Device | None:
    device = await Device.aget_or_none(Device.id == device_id)
    return device and with_presence([device])[0]


def _find_by_key_id(key_id: str) -> Device | None:
    # Plain SQL: every tunnel handshake asks this, and composing the ORM query cost more than
    # running it. `raw` still builds a Device with every field converted.
    sql = f'SELECT * FROM "device" WHERE "key_id" = {database.param} LIMIT 1'
    return next(iter(Device.raw(sql, key_id)), None)


async def find_by_key_id(key_id: str) -> Device | None:
    return await database.run(_find_by_key_id, key_id)


async def find_by_registration_hash(registration_hash: str) -> Device | None:
    return await Device.aget_or_none(Device.registration_token_hash == registration_hash)


async def claim_registration(device_id: int, registration_hash: str, **fields) -> bool:
    """Spend the token and store the key in one step; False if someone spent it first."""
    query = Device.update(registration_token_hash=None, registration_expires_at=None, **fields)
    query = query.where(Device.id == device_id, Device.registration_token_hash == registration_hash)
    return await database.run(query.execute) == 1


async def update_device(device_id: int, **fields) -> None:
    await database.run(Device.update(**fields).where(Device.id == device_id).execute)


# Presence a tunnel knows but has not stored yet (device id → fields), per open database; reads
# lay it over the rows so an answer is never older than what the tunnel knows.
_unwritten: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def unwritten_presence() -> dict[int, dict]:
    return _unwritten.setdefault(database.obj, {})


def with_presence(devices: list[Device]) -> list[Device]:
    pending = _unwritten.get(database.obj)
    if pending:
        for device in devices:
            for name, value in pending.get(device.id, {}).items():
                setattr(device, name, value)
    return devices


def _connect(device_id: int, key_id: str, agent_version: str, state: dict) -> int | None:
    """Mark a tunnel live; its new generation, or None if the key was revoked meanwhile."""
    query = (
        Device.update(
            generation=Device.generation + 1,
            online=True,
            last_seen=utcnow(),
            agent_version=agent_version,
            state=state,
        )
        .where(Device.id == device_id, Device.key_id == key_id)
        .returning(Device.generation)
    )
    row = next(iter(query.execute()), None)
    return None if row is None else row.generation


def _disconnect(device_id: int, generation: int, last_seen) -> bool:
    """Compare-and-set: a late close of an older tunnel changes nothing."""
    query = Device.update(online=False, last_seen=last_seen).where(
        Device.id == device_id, Device.generation == generation
    )
    return query.execute() == 1


PRESENCE_CHANGES = {"connect": _connect, "disconnect": _disconnect}


# Devices per statement when presence is written behind: a fleet's heartbeats touch hundreds
# of rows per flush, and one UPDATE per row held the write turn (and so the audit entries of
# commands) for most of a second at 5,000 tunnels. Each row takes 2 parameters per field + 1.
WRITE_BEHIND_CHUNK = 500


def write_presence(changes: list[tuple], unwritten: dict[int, dict]) -> list:
    """One transaction: the fields written behind, then connects and disconnects in order."""
    with database.atomic():
        _write_behind(unwritten)
        return [PRESENCE_CHANGES[kind](*args) for kind, *args in changes]


def _write_behind(unwritten: dict[int, dict]) -> None:
    """One `UPDATE … SET f = CASE id WHEN … END WHERE id IN (…)` per set of fields and chunk.

    The statement is rendered here rather than by peewee's query builder, whose CASE nodes
    were most of an idle fleet's CPU (profiled at 2,000 tunnels). Values go
    through each field's own conversion (JSON for state). PostgreSQL will want the CASE
    values cast to the column types when it arrives."""
    by_fields: dict[tuple[str, ...], list[tuple[int, dict]]] = {}
    for device_id, fields in unwritten.items():
        by_fields.setdefault(tuple(sorted(fields)), []).append((device_id, fields))
    param = database.param
    table, key = _quoted(Device._meta.table_name), _quoted(Device.id.column_name)
    for names, rows in by_fields.items():
        columns = [Device._meta.fields[name] for name in names]
        for start in range(0, len(rows), WRITE_BEHIND_CHUNK):
            chunk = rows[start : start + WRITE_BEHIND_CHUNK]
            whens = f" WHEN {param} THEN {param}" * len(chunk)
            sets = ", ".join(f"{_quoted(f.column_name)} = CASE {key}{whens} END" for f in columns)
            ids = [device_id for device_id, _ in chunk]
            params = [
                value
                for field in columns
                for device_id, values in chunk
                for value in (device_id, field.db_value(values[field.name]))
            ]
            sql = f"UPDATE {table} SET {sets} WHERE {key} IN ({', '.join([param] * len(ids))})"
            database.execute_sql(sql, params + ids)


def _quoted(name: str) -> str:
    return name.join(database.quote)  # the database's pair of quote characters around it


async def reset_presence() -> None:
    """At start no tunnel exists yet, whatever a crashed run left behind."""
    query = Device.update(online=False).where(Device.online == True)  # noqa: E712
    await database.run(query.execute)
