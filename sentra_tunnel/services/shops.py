"""Shops of a tenant, created by its admins (and by the platform operator, who names the tenant)."""

from __future__ import annotations

from ..auth import actor_context
from ..errors import APIError, forbidden
from ..models import audit
from ..models.tenant import Shop, find_shop_by_name
from ..schemas import clean_name
from .tenants import tenant_for_new_record


async def create_shop(actor, name: str, tenant_id: int | None) -> Shop:
    """A new shop, its name unique within the tenant."""
    if not actor.has_role("admin"):
        raise forbidden()
    name = clean_name(name)
    tenant = await tenant_for_new_record(actor, tenant_id)
    if await find_shop_by_name(tenant.id, name) is not None:
        raise APIError(
            409,
            "conflict",
            "This tenant has a shop with this name already.",
            fields={"name": "is taken"},
        )
    shop = await Shop.acreate(tenant=tenant.id, name=name)
    await audit.record(
        "shop.create",
        target=f"shop:{shop.id}",
        details={"name": name},
        **actor_context(tenant_id=tenant.id),
    )
    return shop
