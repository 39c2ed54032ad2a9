"""The Raspberry Pi agent: keeps the tunnel to the server up and drives the door."""

from importlib.metadata import PackageNotFoundError, version

try:
    AGENT_VERSION = version("sentra-tunnel")
except PackageNotFoundError:  # running from a source checkout
    AGENT_VERSION = "0.0.0"
