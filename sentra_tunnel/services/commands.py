"""The one path for a door command, used by the JSON API and the portal alike.

Authorize (404 before 403), validate the params, audit `requested`, send through the hub bound
to the device's current key, check the result's shape, audit the outcome with its latency (same
command id), and turn tunnel failures into API errors. A refusal (403, 422) is audited too.
"""

from __future__ import annotations

import asyncio
import logging
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
from ..wire import ResultError, checked_result

log = logging.getLogger(__name__)
MALFORMED_RESULT = "invalid_result"  # the device_error code of a result that breaks the contract
AUDITED_FIELDS = 10  # field names a refused command's entry keeps at most

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


def api_error_for(failure: CommandFailed | ResultError) -> APIError:
    """The one mapping from a tunnel failure or a malformed result to the contract's error."""
    if isinstance(failure, DeviceRejected):
        detail = {"code": failure.code, "message": failure.message}
        return APIError(
            502, "device_error", "The device refused the command.", extra={"device_error": detail}
        )
    if isinstance(failure, ResultError):
        detail = {"code": MALFORMED_RESULT, "message": str(failure)[:200]}
        message = f"The device answered with a malformed result ({detail['message']})."
        return APIError(502, "device_error", message, extra={"device_error": detail})
    if isinstance(failure, DeviceTimeout):
        return APIError(504, "device_timeout", "The device did not answer in time.")
    if isinstance(failure, DeviceOffline):
        return APIError(503, "device_offline", str(failure) or "The device is offline.")
    if isinstance(failure, HubBusy):
        return busy(str(failure))
    return APIError(502, "device_error", str(failure))


def _authorized_params(user, name: str, params: Any, entry: dict) -> dict:
    """The params to send, or the 403/422 refusal, audited."""
    try:
        if not user.has_role(COMMANDS[name][0]):
            raise forbidden(f"Your role may not use '{name}' on this door.")
        return validated_params(name, params)
    except APIError as refused:
        fields = [str(field)[:64] for field in list(refused.fields or {})[:AUDITED_FIELDS]]
        audit.record_later(
            outcome=refused.code, details={"fields": fields} if fields else {}, **entry
        )
        raise


async def run_command(user, device_id, name: str, params: dict) -> dict:
    """Run a command on a device for this user and return what the device answered, in the
    contract's shape."""
    if name not in COMMANDS:
        raise not_found("command")
    # Read each time: the key it holds now is the only one whose tunnel may carry the command.
    device = await get_device_for(user, device_id)
    entry = {
        "action": f"command.{name}",
        "target": f"device:{device.id}",
        **actor_context(tenant_id=device.tenant_id),
    }
    params = _authorized_params(user, name, params, entry)
    hub = current_hub()
    command_id = hub.new_command_id()
    await audit.record(
        outcome="requested", details={"command_id": command_id, "params": params}, **entry
    )
    started = time.monotonic()
    outcome, details = "ok", {}
    try:
        timeout = current_app.config["SETTINGS"].command_timeout_s
        key_id = device.key_id or ""  # no key: no tunnel may carry it
        result = await hub.send(
            device.id, name, params, timeout=timeout, command_id=command_id, key_id=key_id
        )
        return checked_result(name, result)
    except (CommandFailed, ResultError) as failure:
        if isinstance(failure, ResultError):
            log.warning("device:%s answered %s with a malformed result", device.id, name)
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
