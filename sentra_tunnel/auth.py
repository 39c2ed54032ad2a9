"""Who is asking: server-side sessions behind quart-auth's cookie, CSRF and role checks, and
answers carrying secrets kept out of every cache."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from quart import Quart, Response, current_app, g, request
from quart_auth import QuartAuth, current_user, logout_user
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE

from .errors import APIError, forbidden
from .models.user import Session, User, load_session
from .security import client_ip, same_secret

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Reachable while a password change is pending, and without a CSRF token (login sets one).
PASSWORD_CHANGE_ALLOWED = {"/auth/me", "/auth/logout", "/auth/password"}
CSRF_EXEMPT = {"/auth/login", "/api/devices/register", "/login"}
# Response fields that are secrets: an answer declaring one is never stored by any cache.
SECRET_FIELDS = frozenset({"api_key", "registration_token", "csrf_token"})
# Pages and the live stream embed the CSRF token in their forms, and show registration tokens.
NO_STORE_MIMETYPES = frozenset({"text/html", "text/event-stream"})


class SessionCookies(QuartAuth):
    """quart-auth, remembering cookies it verified a moment ago.

    Verifying the signed cookie costs two HMACs and a decode on every request; the same cookie
    string verifies the same way again, and the server-side session decides whether it still
    counts. A few seconds' memory, bounded in size, is enough for a phone's bursts.
    """

    verified_for_s = 5.0
    remembered = 20_000

    def __init__(self, app: Quart) -> None:
        self._verified: dict[str, tuple[float, str | None]] = {}
        super().__init__(app)

    async def _template_context(self) -> dict:
        # quart-auth's own is a plain function, which Quart runs in a thread for every render.
        return {"current_user": self.load_user()}

    def load_token(self, token: str, app: Quart | None = None) -> str | None:
        now = time.monotonic()
        seen = self._verified.get(token)
        if seen is not None and seen[0] > now:
            return seen[1]
        auth_id = super().load_token(token, app)
        if len(self._verified) >= self.remembered:
            self._verified.clear()
        self._verified[token] = (now + self.verified_for_s, auth_id)
        return auth_id


def not_authenticated() -> APIError:
    return APIError(401, "not_authenticated", "Please log in.")


def init_app(app: Quart) -> None:
    settings = app.config["SETTINGS"]
    app.config.update(
        QUART_AUTH_COOKIE_NAME="sentra_session",
        QUART_AUTH_COOKIE_SECURE=not settings.debug,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_DURATION=settings.session_lifetime,  # the cookie's Max-Age and signature age
        QUART_AUTH_SALT="sentra-session",
    )
    SessionCookies(app)
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.before_request(_require_password_change)
    app.after_request(_no_store_secrets)


async def _load_user() -> None:
    g.user = None
    g.session = None
    raw = current_user.auth_id
    if not raw:
        return
    settings = current_app.config["SETTINGS"]
    session = await load_session(
        raw,
        idle=timedelta(seconds=settings.session_idle),
        lifetime=timedelta(seconds=settings.session_lifetime),
    )
    if session is None:
        logout_user()
        return
    g.session = session
    g.user = session.user


@functools.cache
def carries_secret(view: Callable) -> bool:
    """True when a view's declared response bodies have a secret field (read once per view)."""
    schemas = getattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {})
    return any(
        SECRET_FIELDS & set(getattr(model, "model_fields", ())) for model, _ in schemas.values()
    )


async def _no_store_secrets(response: Response) -> Response:
    """The one place that keeps secrets out of caches: every page and stream, and every answer
    whose view declares a secret field (login, /auth/me, device create, register, reprovision)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if response.mimetype in NO_STORE_MIMETYPES or (view is not None and carries_secret(view)):
        response.headers["Cache-Control"] = "no-store"
    return response


def current_account() -> User | None:
    return g.get("user")


def current_session() -> Session | None:
    return g.get("session")


async def _check_csrf() -> None:
    session = current_session()
    if session is None or request.method not in UNSAFE_METHODS or request.path in CSRF_EXEMPT:
        return
    token = request.headers.get("X-CSRF-Token", "")
    if not token and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        token = (await request.form).get("csrf_token", "")
    if not token or not same_secret(token, session.csrf_token):
        raise APIError(403, "csrf_failed", "The CSRF token is missing or wrong; reload the page.")


async def _require_password_change() -> None:
    user = current_account()
    if user is None or not user.must_change_password:
        return
    if request.path.startswith("/api/") and request.path not in PASSWORD_CHANGE_ALLOWED:
        raise APIError(
            403, "password_change_required", "Change your password before doing anything else."
        )


def require_login(view: Callable) -> Callable:
    """401 without a session; the service behind the view decides what the user's role may do."""

    @wraps(view)
    async def guarded(*args, **kwargs):
        if current_account() is None:
            raise not_authenticated()
        return await view(*args, **kwargs)

    guarded.require_login = True
    return guarded


def require_role(role: str) -> Callable:
    """401 without a session, 403 below `role`; the user is then `current_account()`."""

    def decorator(view):
        @wraps(view)
        async def guarded(*args, **kwargs):
            user = current_account()
            if user is None:
                raise not_authenticated()
            if not user.has_role(role):
                raise forbidden()
            return await view(*args, **kwargs)

        guarded.required_role = role
        return guarded

    return decorator


def actor_context(*, tenant_id: int | None) -> dict:
    """The audit fields that say who is acting, from where, in which tenant."""
    user = current_account()
    return {
        "actor": user.username if user else "anonymous",
        "tenant_id": tenant_id,
        "ip": client_ip(),
    }
