"""Login, logout, the current user and password changes."""

from __future__ import annotations

from pydantic import ValidationError
from quart import Blueprint, request
from quart_schema import document_request, validate_request, validate_response

from ..auth import current_account, current_session, require_login
from ..errors import fields_from_validation, validation_error
from ..models.user import User
from ..ratelimit import exempt, rate_limit
from ..schemas import LoginIn, PasswordChangeIn, SessionOut
from ..services.sessions import authenticate, change_own_password, sign_in, sign_out

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
@require_login
@validate_response(SessionOut)
async def me():
    """The logged-in user and the CSRF token for unsafe requests."""
    return session_body(current_account(), current_session().csrf_token)


@blueprint.post("/password")
@rate_limit("login_limit", scope="password")
@require_login
@validate_request(PasswordChangeIn)
async def change_password(data: PasswordChangeIn):
    """Change your own password; every other session of yours ends."""
    await change_own_password(current_account(), data.current_password, data.new_password)
    return "", 204
