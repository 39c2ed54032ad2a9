"""Sessions: a failed login is audited alike for known and unknown names; changing your own
password checks the old one, refuses weak ones and ends your other sessions only."""

from __future__ import annotations

import contextlib

import bcrypt
import pytest
from quart import g
from quart_auth import current_user

from sentra_tunnel.db import database
from sentra_tunnel.errors import APIError
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.user import Session, User, start_session
from sentra_tunnel.security import token_hash
from sentra_tunnel.services.sessions import authenticate, change_own_password
from tests.support.api import PASSWORD, audit_rows

NEW_PASSWORD = "a much longer secret 42"


async def test_the_right_password_finds_the_user_whatever_the_case(acting_as, tenant):
    async with acting_as():
        assert (await authenticate(" Bakery-Admin ", PASSWORD)).id == tenant.admin.id


async def test_failed_logins_look_alike_and_are_audited(acting_as, tenant):
    async with acting_as():
        for username in ("bakery-admin", "nobody-here"):
            with pytest.raises(APIError) as refused:
                await authenticate(username, "not the password")
            assert (refused.value.status, refused.value.message) == (
                401,
                "Wrong username or password.",
            )
    entries = await database.list(AuditEntry.select().order_by(AuditEntry.id))
    assert [(e.action, e.actor, e.target, e.tenant_id) for e in entries] == [
        ("auth.login_failed", "bakery-admin", f"user:{tenant.admin.id}", tenant.id),
        ("auth.login_failed", "nobody-here", "username:nobody-here", None),
    ]


async def test_a_disabled_user_cannot_log_in(acting_as, tenant):
    tenant.staff.disabled = True
    await tenant.staff.asave()
    async with acting_as():
        with pytest.raises(APIError) as refused:
            await authenticate("bakery-staff", PASSWORD)
    assert refused.value.code == "invalid_credentials"


@pytest.fixture
def signed_in(acting_as):
    """`async with signed_in(user) as session:` a request by `user` in a session of their own."""

    @contextlib.asynccontextmanager
    async def signed(user):
        _, session = await start_session(user, "this browser")
        async with acting_as(user):
            g.session = session
            yield session

    return signed


async def _sessions(user) -> list[str]:
    return [s.id for s in await database.list(Session.select().where(Session.user == user.id))]


async def test_a_change_ends_every_session_and_this_browser_gets_a_new_one(signed_in, tenant):
    await start_session(tenant.admin, "another phone")
    async with signed_in(tenant.admin) as old:
        await change_own_password(tenant.admin, PASSWORD, NEW_PASSWORD)
        new = g.session
        assert (new.user_id, new.csrf_token) == (tenant.admin.id, old.csrf_token)
        assert current_user.auth_id and token_hash(current_user.auth_id) == new.id
    assert new.id != old.id
    assert await _sessions(tenant.admin) == [new.id]
    stored = await User.aget_by_id(tenant.admin.id)
    assert bcrypt.checkpw(NEW_PASSWORD.encode(), stored.password_hash.encode())
    entry = await database.get(AuditEntry.select().where(AuditEntry.action == "auth.password"))
    assert (entry.actor, entry.tenant_id) == ("bakery-admin", tenant.id)


@pytest.mark.parametrize(
    "weak, problem",
    [
        ("short", "must be at least 10 characters"),
        ("admin", "must be at least 10 characters"),
        ("bakery-admin", "is too easy to guess"),
        (PASSWORD, "must differ from the current password"),
        ("é" * 40, "must be at most 72 bytes"),
    ],
)
async def test_a_weak_new_password_is_refused(signed_in, tenant, weak, problem):
    async with signed_in(tenant.admin):
        with pytest.raises(APIError) as refused:
            await change_own_password(tenant.admin, PASSWORD, weak)
    assert (refused.value.code, refused.value.fields) == (
        "weak_password",
        {"new_password": problem},
    )


async def test_the_wrong_current_password_changes_nothing(signed_in, tenant):
    await start_session(tenant.admin, "another phone")
    async with signed_in(tenant.admin):
        with pytest.raises(APIError) as refused:
            await change_own_password(tenant.admin, "wrong one", NEW_PASSWORD)
    assert refused.value.code == "invalid_credentials"
    assert len(await _sessions(tenant.admin)) == 2
    entries = await audit_rows(AuditEntry.select())
    assert [(e.action, e.outcome, e.actor, e.target, e.tenant_id) for e in entries] == [
        (
            "auth.password_failed",
            "invalid_credentials",
            "bakery-admin",
            f"user:{tenant.admin.id}",
            tenant.id,
        )
    ]
    stored = await User.aget_by_id(tenant.admin.id)
    assert bcrypt.checkpw(PASSWORD.encode(), stored.password_hash.encode())
