"""The device tunnel: WebSocket connections from the Pis, the command hub and the event broker."""

from __future__ import annotations

from quart import Quart, current_app

from ..models.device import reset_presence
from .admission import Admission
from .broker import Broker, LocalBroker
from .hub import Hub
from .presence import PresenceWriter


def init_app(app: Quart) -> None:
    """Create the broker and hub; devices start offline and are closed cleanly at shutdown."""
    broker = LocalBroker()
    hub = Hub(broker)
    presence = PresenceWriter()
    settings = app.config["SETTINGS"]
    app.extensions["admission"] = Admission(
        settings.handshake_concurrency,
        settings.device_connect_ip_limit,
        settings.device_connect_key_limit,
    )
    app.extensions["broker"] = broker
    app.extensions["hub"] = hub
    app.extensions["presence"] = presence

    # while_serving runs after the database opens and ends before it closes.
    @app.while_serving
    async def tunnel_lifecycle():
        # This process is the only node, so no tunnel exists yet; with Redis, presence keys
        # take over this job.
        await reset_presence()
        yield
        await hub.shutdown()
        await presence.close()


def current_hub() -> Hub:
    return current_app.extensions["hub"]


def current_broker() -> Broker:
    return current_app.extensions["broker"]
