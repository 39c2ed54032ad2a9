"""Tenants (Mandanten) and their shops, with the queries that scope them."""

from __future__ import annotations

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField

from ..db import database
from ..errors import not_found
from .base import BaseModel, utcnow, valid_id


class Tenant(BaseModel):
    id = AutoField()
    name = CharField(max_length=100, unique=True)
    created_at = DateTimeField(default=utcnow)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name}


class Shop(BaseModel):
    id = AutoField()
    tenant = ForeignKeyField(Tenant, backref="shops", on_delete="CASCADE")
    name = CharField(max_length=100)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tenant", "name"), True),)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "tenant_id": self.tenant_id}


async def list_tenants() -> list[Tenant]:
    return await database.list(Tenant.select().order_by(Tenant.name))


async def get_tenant(tenant_id) -> Tenant:
    tenant = None
    if valid_id(tenant_id):
        tenant = await Tenant.aget_or_none(Tenant.id == int(tenant_id))
    if tenant is None:
        raise not_found("tenant")
    return tenant


async def find_tenant_by_name(name: str) -> Tenant | None:
    return await Tenant.aget_or_none(Tenant.name == name)


def _shops_query(user):
    query = Shop.select().order_by(Shop.tenant, Shop.name)
    if user.tenant_id is not None:
        query = query.where(Shop.tenant == user.tenant_id)
    if user.shop_ids:
        query = query.where(Shop.id.in_(user.shop_ids))
    return query


async def shops_visible_to(user, tenant_id: int | None = None) -> list[Shop]:
    query = _shops_query(user)
    if tenant_id is not None:
        query = query.where(Shop.tenant == tenant_id)
    return await database.list(query)


async def get_shop_for(user, shop_id) -> Shop:
    """The shop if this user may see it; anything else is indistinguishable from absence."""
    shop = None
    if valid_id(shop_id):
        shop = await database.first(_shops_query(user).where(Shop.id == int(shop_id)))
    if shop is None:
        raise not_found("shop")
    return shop


async def find_shop_by_name(tenant_id: int, name: str) -> Shop | None:
    """The tenant's shop of this name, if it has one."""
    return await Shop.aget_or_none(Shop.tenant == tenant_id, Shop.name == name)


async def shop_ids_in_tenant(tenant_id: int | None, shop_ids: list[int]) -> set[int]:
    """Those of `shop_ids` that are shops of this tenant."""
    query = Shop.select(Shop.id).where(Shop.tenant == tenant_id, Shop.id.in_(shop_ids))
    return {shop.id for shop in await database.list(query)}
