"""Sentra Tunnel Server: remote access to Sentra Guard door controllers."""

from __future__ import annotations


def create_app(config=None):
    """Build the server app; `config` is a Settings, or overrides applied to the environment's.

    The import happens here so that the Pi agent, which lives in this package too, can import
    `sentra_tunnel.agent` without loading the server's web stack.
    """
    from .app import build_app

    return build_app(config)
