"""Moved to `sentra_tunnel.wire`; kept until every importer has followed."""

from ..wire import *  # noqa: F403
