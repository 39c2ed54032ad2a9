"""Door controllers: list, create, register (by the Pi), status, reprovision, revoke, delete.

Device routes need only a session; visibility is checked before the role, so a device the
user cannot see is 404 and a visible one their role may not manage is 403.
"""

from __future__ import annotations

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from ..auth import current_account, require_login, require_role
from ..models.base import iso
from ..models.device import devices_visible_to, get_device_for
from ..ratelimit import rate_limit
from ..schemas import (
    DeviceCreated,
    DeviceIn,
    DeviceList,
    DeviceOne,
    Registered,
    RegisterIn,
    RegistrationOut,
)
from ..security import client_ip, request_scheme
from ..services.devices import (
    create_device,
    delete_device,
    register_device,
    reprovision_device,
    revoke_device,
)

blueprint = Blueprint("devices", __name__, url_prefix="/api/devices")


def _ws_url() -> str:
    scheme = "wss" if request_scheme() == "https" else "ws"
    return f"{scheme}://{request.host}/ws"


@blueprint.get("")
@rate_limit("api_limit")
@require_login
@validate_response(DeviceList)
async def index():
    """Devices the user may see."""
    devices = await devices_visible_to(current_account())
    return {"devices": [device.to_dict() for device in devices]}


@blueprint.post("/create")
@rate_limit("api_limit")
@require_role("admin")
@validate_request(DeviceIn)
@validate_response(DeviceCreated, 201)
async def create(data: DeviceIn):
    """Create a device in a shop; its one-time registration token is shown once."""
    device, token, expires_at = await create_device(current_account(), data.name, data.shop_id)
    body = {"device": device.to_dict(), "registration_token": token, "expires_at": iso(expires_at)}
    return body, 201


@blueprint.post("/register")
@rate_limit("register_limit")
@validate_request(RegisterIn)
@validate_response(Registered, 201)
async def register(data: RegisterIn):
    """Trade a registration token for the device's API key (called by the Pi, no session)."""
    device, api_key = await register_device(
        data.token, data.hostname, data.agent_version, client_ip()
    )
    return {"device_id": device.id, "api_key": api_key, "ws_url": _ws_url()}, 201


@blueprint.get("/<int:device_id>/status")
@rate_limit("api_limit")
@require_login
@validate_response(DeviceOne)
async def status(device_id: int):
    """The device's presence and last known door state."""
    return {"device": (await get_device_for(current_account(), device_id)).to_dict()}


@blueprint.post("/<int:device_id>/reprovision")
@rate_limit("api_limit")
@require_login
@validate_response(RegistrationOut, 201)
async def reprovision(device_id: int):
    """Revoke the key and issue a new registration token (admin)."""
    user = current_account()
    token, expires_at = await reprovision_device(user, await get_device_for(user, device_id))
    return {"registration_token": token, "expires_at": iso(expires_at)}, 201


@blueprint.post("/<int:device_id>/revoke")
@rate_limit("api_limit")
@require_login
async def revoke(device_id: int):
    """Kill the device's key; its tunnel closes at once (admin)."""
    user = current_account()
    await revoke_device(user, await get_device_for(user, device_id))
    return "", 204


@blueprint.delete("/<int:device_id>")
@rate_limit("api_limit")
@require_login
async def delete(device_id: int):
    """Delete the device; its tunnel closes at once (admin)."""
    user = current_account()
    await delete_device(user, await get_device_for(user, device_id))
    return "", 204
