"""What every portal page shares: the login gate, page-or-fragment rendering, form helpers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from quart import Response, redirect, render_template, request, url_for

from ..auth import current_account, current_session
from ..errors import APIError, fields_from_validation, forbidden
from .i18n import gettext as _

ALWAYS_REACHABLE = {"portal_auth.password", "portal_auth.password_submit", "portal_auth.logout"}


def is_htmx() -> bool:
    """True when htmx made the request (and wants a fragment, or HX-Redirect for a move)."""
    return request.headers.get("HX-Request") == "true"


def go_to(endpoint: str, **values) -> Response:
    """Redirect; an htmx request gets HX-Redirect so the whole page moves, not a fragment."""
    return go_to_path(url_for(endpoint, **values))


def go_to_path(path: str) -> Response:
    if is_htmx():
        return Response("", 200, headers={"HX-Redirect": path})
    return redirect(path, 303)


def portal_page(role: str = "viewer") -> Callable:
    """Log in first, change a pending password first, then at least `role` (else 403)."""

    def decorator(view):
        @wraps(view)
        async def guarded(*args, **kwargs):
            user = current_account()
            if user is None:
                return go_to("portal_auth.login", next=_next_path())
            if user.must_change_password and request.endpoint not in ALWAYS_REACHABLE:
                return go_to("portal_auth.password")
            if not user.has_role(role):
                raise forbidden()
            return await view(*args, **kwargs)

        guarded.required_role = role
        return guarded

    return decorator


def _next_path() -> str | None:
    if request.method != "GET" or is_htmx() or request.path == "/":
        return None
    return request.full_path.rstrip("?")


def safe_next(value: str | None) -> str:
    """Only paths on this site; never `//evil.example`, a full URL or control characters."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        # A newline cannot go into the Location header (werkzeug raises: a 500).
        and value.isprintable()
    ):
        return value
    return url_for("portal_doors.index")


async def render(page: str, partial: str | None = None, status: int = 200, **context):
    """The full page, or only `partial` when htmx asks (same URL, `Vary: HX-Request`)."""
    template = partial if partial and is_htmx() else page
    return Response(await render_template(template, **context), status)


async def form() -> dict[str, str]:
    data = await request.form
    return {key: value.strip() for key, value in data.items() if key != "csrf_token"}


async def form_list(name: str) -> list[str]:
    return (await request.form).getlist(name)


def input_errors(error) -> dict[str, str]:
    """A validation error's messages keyed by the form input they belong to (`shop_ids.0` is
    `shop_ids`); the last message for an input is the one shown."""
    fields = fields_from_validation(error)
    return {name.partition(".")[0]: message for name, message in fields.items()}


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def csrf_token() -> str:
    session = current_session()
    return session.csrf_token if session else ""


def error_text(error: APIError) -> str:
    """A plain-words sentence in the user's language for the codes people meet."""
    known = {
        "not_found": _("This does not exist, or you may not see it."),
        "forbidden": _("You are not allowed to do this."),
        "not_authenticated": _("Please log in."),
        "csrf_failed": _("This form has expired. Reload the page and try again."),
        "rate_limited": _("Too many attempts. Please wait a moment and try again."),
        "invalid_credentials": _("Wrong username or password."),
        "device_offline": _("The door is offline. Nothing was sent."),
        "device_timeout": _("The door did not answer in time. It may or may not have acted."),
        "device_error": _("The door refused."),
        "validation_error": _("Some fields are not valid."),
        "conflict": _("This name is taken."),
        "weak_password": _("The new password is too weak."),
        "password_change_required": _("Please choose a new password first."),
        "payload_too_large": _("That is too much data."),
        "internal_error": _("Something went wrong on our side."),
    }
    return known.get(error.code, error.message)
