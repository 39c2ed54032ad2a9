"""The API's description: `/openapi.json` and Swagger UI at `/docs`, served by this server.

The docs page loads its assets and its one script from here, so it runs under the same strict
Content-Security-Policy as the portal. In production both need a login unless
`PUBLIC_API_DOCS=true`: the contract is no secret, but a map of every endpoint need not be
handed to whoever scans the host. With `DEBUG=true` they are open, for local development.
"""

from __future__ import annotations

from quart import Quart, current_app, redirect, render_template, request, url_for
from quart_schema import hide

from .auth import current_account, not_authenticated
from .ratelimit import exempt, rate_limit

SWAGGER_UI = "vendor/swagger-ui-5.32.0"
DOCS_PATHS = ("/docs", "/openapi.json")


@hide
@exempt("static page; its data comes from /openapi.json")
async def docs():
    """Interactive API docs (Swagger UI)."""
    return await render_template("api_docs.html", swagger=SWAGGER_UI)


async def _docs_need_a_login():
    settings = current_app.config["SETTINGS"]
    if request.path not in DOCS_PATHS or settings.public_api_docs or settings.debug:
        return None
    if current_account() is not None:
        return None
    if request.path == "/docs":
        return redirect(url_for("portal_auth.login", next="/docs"))
    raise not_authenticated()


def init_app(app: Quart) -> None:
    app.add_url_rule("/docs", "api_docs", docs, methods=["GET"])
    # quart-schema's view builds the whole document on every request: limited like the API.
    app.view_functions["openapi"] = rate_limit("api_limit")(app.view_functions["openapi"])
    app.before_request(_docs_need_a_login)
