"""Door controllers (Sentra Guard devices) and the queries that scope them."""

from __future__ import annotations

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
from .base import BaseModel, JSONField, iso, utcnow
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


def _devices_query(user):
    query = Device.select().order_by(Device.shop, Device.name)
    if user.tenant_id is not None:
        query = query.where(Device.tenant == user.tenant_id)
    if user.shop_ids:
        query = query.where(Device.shop.in_(user.shop_ids))
    return query


async def devices_visible_to(user) -> list[Device]:
    return await database.list(_devices_query(user))


async def get_device_for(user, device_id) -> Device:
    """The device if this user may see it; anything else is indistinguishable from absence."""
    device = await database.first(_devices_query(user).where(Device.id == device_id))
    if device is None:
        raise not_found("device")
    return device
