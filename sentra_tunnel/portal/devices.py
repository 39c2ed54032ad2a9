"""Device administration: create (token shown once), reprovision, revoke, delete."""

from __future__ import annotations

from quart import Blueprint, request

from ..auth import current_account
from ..errors import APIError
from ..models.device import devices_visible_to, get_device_for
from ..models.tenant import list_tenants, shops_visible_to
from ..ratelimit import rate_limit
from ..security import request_scheme
from ..services import devices
from .web import form, int_or_none, portal_page, render

blueprint = Blueprint("portal_devices", __name__, url_prefix="/devices")


async def devices_page(status: int = 200, **context):
    user = current_account()
    shops = await shops_visible_to(user)
    tenants = {tenant.id: tenant.name for tenant in await list_tenants()}
    return await render(
        "devices.html",
        "partials/_devices.html",
        status=status,
        devices=[device.to_dict() for device in await devices_visible_to(user)],
        shops=shops,
        shop_names={shop.id: shop.name for shop in shops},
        tenant_names=tenants if user.is_superadmin else {},
        server_url=f"{request_scheme()}://{request.host}",
        **context,
    )


@blueprint.get("")
@rate_limit("api_limit")
@portal_page("admin")
async def index():
    """Devices of the tenant, with the form to add one (htmx: the list)."""
    return await devices_page()


@blueprint.post("")
@rate_limit("api_limit")
@portal_page("admin")
async def create():
    """Create a device; its registration token is shown once."""
    data = await form()
    name, shop_id = data.get("name", "")[:100], int_or_none(data.get("shop_id"))
    if not name or shop_id is None:
        fields = {
            key: "required" for key, value in (("name", name), ("shop_id", shop_id)) if not value
        }
        return await devices_page(422, errors=fields, values=data)
    try:
        device, token, expires_at = await devices.create_device(current_account(), name, shop_id)
    except APIError as error:
        return await devices_page(error.status, error=error, values=data)
    return await devices_page(
        201, token=token, expires_at=expires_at, token_device=device.to_dict()
    )


@blueprint.post("/<int:device_id>/reprovision")
@rate_limit("api_limit")
@portal_page("admin")
async def reprovision(device_id: int):
    """A new registration token; the old key stops working at once."""
    user = current_account()
    device = await get_device_for(user, device_id)
    token, expires_at = await devices.reprovision_device(user, device)
    return await devices_page(token=token, expires_at=expires_at, token_device=device.to_dict())


@blueprint.post("/<int:device_id>/revoke")
@rate_limit("api_limit")
@portal_page("admin")
async def revoke(device_id: int):
    """Revoke the device's key; its tunnel closes."""
    user = current_account()
    device = await get_device_for(user, device_id)
    await devices.revoke_device(user, device)
    return await devices_page(done="revoked", notice_name=device.name)


@blueprint.post("/<int:device_id>/delete")
@rate_limit("api_limit")
@portal_page("admin")
async def delete(device_id: int):
    """Delete the device and its history of state."""
    user = current_account()
    device = await get_device_for(user, device_id)
    await devices.delete_device(user, device)
    return await devices_page(done="deleted", notice_name=device.name)
