"""Security headers on every response: pages run only this server's own scripts and styles,
the API docs included."""

from __future__ import annotations

from quart import Quart, Response

from .security import request_scheme

# htmx 4 needs no eval here (no hx-on attributes), so scripts and styles come from this origin only.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip


def init_app(app: Quart) -> None:
    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request_scheme() == "https":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
