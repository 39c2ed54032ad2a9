"""The device tunnel: WebSocket connections from the Pis, the command hub and the event broker."""
