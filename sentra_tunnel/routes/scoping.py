"""Which tenant a new record belongs to, decided once for every route that creates one."""

from __future__ import annotations

from ..errors import forbidden, validation_error
from ..models.tenant import Tenant, get_tenant


async def tenant_for_new_record(user, tenant_id: int | None) -> Tenant:
    """A tenant admin creates only in their own tenant; a superadmin must say which tenant."""
    if user.is_superadmin:
        if tenant_id is None:
            raise validation_error({"tenant_id": "is required for the platform operator"})
        return await get_tenant(tenant_id)
    if tenant_id is not None and tenant_id != user.tenant_id:
        raise forbidden("You can only create records in your own tenant.")
    return await get_tenant(user.tenant_id)
