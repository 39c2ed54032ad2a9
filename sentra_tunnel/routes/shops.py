"""Shops of a tenant."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import current_account, require_role
from ..models.tenant import shops_visible_to
from ..ratelimit import rate_limit
from ..schemas import ShopIn, ShopList, ShopOne
from ..services.shops import create_shop

blueprint = Blueprint("shops", __name__, url_prefix="/api/shops")


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
