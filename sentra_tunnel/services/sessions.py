"""Sessions: log in (rate-limited, audited), log out, and change your own password, for the API
and the portal alike."""

from __future__ import annotations

from quart import current_app, g, request
from quart_auth import AuthUser, current_user, login_user, logout_user

from .. import ratelimit
from ..auth import actor_context, current_account, current_session
from ..errors import APIError
from ..models import audit
from ..models.user import (
    Session,
    User,
    end_session,
    end_sessions_of,
    find_user_by_name,
    normalize_username,
    start_session,
)
from ..security import check_password, client_ip, password_problem
from .users import save_password


async def authenticate(username: str, password: str) -> User:
    """Check a login attempt; failures are audited.

    Every attempt is counted before its password is checked: against its address, against the
    account from every address, and against the account's failures in a row (growing delay).
    A success gives back the account's counts, not the address's.
    """
    name, ip = normalize_username(username), client_ip()
    settings = current_app.config["SETTINGS"]
    await ratelimit.hit(settings.login_ip_limit, "login-ip", ip)
    await ratelimit.hit(settings.login_limit, "login-user", name)
    ratelimit.login_backoff().admit(name, settings.login_backoff_after)
    user = await find_user_by_name(name)
    valid = await check_password(password, user.password_hash if user else None)
    if not valid or user.disabled:
        await audit.record(
            "auth.login_failed",
            actor=name[:64],
            target=f"user:{user.id}" if user else f"username:{name[:60]}",
            outcome="invalid_credentials",
            tenant_id=user.tenant_id if user else None,
            ip=ip,
        )
        raise APIError(401, "invalid_credentials", "Wrong username or password.")
    await ratelimit.refund(settings.login_limit, "login-user", name)
    ratelimit.login_backoff().succeeded(name)
    return user


async def sign_in(user: User) -> Session:
    """Start a session for a user whose credentials were checked, and audit the login."""
    if current_user.auth_id:
        await end_session(current_user.auth_id)  # a new login replaces this browser's session
    session = await _begin_session(user)
    await audit.record(
        "auth.login", target=f"user:{user.id}", **actor_context(tenant_id=user.tenant_id)
    )
    return session


async def _begin_session(user: User, csrf_token: str | None = None) -> Session:
    """A new session for this browser: its cookie lives as long as the session may."""
    client = request.headers.get("User-Agent", "")[:150]
    raw, session = await start_session(user, client, csrf_token=csrf_token)
    login_user(AuthUser(raw), remember=True)
    g.user, g.session = user, session
    return session


async def sign_out() -> None:
    """End this browser's session server-side (audited), so a copied cookie stops working."""
    user = current_account()
    if user is not None:
        context = actor_context(tenant_id=user.tenant_id)
        await audit.record("auth.logout", target=f"user:{user.id}", **context)
    if current_user.auth_id:
        await end_session(current_user.auth_id)
    logout_user()
    g.user = g.session = None


async def change_own_password(user: User, current: str, new: str) -> None:
    """Check and save; raises 401 invalid_credentials (audited) or 422 weak_password
    (`new_password`).

    Every session of the user ends; this browser continues in a new one (a new cookie, the same
    CSRF token, so a client holding it needs no second call), and the old id is dead.
    """
    context = actor_context(tenant_id=user.tenant_id)
    if not await check_password(current, user.password_hash):
        await audit.record(
            "auth.password_failed",
            target=f"user:{user.id}",
            outcome="invalid_credentials",
            **context,
        )
        raise APIError(401, "invalid_credentials", "The current password is wrong.")
    problem = password_problem(new, user.username)
    if problem is None and new == current:
        problem = "must differ from the current password"
    if problem:
        raise APIError(
            422, "weak_password", f"The new password {problem}.", fields={"new_password": problem}
        )
    await save_password(user, new, must_change=False)
    csrf_token = current_session().csrf_token
    await end_sessions_of(user.id)
    await _begin_session(user, csrf_token)
    await audit.record("auth.password", target=f"user:{user.id}", **context)
