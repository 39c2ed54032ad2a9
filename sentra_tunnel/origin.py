"""Cross-site writes are refused before anything runs, the login included.

The CSRF token guards requests that carry a session; a login has no session yet, so a form on
another site could log a phone into the attacker's account. Browsers say where a request comes
from (`Sec-Fetch-Site`, `Origin`): any unsafe request from another site answers
`403 csrf_failed`. Clients that are not browsers (curl, integrations, the Pi) send neither
header and are not affected.
"""

from __future__ import annotations

from quart import Quart, request

from .errors import APIError
from .security import request_host, request_scheme

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
TRUSTED_FETCH_SITES = {"same-origin", "none"}  # "none": the user typed it or used a bookmark


def cross_site() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in TRUSTED_FETCH_SITES:
        return True
    origin = request.headers.get("Origin")
    return origin is not None and origin != f"{request_scheme()}://{request_host()}"


async def _refuse_cross_site_writes() -> None:
    if request.method in UNSAFE_METHODS and cross_site():
        raise APIError(403, "csrf_failed", "Requests from other sites are not accepted here.")


def init_app(app: Quart) -> None:
    app.before_request(_refuse_cross_site_writes)
