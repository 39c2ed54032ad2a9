"""`GET /ws`: the device tunnel's socket: authenticate the upgrade, then run a Connection."""

from __future__ import annotations

from quart import Blueprint, current_app, jsonify, websocket

from ..devices import authenticate_key
from ..errors import APIError
from ..ratelimit import exempt
from ..security import client_ip
from . import current_hub
from .connection import Connection

blueprint = Blueprint("tunnel", __name__)


def _bearer_key() -> str:
    scheme, _, key = websocket.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def _rejected():
    error = APIError(401, "invalid_key", "The device API key is missing, unknown or revoked.")
    return jsonify(error.body()), 401, {"WWW-Authenticate": "Bearer"}


@blueprint.websocket("/ws")
@exempt("authenticated by a 256-bit device key; one tunnel per device, closed when replaced")
async def tunnel():
    """The device tunnel (WebSocket)."""
    key = _bearer_key()
    device = await authenticate_key(key) if key else None
    if device is None:
        return _rejected()  # before accept: a plain HTTP 401, no upgrade
    await websocket.accept()
    settings = current_app.config["SETTINGS"]
    connection = Connection(
        websocket._get_current_object(), device, current_hub(), settings.heartbeat_s, client_ip()
    )
    await connection.serve()
