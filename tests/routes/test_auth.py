"""Login, logout, the current user, sessions that end, password changes, CSRF and cookies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.models import user as user_model
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.user import Session, User
from tests.support.api import PASSWORD, ApiClient, error_code, make_user, session_cookie

NEW_PASSWORD = "a much longer secret 42"


async def actions() -> list[str]:
    entries = await database.list(AuditEntry.select().order_by(AuditEntry.id))
    return [entry.action for entry in entries]


async def test_login_with_json_returns_user_and_csrf_token(client, tenant):
    response = await client.login("bakery-staff")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["csrf_token"]
    assert body["user"]["username"] == "bakery-staff"
    assert body["user"]["role"] == "staff"
    assert body["user"]["tenant_id"] == tenant.id
    assert body["user"]["shop_ids"] == [tenant.shop_a.id]
    assert body["user"]["must_change_password"] is False
    assert {"id", "username", "role", "tenant_id", "shop_ids", "must_change_password"} <= set(
        body["user"]
    )
    me = await client.get("/auth/me")
    assert me.status_code == 200
    assert (await me.get_json())["csrf_token"] == body["csrf_token"]
    assert await actions() == ["auth.login"]


async def test_login_with_form(app, tenant):
    client = app.test_client()
    response = await client.post(
        "/auth/login", form={"username": "bakery-admin", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert (await response.get_json())["user"]["username"] == "bakery-admin"
    assert (await client.get("/auth/me")).status_code == 200


async def test_wrong_password_and_unknown_user_answer_alike(client, tenant):
    wrong = await client.login("bakery-admin", "not the password")
    unknown = await client.login("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert await wrong.get_json() == await unknown.get_json()
    assert await error_code(wrong) == "invalid_credentials"
    assert "Set-Cookie" not in wrong.headers
    entries = await database.list(AuditEntry.select().order_by(AuditEntry.id))
    assert [(e.action, e.outcome, e.actor) for e in entries] == [
        ("auth.login_failed", "invalid_credentials", "bakery-admin"),
        ("auth.login_failed", "invalid_credentials", "nobody-here"),
    ]
    assert entries[0].target == f"user:{tenant.admin.id}"
    assert entries[0].tenant_id == tenant.id


async def test_me_without_session_is_401(client):
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert await error_code(response) == "not_authenticated"


async def test_logout_kills_the_session_server_side(app, tenant):
    client = ApiClient(app.test_client())
    login = await client.login("bakery-admin")
    cookie = session_cookie(login)
    response = await client.post("/auth/logout")
    assert response.status_code == 204
    assert (await client.get("/auth/me")).status_code == 401
    replay = await app.test_client().get("/auth/me", headers={"Cookie": f"sentra_session={cookie}"})
    assert replay.status_code == 401
    assert await database.count(Session.select()) == 0
    assert await actions() == ["auth.login", "auth.logout"]


async def test_copied_cookie_works_before_logout(app, tenant):
    """The counterpart of the replay test above: the copy does work while the session lives."""
    login = await ApiClient(app.test_client()).login("bakery-admin")
    replay = await app.test_client().get(
        "/auth/me", headers={"Cookie": f"sentra_session={session_cookie(login)}"}
    )
    assert replay.status_code == 200


@pytest.fixture
def later(monkeypatch):
    """`later(hours=…)`: the session checks see that much time gone since now; `fresh=True`
    also drops the cached sessions, as a request after the cache's few seconds would."""
    start = user_model.utcnow()

    def move(fresh: bool = True, **elapsed):
        monkeypatch.setattr(user_model, "utcnow", lambda: start + timedelta(**elapsed))
        if fresh:
            user_model.session_cache.clear()

    return move


async def test_a_session_left_unused_for_the_idle_time_ends(client, tenant, later):
    """Idle 12 h by default: each use restarts the clock, a longer pause ends the session."""
    await client.login("bakery-admin")
    for hours in (11, 22):  # 22 h after the login, but never 12 h unused
        later(hours=hours)
        assert (await client.get("/auth/me")).status_code == 200
    later(hours=34, minutes=1)
    assert (await client.get("/auth/me")).status_code == 401
    assert await database.count(Session.select()) == 0


async def test_a_session_ends_at_its_lifetime_however_busy(client, tenant, later):
    """7 days by default since the login, even when used an hour before."""
    await client.login("bakery-admin")
    for hours in range(10, 168, 10):
        later(hours=hours)
        assert (await client.get("/auth/me")).status_code == 200, hours
    later(fresh=False, days=7, minutes=1)  # the cached session is checked as well
    assert (await client.get("/auth/me")).status_code == 401
    assert await database.count(Session.select()) == 0


async def test_the_session_times_are_settings_and_the_cookie_lives_as_long(app_with, later):
    app = await app_with(session_idle=600, session_lifetime=3600)
    await make_user("clerk", "viewer")
    client = ApiClient(app.test_client())
    response = await client.login("clerk")
    attributes = [part.strip().lower() for part in response.headers["Set-Cookie"].split(";")]
    assert "max-age=3600" in attributes
    later(minutes=9)
    assert (await client.get("/auth/me")).status_code == 200
    later(minutes=20)
    assert (await client.get("/auth/me")).status_code == 401


async def test_the_default_cookie_lives_seven_days(client, tenant):
    response = await client.login("bakery-admin")
    assert f"Max-Age={7 * 86400}" in response.headers["Set-Cookie"]


