"""Shops of a tenant."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import actor_context, current_account, require_role
from ..errors import APIError
from ..models import audit
from ..models.tenant import Shop, shops_visible_to
from ..ratelimit import rate_limit
from ..schemas import ShopIn, ShopList, ShopOne, clean_name
from .scoping import tenant_for_new_record

blueprint = Blueprint("shops", __name__, url_prefix="/api/shops")


async def create_shop(user, name: str, tenant_id: int | None) -> Shop:
    name = clean_name(name)
    tenant = await tenant_for_new_record(user, tenant_id)
    if await Shop.aget_or_none(Shop.tenant == tenant.id, Shop.name == name) is not None:
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


@blueprint.get("")
@rate_limit("api_limit")
@require_role("admin")
@validate_response(ShopList)
async def index():
    """Shops the user administers (a superadmin sees every tenant's)."""
    shops = await shops_visible_to(current_account())
    return {"shops": [shop.to_dict() for shop in shops]}


@blueprint.post("")
@rate_limit("api_limit")
@require_role("admin")
@validate_request(ShopIn)
@validate_response(ShopOne, 201)
async def create(data: ShopIn):
    """Create a shop; a superadmin names the tenant."""
    shop = await create_shop(current_account(), data.name, data.tenant_id)
    return {"shop": shop.to_dict()}, 201
