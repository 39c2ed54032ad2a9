"""Transport safety shared by `sentra-register` and `sentra-agent`: URL checks and TLS context."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SECURE_SCHEMES = frozenset({"https", "wss"})
PLAIN_SCHEMES = frozenset({"http", "ws"})


class InsecureURLError(ValueError):
    """A URL that would send the token or API key in clear text to another machine."""


def check_url(url: str, *, insecure: bool) -> bool:
    """Return True if `url` is plain (http/ws); raise if plain to a non-local host.

    Plain transport is fine on the same machine (development) or with `insecure`.
    """
    parts = urlsplit(url)
    if parts.scheme in SECURE_SCHEMES and parts.hostname:
        return False
    if parts.scheme not in PLAIN_SCHEMES or not parts.hostname:
        raise InsecureURLError(f"not an http(s)/ws(s) URL with a host: {url!r}")
    if parts.hostname not in LOCAL_HOSTS and not insecure:
        raise InsecureURLError(
            f"refusing plain {parts.scheme}:// to {parts.hostname} (the key would travel "
            "unencrypted); use https, or --insecure if you really mean it"
        )
    return True


def ssl_context(ca_file: str | None, *, insecure: bool) -> ssl.SSLContext:
    """Verify certificates (system store, or `ca_file` for a private CA) unless `insecure`."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


INSECURE_WARNING = (
    "WARNING: insecure mode: TLS certificates are not verified and plain http/ws is allowed; "
    "anyone on the network path can impersonate the server"
)