async def test_a_password_change_gives_this_browser_a_new_session_id(app, login_as, tenant):
    this = await login_as(tenant.admin)
    old_cookie = session_cookie(await this.login("bakery-admin"))
    response = await this.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    new_cookie = session_cookie(response)
    assert new_cookie != old_cookie
    for cookie, status in ((old_cookie, 401), (new_cookie, 200)):
        replay = await app.test_client().get(
            "/auth/me", headers={"Cookie": f"sentra_session={cookie}"}
        )
        assert replay.status_code == status
    assert await database.count(Session.select()) == 1
    # the CSRF token this client already holds keeps working in the new session
    assert (await this.post("/auth/logout")).status_code == 204


async def test_password_change_ends_other_sessions_only(login_as, tenant):
    this = await login_as(tenant.admin)
    other = await login_as(tenant.admin)
    response = await this.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    assert (await this.get("/auth/me")).status_code == 200
    assert (await this.get("/api/users")).status_code == 200
    assert (await other.get("/auth/me")).status_code == 401
    assert (await this.login("bakery-admin", PASSWORD)).status_code == 401
    assert (await this.login("bakery-admin", NEW_PASSWORD)).status_code == 200
    assert "auth.password" in await actions()


async def test_a_refused_password_change_names_the_field(login_as, tenant):
    client = await login_as(tenant.admin)
    response = await client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert response.status_code == 422
    assert await error_code(response) == "weak_password"
    assert list((await response.get_json())["error"]["fields"]) == ["new_password"]
    wrong = {"current_password": "wrong one", "new_password": NEW_PASSWORD}
    assert await error_code(await client.post("/auth/password", json=wrong)) == (
        "invalid_credentials"
    )
    entry = await database.get(AuditEntry.select().order_by(AuditEntry.id.desc()))
    assert (entry.action, entry.outcome, entry.target) == (
        "auth.password_failed",
        "invalid_credentials",
        f"user:{tenant.admin.id}",
    )


async def test_password_change_needs_a_session(client):
    response = await client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 401
    assert await error_code(response) == "not_authenticated"


async def test_bootstrap_admin_is_held_until_the_password_changes(client):
    assert (await client.login("admin", "admin")).status_code == 200
    blocked = await client.get("/api/users")
    assert blocked.status_code == 403
    assert await error_code(blocked) == "password_change_required"
    blocked = await client.post("/api/tenants", json={"name": "Early"})
    assert await error_code(blocked) == "password_change_required"
    me = await client.get("/auth/me")
    assert me.status_code == 200
    assert (await me.get_json())["user"]["must_change_password"] is True
    response = await client.post(
        "/auth/password", json={"current_password": "admin", "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    assert (await client.get("/api/tenants")).status_code == 200
    me = await client.get("/auth/me")
    assert (await me.get_json())["user"]["must_change_password"] is False


async def test_logout_works_while_the_password_change_is_pending(client):
    await client.login("admin", "admin")
    assert (await client.post("/auth/logout")).status_code == 204
    assert (await client.get("/auth/me")).status_code == 401


async def test_users_created_by_an_admin_must_change_password(admin_client, app):
    response = await admin_client.post(
        "/api/users", json={"username": "newbie", "password": NEW_PASSWORD, "role": "staff"}
    )
    assert response.status_code == 201
    assert (await response.get_json())["user"]["must_change_password"] is True
    newbie = ApiClient(app.test_client())
    assert (await newbie.login("newbie", NEW_PASSWORD)).status_code == 200
    blocked = await newbie.get("/api/shops")
    assert await error_code(blocked) == "password_change_required"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/tenants", {"name": "Forged"}),
        ("post", "/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("post", "/auth/logout", None),
        ("patch", "/api/users/{id}", {"role": "viewer"}),
        ("delete", "/api/users/{id}", None),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_unsafe_requests_need_the_csrf_token(
    app, superadmin, tenant, method, path, body, token
):
    api = ApiClient(app.test_client())
    await api.login("operator")
    headers = {} if token is None else {"X-CSRF-Token": token}
    call = getattr(api.client, method)
    kwargs = {"json": body} if body is not None else {}
    response = await call(path.format(id=tenant.staff.id), headers=headers, **kwargs)
    assert response.status_code == 403
    assert await error_code(response) == "csrf_failed"
    assert (await api.get("/auth/me")).status_code == 200  # nothing happened, still logged in
    assert await User.aget_or_none(User.id == tenant.staff.id) is not None


async def test_login_needs_no_csrf_token_even_with_a_session(login_as, tenant):
    client = await login_as(tenant.admin)
    response = await client.client.post(
        "/auth/login", json={"username": "bakery-staff", "password": PASSWORD}
    )
    assert response.status_code == 200


async def test_session_cookie_flags_in_debug(client, tenant):
    response = await client.login("bakery-admin")
    header = response.headers["Set-Cookie"].lower()
    assert "httponly" in header
    assert "samesite=lax" in header
    assert "secure" not in header.replace("sentra_session", "")


@pytest.mark.filterwarnings("ignore:Secure cookies")
async def test_session_cookie_is_secure_without_debug(app_with):
    app = await app_with(debug=False)
    await make_user("clerk", "viewer")
    response = await ApiClient(app.test_client()).login("clerk")
    assert response.status_code == 200
    attributes = [part.strip().lower() for part in response.headers["Set-Cookie"].split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" in attributes


def test_password_rules_refuse_nul_which_bcrypt_would_cut_off():
    from sentra_tunnel.security import password_problem

    assert password_problem("long enough\x00ignored") == "must not contain NUL characters"
    assert password_problem("long enough and fine") is None
