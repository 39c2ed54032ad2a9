"""Shops as pages, for a tenant's admins and the platform operator."""

from __future__ import annotations

from quart import Blueprint

from ..auth import current_account
from ..errors import APIError
from ..models.tenant import list_tenants, shops_visible_to
from ..ratelimit import rate_limit
from ..schemas import NAME_MAX
from ..services.shops import create_shop
from .web import form, int_or_none, portal_page, render

blueprint = Blueprint("portal_shops", __name__)


async def shops_page(status: int = 200, **context):
    user = current_account()
    tenants = await list_tenants() if user.is_superadmin else []
    return await render(
        "shops.html",
        "partials/_shops.html",
        status=status,
        shops=await shops_visible_to(user),
        tenants=tenants,
        tenant_names={tenant.id: tenant.name for tenant in tenants},
        **context,
    )


@blueprint.get("/shops")
@rate_limit("api_limit")
@portal_page("admin")
async def shops():
    """Shops with the form to add one (htmx: the list)."""
    return await shops_page()


@blueprint.post("/shops")
@rate_limit("api_limit")
@portal_page("admin")
async def create_shop_submit():
    """Add a shop; the platform operator names the tenant."""
    data = await form()
    name = data.get("name", "")[:NAME_MAX]
    if not name:
        return await shops_page(422, errors={"name": "required"}, values=data)
    try:
        shop = await create_shop(current_account(), name, int_or_none(data.get("tenant_id")))
    except APIError as error:
        return await shops_page(error.status, error=error, errors=error.fields or {}, values=data)
    return await shops_page(201, done="created", notice_name=shop.name)
