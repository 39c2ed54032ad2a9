"""`GET /ws`: the tunnel's socket: admit and authenticate the upgrade, then run a Connection."""

from __future__ import annotations

from quart import Blueprint, current_app, jsonify, websocket

from ..errors import APIError
from ..ratelimit import exempt
from ..security import client_ip
from ..services.devices import authenticate_key
from . import current_hub
from .budget import TunnelLimits
from .connection import Connection
from .refusals import RefusalLog
from .socket import TunnelSocket

blueprint = Blueprint("tunnel", __name__)


def _bearer_key() -> str:
    scheme, _, key = websocket.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def _refused(status: int, code: str, message: str, headers: dict | None = None):
    return jsonify(APIError(status, code, message).body()), status, headers or {}


def _rejected(key: str):
    refusals = current_app.extensions.setdefault("ws_refusals", RefusalLog())
    refusals.refused(client_ip(), key)
    return _refused(
        401,
        "invalid_key",
        "The device API key is missing, unknown or revoked.",
        {"WWW-Authenticate": "Bearer"},
    )


@blueprint.websocket("/ws")
@exempt("admission control: handshakes in progress, per address and per key (tunnel/admission)")
async def tunnel():
    """The device tunnel (WebSocket)."""
    if "Origin" in websocket.headers:
        # Devices send no Origin; a browser always does, and no web page may open a tunnel.
        return _refused(403, "forbidden", "Browsers may not open a device tunnel.")
    key = _bearer_key()
    key_id = key.partition(".")[0][:32]
    admission = current_app.extensions["admission"]
    slot = await admission.admit(client_ip(), key_id)  # refusals are plain HTTP, no upgrade
    try:
        device = await authenticate_key(key) if key else None
        # A key the hub refused is dead even while the database has not caught up.
        if device is None or current_hub().refuses_key(device.key_id):
            return _rejected(key)
        await websocket.accept()
        connection = Connection(
            TunnelSocket(websocket._get_current_object()),
            device,
            current_hub(),
            current_app.extensions["presence"],
            TunnelLimits.of(current_app.config["SETTINGS"]),
            client_ip(),
        )
        connection.on_ready = slot.release
        connection.on_flood = lambda: admission.cool_down(key_id)
        await connection.serve()
    finally:
        slot.release()
