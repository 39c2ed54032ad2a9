"""Users: shop limits checked against the tenant, roles that stay in their lane, no self-harm,
and every change to access or password ending the user's sessions."""

from __future__ import annotations

import pytest

from sentra_tunnel.db import database
from sentra_tunnel.errors import APIError
from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.models.user import Session, User, start_session
from sentra_tunnel.schemas import UserIn, UserPatch
from sentra_tunnel.services.users import create_user, delete_user, update_user

NEW_PASSWORD = "a much longer secret 42"


def new_user(**fields) -> UserIn:
    return UserIn(**{"username": "clerk", "password": NEW_PASSWORD, "role": "viewer", **fields})


async def _refused(acting_as, actor, work, *args) -> APIError:
    async with acting_as(actor):
        with pytest.raises(APIError) as refused:
            await work(actor, *args)
    return refused.value


async def _sessions_of(user) -> int:
    return await database.count(Session.select().where(Session.user == user.id))


@pytest.mark.parametrize(
    ("role", "shops"), [("admin", "shop_a"), ("staff", "missing"), ("viewer", "kiosk")]
)
async def test_shop_ids_are_checked_against_the_tenant(
    acting_as, tenant, other_tenant, role, shops
):
    ids = {"shop_a": [tenant.shop_a.id], "missing": [999999], "kiosk": [other_tenant.shop_a.id]}[
        shops
    ]
    data = new_user(role=role, shop_ids=ids)
    error = await _refused(acting_as, tenant.admin, create_user, data)
    assert (error.code, list(error.fields)) == ("validation_error", ["shop_ids"])
    assert await User.aget_or_none(User.username == "clerk") is None


async def test_a_new_user_is_audited_in_their_tenant(acting_as, tenant):
    async with acting_as(tenant.admin):
        user = await create_user(tenant.admin, new_user(shop_ids=[tenant.shop_b.id]))
    assert (user.tenant_id, user.shop_ids, user.must_change_password) == (
        tenant.id,
        [tenant.shop_b.id],
        True,
    )
    entry = await database.get(AuditEntry.select().where(AuditEntry.action == "user.create"))
    assert (entry.tenant_id, entry.details) == (
        tenant.id,
        {"username": "clerk", "role": "viewer"},
    )


async def test_only_the_platform_operator_creates_operators_without_a_tenant(
    acting_as, tenant, superadmin
):
    error = await _refused(acting_as, tenant.admin, create_user, new_user(role="superadmin"))
    assert error.code == "forbidden"
    data = new_user(role="superadmin", tenant_id=tenant.id)
    error = await _refused(acting_as, superadmin, create_user, data)
    assert list(error.fields) == ["tenant_id"]


@pytest.mark.parametrize(
    ("password", "username", "code"),
    [("short", "clerk", "weak_password"), (NEW_PASSWORD, "bakery-staff", "conflict")],
)
async def test_weak_passwords_and_taken_names_are_refused(
    acting_as, tenant, password, username, code
):
    data = new_user(username=username, password=password)
    error = await _refused(acting_as, tenant.admin, create_user, data)
    assert error.code == code


async def test_promoting_a_limited_user_to_admin_drops_the_shop_limit(acting_as, tenant):
    async with acting_as(tenant.admin):
        user = await update_user(tenant.admin, tenant.staff, UserPatch(role="admin"))
    assert (user.role, user.shop_ids) == ("admin", [])


async def test_a_password_reset_forces_a_change_and_ends_sessions(acting_as, tenant):
    await start_session(tenant.staff, "phone")
    async with acting_as(tenant.admin):
        user = await update_user(tenant.admin, tenant.staff, UserPatch(password=NEW_PASSWORD))
    assert user.must_change_password is True
    assert await _sessions_of(tenant.staff) == 0
    entry = await database.get(AuditEntry.select().where(AuditEntry.action == "user.update"))
    assert entry.details == {"password_reset": True}


async def test_a_weak_reset_changes_nothing(acting_as, tenant):
    await start_session(tenant.staff, "phone")
    error = await _refused(
        acting_as, tenant.admin, update_user, tenant.staff, UserPatch(password="x")
    )
    assert error.code == "weak_password"
    assert (await User.aget_by_id(tenant.staff.id)).must_change_password is False
    assert await _sessions_of(tenant.staff) == 1


@pytest.mark.parametrize("patch", [UserPatch(disabled=True), UserPatch(role="viewer")])
async def test_nobody_disables_or_demotes_themselves(acting_as, tenant, patch):
    error = await _refused(acting_as, tenant.admin, update_user, tenant.admin, patch)
    assert error.code == "validation_error"
    me = await User.aget_by_id(tenant.admin.id)
    assert (me.role, me.disabled) == ("admin", False)


async def test_roles_stay_on_their_side_of_the_tenant_line(acting_as, tenant, superadmin):
    error = await _refused(
        acting_as, superadmin, update_user, tenant.staff, UserPatch(role="superadmin")
    )
    assert error.code == "forbidden"
    other = await User.acreate(username="ops2", password_hash="x", role="superadmin")
    error = await _refused(acting_as, superadmin, update_user, other, UserPatch(role="admin"))
    assert list(error.fields) == ["role"]


async def test_delete_ends_the_sessions_but_never_yourself(acting_as, tenant):
    await start_session(tenant.staff, "phone")
    async with acting_as(tenant.admin):
        await delete_user(tenant.admin, tenant.staff)
    assert await _sessions_of(tenant.staff) == 0
    assert await User.aget_or_none(User.id == tenant.staff.id) is None
    error = await _refused(acting_as, tenant.admin, delete_user, tenant.admin)
    assert list(error.fields) == ["id"]


@pytest.mark.parametrize("who", ["staff", "viewer"])
async def test_only_admins_manage_users(acting_as, tenant, who):
    actor = getattr(tenant, who)
    for work, args in (
        (create_user, (new_user(),)),
        (update_user, (tenant.viewer, UserPatch(disabled=True))),
        (delete_user, (tenant.viewer,)),
    ):
        assert (await _refused(acting_as, actor, work, *args)).code == "forbidden"


async def test_your_own_password_is_not_reset_here(acting_as, tenant):
    error = await _refused(
        acting_as, tenant.admin, update_user, tenant.admin, UserPatch(password=NEW_PASSWORD)
    )
    assert (error.status, list(error.fields)) == (422, ["password"])
    stored = await User.aget_by_id(tenant.admin.id)
    assert (stored.password_hash, stored.must_change_password) == (
        tenant.admin.password_hash,
        False,
    )
