"""Tenants (Mandanten): the platform operator's view."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import actor_context, require_role
from ..errors import APIError
from ..models import audit
from ..models.tenant import Tenant, list_tenants
from ..ratelimit import rate_limit
from ..schemas import TenantIn, TenantList, TenantOne, clean_name

blueprint = Blueprint("tenants", __name__, url_prefix="/api/tenants")


async def create_tenant(name: str) -> Tenant:
    name = clean_name(name)
    if await Tenant.aget_or_none(Tenant.name == name) is not None:
        raise APIError(
            409, "conflict", "A tenant with this name exists already.", fields={"name": "is taken"}
        )
    tenant = await Tenant.acreate(name=name)
    await audit.record(
        "tenant.create",
        target=f"tenant:{tenant.id}",
        details={"name": name},
        **actor_context(tenant_id=tenant.id),
    )
    return tenant


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
    tenant = await create_tenant(data.name)
    return {"tenant": tenant.to_dict()}, 201
