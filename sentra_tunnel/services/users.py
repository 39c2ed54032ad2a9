"""Users of a tenant: created, changed and deleted by its admins (and the platform operator)."""

from __future__ import annotations

from ..auth import actor_context
from ..errors import APIError, forbidden, validation_error
from ..models import audit
from ..models.tenant import shop_ids_in_tenant
from ..models.user import User, end_sessions_of, username_taken
from ..schemas import UserIn, UserPatch
from ..security import hash_password, password_problem
from .tenants import tenant_for_new_record

LIMITED_ROLES = ("staff", "viewer")  # the roles a user can be limited to some shops in


def _require_admin(actor) -> None:
    if not actor.has_role("admin"):
        raise forbidden()


def _weak(problem: str) -> APIError:
    return APIError(422, "weak_password", f"The password {problem}.", fields={"password": problem})


async def _checked_shop_ids(tenant_id: int | None, role: str, shop_ids: list[int]) -> list[int]:
    if not shop_ids:
        return []
    if role not in LIMITED_ROLES:
        raise validation_error({"shop_ids": "only staff and viewers can be limited to shops"})
    known = await shop_ids_in_tenant(tenant_id, shop_ids)
    unknown = sorted(set(shop_ids) - known)
    if unknown:
        raise validation_error({"shop_ids": f"unknown shops: {unknown}"})
    return sorted(known)


async def _tenant_id_for(actor, data: UserIn) -> int | None:
    if data.role != "superadmin":
        return (await tenant_for_new_record(actor, data.tenant_id)).id
    if not actor.is_superadmin:
        raise forbidden("Only the platform operator can create platform operators.")
    if data.tenant_id is not None:
        raise validation_error({"tenant_id": "must be empty for a superadmin"})
    return None


async def create_user(actor, data: UserIn) -> User:
    """A new user, who must choose their own password at first login."""
    _require_admin(actor)
    tenant_id = await _tenant_id_for(actor, data)
    if problem := password_problem(data.password, data.username):
        raise _weak(problem)
    if await username_taken(data.username):
        raise APIError(409, "conflict", "This username is taken.", fields={"username": "is taken"})
    user = await User.acreate(
        username=data.username,
        password_hash=await hash_password(data.password),
        role=data.role,
        tenant=tenant_id,
        shop_ids=await _checked_shop_ids(tenant_id, data.role, data.shop_ids),
        must_change_password=True,
    )
    await audit.record(
        "user.create",
        target=f"user:{user.id}",
        details={"username": user.username, "role": user.role},
        **actor_context(tenant_id=tenant_id),
    )
    return user


def _check_patch(actor, user: User, patch: UserPatch, changes: dict) -> None:
    if patch.role == "superadmin" and user.tenant_id is not None:
        raise forbidden("A tenant user cannot become a platform operator.")
    if patch.role is not None and patch.role != "superadmin" and user.is_superadmin:
        raise validation_error({"role": "a platform operator has no tenant role"})
    if user.id == actor.id and ("role" in changes or changes.get("disabled")):
        raise validation_error({"role": "you cannot change your own role or disable yourself"})
    if user.id == actor.id and "password" in changes:  # it would skip the current password
        raise validation_error(
            {"password": "change your own password with POST /auth/password"},
            "Your own password changes only with the current one, at /auth/password.",
        )


async def _apply_patch(user: User, patch: UserPatch) -> None:
    """Set what the patch changes on `user`, unsaved; shops and password are checked on the way."""
    if patch.role is not None:
        user.role = patch.role
    if patch.shop_ids is not None or patch.role is not None:
        wanted = patch.shop_ids
        if wanted is None:  # a promotion to admin lifts the shop limit instead of failing on it
            wanted = user.shop_ids if user.role in LIMITED_ROLES else []
        user.shop_ids = await _checked_shop_ids(user.tenant_id, user.role, wanted)
    if patch.disabled is not None:
        user.disabled = patch.disabled
    if patch.password is not None:
        if problem := password_problem(patch.password, user.username):
            raise _weak(problem)
        user.password_hash = await hash_password(patch.password)
        user.must_change_password = True


async def update_user(actor, user: User, patch: UserPatch) -> User:
    """Apply a patch; any change to access or password ends the user's sessions."""
    _require_admin(actor)
    changes = patch.model_dump(exclude_unset=True)
    _check_patch(actor, user, patch, changes)
    await _apply_patch(user, patch)
    await user.asave()
    if changes:
        await end_sessions_of(user.id)
    logged = {key: value for key, value in changes.items() if key != "password"}
    if "password" in changes:
        logged["password_reset"] = True
    await audit.record(
        "user.update",
        target=f"user:{user.id}",
        details=logged,
        **actor_context(tenant_id=user.tenant_id),
    )
    return user


async def delete_user(actor, user: User) -> None:
    """Delete a user (never yourself); their sessions end with them."""
    _require_admin(actor)
    if user.id == actor.id:
        raise validation_error({"id": "you cannot delete yourself"})
    await user.adelete_instance(recursive=True)
    await audit.record(
        "user.delete",
        target=f"user:{user.id}",
        details={"username": user.username},
        **actor_context(tenant_id=user.tenant_id),
    )


async def save_password(user: User, password: str, *, must_change: bool) -> None:
    """Store a new password hash; `must_change` holds the user at the password page."""
    user.password_hash = await hash_password(password)
    user.must_change_password = must_change
    await user.asave(only=[User.password_hash, User.must_change_password])


async def save_language(user: User, language: str | None) -> None:
    """The portal's language for this user; None follows the browser."""
    user.language = language
    await user.asave(only=[User.language])
