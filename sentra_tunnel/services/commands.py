"""The one path for a door command, used by the JSON API and the portal alike.

Authorize (404 before 403), validate the params, audit `requested`, send through the hub, audit
the outcome with its latency (same command id), and turn tunnel failures into API errors.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import current_app

from ..auth import actor_context
from ..door_schema import DoorConfigPatch, OpenParams, OverrideParams, dump
from ..errors import APIError, busy, fields_from_validation, forbidden, not_found, validation_error
from ..models import audit
from ..models.device import get_device_for
from ..tunnel import current_hub
from ..tunnel.hub import CommandFailed, DeviceOffline, DeviceRejected, DeviceTimeout, HubBusy

# name → (lowest role, params model or None for "no params")
COMMANDS: dict[str, tuple[str, type[BaseModel] | None]] = {
    "open": ("staff", OpenParams),
    "status": ("viewer", None),
    "get_config": ("viewer", None),
    "set_config": ("admin", DoorConfigPatch),
    "override": ("staff", OverrideParams),
}


def validated_params(name: str, params: Any) -> dict:
    """The params as they go to the device, or 422 with the fields that are wrong."""
    _, model = COMMANDS[name]
    if not isinstance(params, dict):
        raise validation_error({"body": "must be a JSON object"})
    if model is None:
        if params:
            raise validation_error(dict.fromkeys(params, "is not a known field"))
        return {}
    try:
        return dump(model.model_validate(params))
    except ValidationError as error:
        raise validation_error(fields_from_validation(error)) from None


def api_error_for(failure: CommandFailed) -> APIError:
    """The one mapping from a tunnel failure to the contract's error."""
    if isinstance(failure, DeviceRejected):
        detail = {"code": failure.code, "message": failure.message}
        return APIError(
            502, "device_error", "The device refused the command.", extra={"device_error": detail}
        )
    if isinstance(failure, DeviceTimeout):
        return APIError(504, "device_timeout", "The device did not answer in time.")
    if isinstance(failure, DeviceOffline):
        return APIError(503, "device_offline", str(failure) or "The device is offline.")
    if isinstance(failure, HubBusy):
        return busy(str(failure))
    return APIError(502, "device_error", str(failure))


async def _visible_device(hub, user, device_id):
    device = hub.held_device(device_id)
    if device is None or not device.is_visible_to(user):  # the live tunnel saves a query
        device = await get_device_for(user, device_id)
    return device


async def run_command(user, device_id, name: str, params: dict) -> dict:
    """Run a command on a device for this user and return what the device answered."""
    if name not in COMMANDS:
        raise not_found("command")
    hub = current_hub()
    device = await _visible_device(hub, user, device_id)
    if not user.has_role(COMMANDS[name][0]):
        raise forbidden(f"Your role may not use '{name}' on this door.")
    params = validated_params(name, params)
    command_id = hub.new_command_id()
    entry = {
        "action": f"command.{name}",
        "target": f"device:{device.id}",
        **actor_context(tenant_id=device.tenant_id),
    }
    await audit.record(
        outcome="requested", details={"command_id": command_id, "params": params}, **entry
    )
    started = time.monotonic()
    outcome, details = "ok", {}
    try:
        timeout = current_app.config["SETTINGS"].command_timeout_s
        return await hub.send(device.id, name, params, timeout=timeout, command_id=command_id)
    except CommandFailed as failure:
        error = api_error_for(failure)
        outcome, details = error.code, error.extra
        raise error from None
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        latency_ms = round((time.monotonic() - started) * 1000)
        details = {"command_id": command_id, "latency_ms": latency_ms, **details}
        # Queued, not awaited: the writer owns it, so a cancelled request still records it.
        audit.record_later(outcome=outcome, details=details, **entry)
