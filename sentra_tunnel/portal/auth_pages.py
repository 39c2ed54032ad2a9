"""Log in, log out and the forced password change, as pages."""

from __future__ import annotations

from quart import Blueprint, request

from ..auth import current_account
from ..errors import APIError
from ..models.user import User
from ..ratelimit import exempt, rate_limit
from ..services.sessions import authenticate, change_own_password, sign_in, sign_out
from . import i18n
from .i18n import gettext as _
from .web import error_text, form, go_to, go_to_path, portal_page, render, safe_next

blueprint = Blueprint("portal_auth", __name__)


@blueprint.get("/login")
@rate_limit("api_limit")
async def login():
    """The login form."""
    if current_account() is not None:
        return go_to("portal_doors.index")
    return await render("login.html", next=request.args.get("next", ""))


@blueprint.post("/login")
@exempt("limited per username and address inside authenticate()")
async def login_submit():
    """Check the credentials, start a session, then doors or the password change."""
    data = await form()
    username, next_path = data.get("username", "")[:200], data.get("next", "")
    try:
        user = await authenticate(username, (await request.form).get("password", "")[:200])
    except APIError as error:
        status = error.status if error.status in (401, 429) else 400
        return await render(
            "login.html", status=status, error=error_text(error), username=username, next=next_path
        )
    await sign_in(user)
    i18n.use_language(i18n.pick_language(user))
    if user.must_change_password:
        return go_to("portal_auth.password")
    return go_to_path(safe_next(next_path))


@blueprint.post("/logout")
@exempt("ends a session; needs one")
async def logout():
    """End this session on the server."""
    await sign_out()
    return go_to("portal_auth.login")


@blueprint.get("/password")
@rate_limit("api_limit")
@portal_page()
async def password():
    """Choose a new password (the only page until a pending change is done)."""
    return await render("password.html", forced=current_account().must_change_password)


@blueprint.post("/password")
@rate_limit("login_limit", scope="password")
@portal_page()
async def password_submit():
    """Change your own password; your other sessions end."""
    user = current_account()
    forced = user.must_change_password
    data = await request.form
    problem = await _change_password(
        user, data.get("current_password", ""), data.get("new_password", ""), data
    )
    if problem:
        return await render("password.html", status=422, forced=forced, errors=problem)
    if forced:
        return go_to("portal_doors.index")
    return await render("password.html", forced=False, saved=True)


async def _change_password(user: User, current: str, new: str, data) -> dict | None:
    """The same rules as POST /auth/password; returns field errors, or None when saved."""
    if new != data.get("new_password_repeat", new):
        return {"new_password_repeat": _("The two new passwords differ.")}
    try:
        await change_own_password(user, current[:200], new[:200])
    except APIError as error:
        if error.code == "invalid_credentials":
            return {"current_password": _("The current password is wrong.")}
        return {"new_password": password_problem_text(error.fields["new_password"])}
    return None


def password_problem_text(problem: str) -> str:
    if problem.startswith("must be at least"):
        return _("Use at least 10 characters.")
    if problem.startswith("must be at most"):
        return _("Use at most 72 bytes.")
    if problem.startswith("must differ"):
        return _("Choose a password different from the current one.")
    return _("This password is too easy to guess.")
