"""The server application: settings, extensions, blueprints and the database lifecycle."""

from __future__ import annotations

from quart import Quart
from quart.sessions import SecureCookieSessionInterface
from quart_schema import Info, QuartSchema

from . import api_docs, auth, errors, headers, logs, origin, portal, ratelimit, tunnel
from .bootstrap import ensure_first_admin
from .config import PROJECT_ROOT, Settings, from_environment
from .db import database, open_async
from .models import audit
from .routes import audit as audit_routes
from .routes import auth as auth_routes
from .routes import commands, devices, shops, tenants, users
from .tunnel import http as tunnel_http

MAX_BODY_BYTES = 1024 * 1024
BLUEPRINTS = (
    auth_routes.blueprint,
    tenants.blueprint,
    shops.blueprint,
    users.blueprint,
    audit_routes.blueprint,
    devices.blueprint,
    commands.blueprint,
    tunnel_http.blueprint,
)


class UnusedCookieSession(SecureCookieSessionInterface):
    """Quart's signed-cookie `session` is not used (the login lives in quart-auth's cookie and
    the server-side session), so no request pays for reading and verifying it."""

    async def open_session(self, app, request):
        return await self.make_null_session(app)

    async def save_session(self, app, session, response) -> None:
        return None


def build_app(config: Settings | dict | None = None) -> Quart:
    """Build the app; `config` is a Settings, or overrides applied to the environment's."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = from_environment().with_overrides(**(config or {}))
    app = Quart(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.session_interface = UnusedCookieSession()
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        # Our DEBUG means local http; Quart's would render tracebacks to whoever asks.
        DEBUG=False,
        TEMPLATES_AUTO_RELOAD=settings.debug,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        QUART_SCHEMA_CONVERSION_PREFERENCE="pydantic",
    )
    logs.configure()
    QuartSchema(
        app,
        info=Info(title="Sentra Tunnel Server", version="1.0.0"),
        openapi_path="/openapi.json",
        swagger_ui_path=None,  # api_docs serves it, without an inline script
        redoc_ui_path=None,
        scalar_ui_path=None,
    )
    audit.use_key(audit.derive_key(settings.audit_secret))
    errors.init_app(app)
    headers.init_app(app)
    origin.init_app(app)
    ratelimit.init_app(app)
    auth.init_app(app)
    api_docs.init_app(app)  # after auth: the docs may need the session it loads
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    portal.init_app(app)
    _init_database(app, settings)
    tunnel.init_app(app)
    return app


def _init_database(app: Quart, settings: Settings) -> None:
    @app.before_serving
    async def open_database() -> None:
        database.initialize(open_async(settings.database_url, settings.database_pool_size))
        await ensure_first_admin(settings.bcrypt_rounds)

    @app.after_serving
    async def close_database() -> None:
        await audit.close_writer()
        await database.close_pool()
