"""Login, logout, the current user and password changes."""

from __future__ import annotations

from pydantic import ValidationError
from quart import Blueprint, request
from quart_schema import document_request, validate_request, validate_response

from .. import ratelimit
from ..auth import (
    actor_context,
    app_settings,
    current_account,
    current_session,
    require_role,
    sign_in,
    sign_out,
)
from ..errors import APIError, fields_from_validation, validation_error
from ..models import audit
from ..models.user import User, end_sessions_of, find_user_by_name
from ..ratelimit import exempt, rate_limit
from ..schemas import LoginIn, PasswordChangeIn, SessionOut
from ..security import check_password, client_ip, hash_password, password_problem

blueprint = Blueprint("auth", __name__, url_prefix="/auth")


def session_body(user: User, csrf_token: str) -> dict:
    return {"user": user.to_dict(), "csrf_token": csrf_token}


async def _login_input() -> LoginIn:
    if request.mimetype == "application/json":
        data = await request.get_json()
    else:
        data = dict(await request.form)
    try:
        return LoginIn.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as error:
        raise validation_error(fields_from_validation(error)) from None


async def authenticate(username: str, password: str) -> User:
    """Check a login attempt; failures count against both rate limits and are audited."""
    ip = client_ip()
    settings = app_settings()
    limits = ((settings.login_ip_limit, "login-ip", ip),
              (settings.login_limit, "login-user", username.lower(), ip))  # fmt: skip
    for limit in limits:
        await ratelimit.check(*limit)
    user = await find_user_by_name(username)
    valid = await check_password(password, user.password_hash if user else None)
    if not valid or user.disabled:
        for limit in limits:
            await ratelimit.count(*limit)
        await audit.record(
            "auth.login_failed",
            actor=username,
            target=f"user:{user.id}" if user else f"username:{username[:60]}",
            outcome="invalid_credentials",
            tenant_id=user.tenant_id if user else None,
            ip=ip,
        )
        raise APIError(401, "invalid_credentials", "Wrong username or password.")
    return user


@blueprint.post("/login")
@exempt("limited per username and address inside authenticate()")
@document_request(LoginIn)
@validate_response(SessionOut)
async def login():
    """Log in with username and password (JSON or form)."""
    body = await _login_input()
    user = await authenticate(body.username, body.password)
    session = await sign_in(user)
    return session_body(user, session.csrf_token)


@blueprint.post("/logout")
@exempt("ends a session; needs one")
async def logout():
    """End this session on the server; a copied cookie stops working."""
    await sign_out()
    return "", 204


@blueprint.get("/me")
@rate_limit("api_limit")
@require_role("viewer")
@validate_response(SessionOut)
async def me():
    """The logged-in user and the CSRF token for unsafe requests."""
    return session_body(current_account(), current_session().csrf_token)


@blueprint.post("/password")
@rate_limit("login_limit", scope="password")
@require_role("viewer")
@validate_request(PasswordChangeIn)
async def change_password(data: PasswordChangeIn):
    """Change your own password; every other session of yours ends."""
    await change_own_password(current_account(), data.current_password, data.new_password)
    return "", 204


async def change_own_password(user: User, current: str, new: str) -> None:
    """Check and save; raises 401 invalid_credentials or 422 weak_password (`new_password`)."""
    if not await check_password(current, user.password_hash):
        raise APIError(401, "invalid_credentials", "The current password is wrong.")
    problem = password_problem(new, user.username)
    if problem is None and new == current:
        problem = "must differ from the current password"
    if problem:
        raise APIError(
            422, "weak_password", f"The new password {problem}.", fields={"new_password": problem}
        )
    await save_new_password(user, new, must_change=False)
    await end_sessions_of(user.id, keep_session_id=current_session().id)
    context = actor_context(tenant_id=user.tenant_id)
    await audit.record("auth.password", target=f"user:{user.id}", **context)


async def save_new_password(user: User, password: str, *, must_change: bool) -> None:
    user.password_hash = await hash_password(password)
    user.must_change_password = must_change
    await user.asave(only=[User.password_hash, User.must_change_password])
