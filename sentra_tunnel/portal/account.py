"""Your account: the language you read the portal in, your password, logging out."""

from __future__ import annotations

from quart import Blueprint

from ..auth import current_account
from ..ratelimit import rate_limit
from ..services.users import save_language
from . import i18n
from .web import form, portal_page, render

blueprint = Blueprint("portal_account", __name__)


@blueprint.get("/account")
@rate_limit("api_limit")
@portal_page()
async def account():
    """Your account: language, password, logout."""
    return await render("account.html")


@blueprint.post("/account/language")
@rate_limit("api_limit")
@portal_page()
async def language():
    """Choose German, English, or the browser's language."""
    user = current_account()
    choice = (await form()).get("language", "")
    await save_language(user, choice if choice in i18n.LANGUAGES else None)
    i18n.use_language(i18n.pick_language(user))
    return await render("account.html", saved=True)
