"""Tenants (Mandanten): the platform operator creates them; every new record belongs to one."""

from __future__ import annotations

from ..auth import actor_context
from ..errors import APIError, forbidden, validation_error
from ..models import audit
from ..models.tenant import Tenant, find_tenant_by_name, get_tenant
from ..schemas import clean_name


async def tenant_for_new_record(user, tenant_id: int | None) -> Tenant:
    """A tenant admin creates only in their own tenant; a superadmin must say which tenant."""
    if user.is_superadmin:
        if tenant_id is None:
            raise validation_error({"tenant_id": "is required for the platform operator"})
        return await get_tenant(tenant_id)
    if tenant_id is not None and tenant_id != user.tenant_id:
        raise forbidden("You can only create records in your own tenant.")
    return await get_tenant(user.tenant_id)


async def create_tenant(actor, name: str) -> Tenant:
    """A new tenant with a name no other tenant has; only the platform operator creates one."""
    if not actor.is_superadmin:
        raise forbidden()
    name = clean_name(name)
    if await find_tenant_by_name(name) is not None:
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
