"""Tenants as pages, for the platform operator."""

from __future__ import annotations

from quart import Blueprint

from ..auth import current_account
from ..errors import APIError
from ..models.tenant import list_tenants
from ..ratelimit import rate_limit
from ..schemas import NAME_MAX
from ..services.tenants import create_tenant
from .web import form, portal_page, render

blueprint = Blueprint("portal_tenants", __name__)


async def tenants_page(status: int = 200, **context):
    return await render(
        "tenants.html",
        "partials/_tenants.html",
        status=status,
        tenants=await list_tenants(),
        **context,
    )


@blueprint.get("/tenants")
@rate_limit("api_limit")
@portal_page("superadmin")
async def tenants():
    """Every tenant, with the form to add one (htmx: the list)."""
    return await tenants_page()


@blueprint.post("/tenants")
@rate_limit("api_limit")
@portal_page("superadmin")
async def create_tenant_submit():
    """Add a tenant."""
    name = (await form()).get("name", "")[:NAME_MAX]
    if not name:
        return await tenants_page(422, errors={"name": "required"})
    try:
        tenant = await create_tenant(current_account(), name)
    except APIError as error:
        return await tenants_page(error.status, error=error, errors=error.fields or {})
    return await tenants_page(201, done="created", notice_name=tenant.name)
