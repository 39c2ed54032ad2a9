"""Session lookups: cached for a few seconds, forgotten at once wherever a session ends."""

from __future__ import annotations

from sentra_tunnel.db import database
from sentra_tunnel.models import user as user_model
from sentra_tunnel.models.user import Session, User
from tests.support.queries import recorded_queries


def session_queries(statements: list[str]) -> list[str]:
    return [sql for sql in statements if '"session"' in sql]


async def test_repeated_requests_do_not_look_the_session_up_again(admin_client):
    with recorded_queries() as statements:
        for _ in range(5):
            assert (await admin_client.get("/auth/me")).status_code == 200
    assert session_queries(statements) == []  # the login loaded it; the cache answers since


async def test_the_first_request_after_the_cache_expired_reads_the_row(admin_client, monkeypatch):
    monkeypatch.setattr(user_model.session_cache, "ttl", 0)
    user_model.session_cache.clear()
    with recorded_queries() as statements:
        assert (await admin_client.get("/auth/me")).status_code == 200
    assert len(session_queries(statements)) == 1


async def test_logout_ends_a_cached_session_at_once(login_as, tenant):
    phone = await login_as(tenant.admin)
    other = await login_as(tenant.admin)
    assert (await phone.get("/auth/me")).status_code == 200
    assert (await phone.post("/auth/logout")).status_code == 204
    assert (await phone.get("/auth/me")).status_code == 401
    assert (await other.get("/auth/me")).status_code == 200  # only that session ended


async def test_any_change_to_the_user_row_is_seen_on_the_next_request(login_as, tenant):
    staff = await login_as(tenant.staff)
    assert (await (await staff.get("/auth/me")).get_json())["user"]["role"] == "staff"
    row = await User.aget_by_id(tenant.staff.id)  # a separate copy, as another request has
    row.role = "viewer"
    await row.asave()
    assert (await (await staff.get("/auth/me")).get_json())["user"]["role"] == "viewer"


async def test_a_deleted_session_row_outlives_the_cache_only_briefly(admin_client, monkeypatch):
    """Another process (the command line) deletes rows directly; the cache notices on expiry."""
    await database.run(Session.delete().execute)
    assert (await admin_client.get("/auth/me")).status_code == 200  # within the cache's life
    monkeypatch.setattr(user_model.session_cache, "ttl", 0)
    user_model.session_cache.clear()
    assert (await admin_client.get("/auth/me")).status_code == 401
