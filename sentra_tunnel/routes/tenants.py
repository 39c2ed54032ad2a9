"""Tenants (Mandanten): the platform operator's view."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import current_account, require_role
from ..models.tenant import list_tenants
from ..ratelimit import rate_limit
from ..schemas import TenantIn, TenantList, TenantOne
from ..services.tenants import create_tenant

blueprint = Blueprint("tenants", __name__, url_prefix="/api/tenants")


@blueprint.get("")
@rate_limit("api_limit")
@require_role("superadmin")
@validate_response(TenantList)
async def index():
    """Every tenant on this server."""
    return {"tenants": [tenant.to_dict() for tenant in await list_tenants()]}


@blueprint.post("")
@rate_limit("api_limit")
@require_role("superadmin")
@validate_request(TenantIn)
@validate_response(TenantOne, 201)
async def create(data: TenantIn):
    """Create a tenant."""
    tenant = await create_tenant(current_account(), data.name)
    return {"tenant": tenant.to_dict()}, 201
