"""Fuzz the JSON API from its own OpenAPI document: no request may make the server answer 500.

schemathesis generates valid and invalid requests for every documented operation and sends them
in process over ASGI: logged in as a tenant admin, as the platform operator, and with no session.
Every answer must be below 500 (or one of the contract's device errors), and every error under
/api/ and /auth/ must have the contract's shape. The run is derandomized and small, so it is the
same every time.

The tests are synchronous on purpose: schemathesis drives the app on its own event loop, and it
runs the app's lifespan there (so `before_serving` opens the database on that loop). Its pytest
plugin ends that lifespan when each test ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from sentra_tunnel import create_app
from sentra_tunnel.config import Settings
from sentra_tunnel.db import database, migrate_up, open_sync
from sentra_tunnel.models.device import Device
from sentra_tunnel.models.tenant import Shop, Tenant
from sentra_tunnel.models.user import User
from sentra_tunnel.security import hash_password_sync
from tests.support.api import PASSWORD

MAX_EXAMPLES = 80
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
# Logging out or changing the password would end the session the fuzzer acts with.
EXCLUDED_PATHS = ["/auth/logout", "/auth/password"]
ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
# The contract's device errors are 5xx by design (offline, refused, timed out), never 500.
DEVICE_ERRORS = {502: "device_error", 503: "device_offline", 504: "device_timeout"}


@dataclass
class FuzzWorld:
    """The settings and the ids the fuzzer must not delete, disable or reset (its own accounts)."""

    settings: Settings
    users: dict[str, str] = field(default_factory=dict)  # role → username
    protected_ids: set[int] = field(default_factory=set)
    victim_id: int = 0


def _seed(url: str) -> dict:
    """Tenants, shops, devices and users, written on a plain connection before the app starts."""
    database.initialize(open_sync(url))
    try:
        password_hash = hash_password_sync(PASSWORD, 4)
        ids = {}
        for name in ("Bakery", "Kiosk"):
            tenant = Tenant.create(name=name)
            shop = Shop.create(tenant=tenant, name=f"{name} A")
            Shop.create(tenant=tenant, name=f"{name} B")
            Device.create(tenant=tenant, shop=shop, name=f"{name} door", registered=True)
            ids[name] = tenant
        accounts = {
            "admin": ("fuzz-admin", "admin", ids["Bakery"]),
            "superadmin": ("fuzz-operator", "superadmin", None),
            "victim": ("fuzz-victim", "staff", ids["Bakery"]),
        }
        return {
            role: User.create(
                username=username,
                password_hash=password_hash,
                role=user_role,
                tenant=tenant,
                must_change_password=False,
            ).id
            for role, (username, user_role, tenant) in accounts.items()
        }
    finally:
        database.close()


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory) -> FuzzWorld:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    app_settings = Settings(
        database_url=f"sqlite:///{path}",
        secret_key="fuzz-secret-key-0123456789abcdef",
        debug=True,
        bcrypt_rounds=4,
        command_timeout_s=1,
        testing=True,
        # The fuzzer is one client sending thousands of requests; limits would hide the routes.
        api_limit="100000/minute",
        register_limit="100000/minute",
        login_limit="100000/minute",
        login_ip_limit="100000/minute",
    )
    migrate_up(app_settings.database_url)
    ids = _seed(app_settings.database_url)
    return FuzzWorld(
        settings=app_settings,
        users={"admin": "fuzz-admin", "superadmin": "fuzz-operator"},
        protected_ids={ids["admin"], ids["superadmin"]},
        victim_id=ids["victim"],
    )


@pytest.fixture
def api_schema(fuzz_world):
    # A fresh app per test: schemathesis ends the app's lifespan when a test ends, and starting
    # the same app object a second time hangs.
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzz_world.settings))
    return schema.exclude(path=EXCLUDED_PATHS)


@pytest.fixture
def auth_headers(role, fuzz_world, api_schema) -> dict[str, str]:
    """Log in through the API; the session cookie and CSRF token go on every fuzzed request."""
    if role == "anonymous":
        return {}
    login = api_schema["/auth/login"]["POST"]
    username = fuzz_world.users[role]
    case = login.Case(
        body={"username": username, "password": PASSWORD}, media_type="application/json"
    )
    response = case.call()
    assert response.status_code == 200, response.text
    cookie = next(
        value.split(";", 1)[0]
        for value in response.headers.get("set-cookie", [])
        if value.startswith("sentra_session=")
    )
    return {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf_token"]}


def _spare_fuzz_accounts(case, world: FuzzWorld) -> None:
    # Deleting, disabling or resetting a fuzzing account would log the fuzzer out mid-run.
    params = case.path_parameters or {}
    if params.get("user_id") in world.protected_ids:
        params["user_id"] = world.victim_id


def check_response(case, response) -> None:
    """No 500, and errors under /api/ and /auth/ are `{"error": {"code", "message"}}`."""
    where = f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
    status = response.status_code
    assert status < 500 or status in DEVICE_ERRORS, where
    if status < 400 or not case.formatted_path.startswith(("/api/", "/auth/")):
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), where
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, where
    error = body["error"]
    assert ERROR_CODE.match(error.get("code", "")), where
    assert isinstance(error.get("message"), str) and error["message"], where
    if status in DEVICE_ERRORS:
        assert error["code"] == DEVICE_ERRORS[status], where


def _cases(operation):
    """Valid requests and requests that break the schema, for one operation."""
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))


def _fuzz(operation, auth_headers: dict, world: FuzzWorld) -> None:
    @FUZZ_SETTINGS
    @given(case=_cases(operation))
    def run(case):
        _spare_fuzz_accounts(case, world)
        response = case.call(headers={**(case.headers or {}), **auth_headers})
        check_response(case, response)

    run()


@pytest.mark.parametrize("role", ["anonymous", "admin", "superadmin"])
def test_no_request_makes_the_api_fail(api_schema, auth_headers, fuzz_world):
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, auth_headers, fuzz_world)
        except AssertionError as error:
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n".join(failures)
