"""Door commands: phone → server → the Pi's tunnel → the door → back.

Only a session is required here; `run_command` checks visibility (404) before the role (403).
Responses are documented, not re-validated: this is the hot path, and `_run` builds the body in
the documented shape itself.
"""

from __future__ import annotations

from quart import Blueprint, request
from quart_schema import document_request, document_response

from ..auth import current_account, require_login
from ..door_schema import DoorConfigPatch, OpenParams, OverrideParams
from ..errors import validation_error
from ..ratelimit import rate_limit
from ..schemas import CommandOut
from ..services.commands import run_command

blueprint = Blueprint("commands", __name__, url_prefix="/api/commands")


async def _body() -> dict:
    """The JSON body, or {} when there is none (`open` and `status` may come bare)."""
    if not await request.get_data():
        return {}
    body = await request.get_json(force=True)
    if not isinstance(body, dict):
        raise validation_error({"body": "must be a JSON object"})
    return body


async def _run(device_id: int, name: str, params: dict) -> dict:
    result = await run_command(current_account(), device_id, name, params)
    return {"ok": True, "result": result}


@blueprint.post("/<int:device_id>/open")
@rate_limit("api_limit")
@require_login
@document_request(OpenParams)
@document_response(CommandOut)
async def open_door(device_id: int):
    """Open the door for `duration_s` seconds (staff)."""
    return await _run(device_id, "open", await _body())


@blueprint.post("/<int:device_id>/status")
@rate_limit("api_limit")
@require_login
@document_response(CommandOut)
async def status(device_id: int):
    """Ask the device for its current DoorState."""
    return await _run(device_id, "status", await _body())


@blueprint.get("/<int:device_id>/config")
@rate_limit("api_limit")
@require_login
@document_response(CommandOut)
async def get_config(device_id: int):
    """Read the device's door configuration."""
    return await _run(device_id, "get_config", {})


@blueprint.post("/<int:device_id>/config")
@rate_limit("api_limit")
@require_login
@document_request(DoorConfigPatch)
@document_response(CommandOut)
async def set_config(device_id: int):
    """Change the door configuration; keys left out keep their value (admin)."""
    return await _run(device_id, "set_config", await _body())


@blueprint.post("/<int:device_id>/override")
@rate_limit("api_limit")
@require_login
@document_request(OverrideParams)
@document_response(CommandOut)
async def override(device_id: int):
    """Hold the door open or locked, for a while or until changed (staff)."""
    return await _run(device_id, "override", await _body())
