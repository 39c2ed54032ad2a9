"""The staff portal: server-rendered pages, live door partials over SSE, German and English."""

from __future__ import annotations

from quart import Quart, request
from quart_schema import hide

from ..auth import current_account
from . import (
    account,
    audit,
    auth_pages,
    devices,
    door_actions,
    doors,
    i18n,
    labels,
    manifest,
    shops,
    stream,
    tenants,
    users,
)
from .web import csrf_token, error_text, is_htmx

BLUEPRINTS = (
    auth_pages.blueprint,
    doors.blueprint,
    door_actions.blueprint,
    stream.blueprint,
    devices.blueprint,
    users.blueprint,
    shops.blueprint,
    tenants.blueprint,
    audit.blueprint,
    account.blueprint,
    manifest.blueprint,
)
STATIC_MAX_AGE_S = 3600


def init_app(app: Quart) -> None:
    """Register the portal's blueprints, translations and template helpers."""
    i18n.init_app(app)
    app.jinja_env.globals.update(csrf_token=csrf_token, error_text=error_text)
    app.jinja_env.globals.update(labels.TEMPLATE_GLOBALS)
    app.context_processor(_template_context)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("portal_"):
            hide(view)  # pages, not API: keep them out of the OpenAPI document
    app.after_request(_vary_on_htmx)
    app.config.setdefault("SEND_FILE_MAX_AGE_DEFAULT", STATIC_MAX_AGE_S)


async def _template_context() -> dict:
    return {"user": current_account(), "is_htmx": is_htmx()}


async def _vary_on_htmx(response):
    """Pages and their fragments share URLs, so caches must keep them apart; the one place that
    says so, for every page, fragment, command answer and stream."""
    if not request.path.startswith(("/api/", "/auth/", "/static/", "/ws")):
        response.vary.add("HX-Request")
    return response
