"""Users of a tenant, managed by its admins (and by the platform operator)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import actor_context, current_account, require_role
from ..db import database
from ..errors import APIError, forbidden, validation_error
from ..models import audit
from ..models.tenant import Shop
from ..models.user import User, end_sessions_of, get_user_for, users_visible_to
from ..ratelimit import rate_limit
from ..schemas import UserIn, UserList, UserOne, UserPatch
from ..security import hash_password, password_problem
from ..services.tenants import tenant_for_new_record

blueprint = Blueprint("users", __name__, url_prefix="/api/users")


def _weak(problem: str) -> APIError:
    return APIError(422, "weak_password", f"The password {problem}.", fields={"password": problem})


async def _checked_shop_ids(tenant_id: int | None, role: str, shop_ids: list[int]) -> list[int]:
    if not shop_ids:
        return []
    if role not in ("staff", "viewer"):
        raise validation_error({"shop_ids": "only staff and viewers can be limited to shops"})
    query = Shop.select(Shop.id).where(Shop.tenant == tenant_id, Shop.id.in_(shop_ids))
    found = await database.list(query)
    known = {shop.id for shop in found}
    unknown = sorted(set(shop_ids) - known)
    if unknown:
        raise validation_error({"shop_ids": f"unknown shops: {unknown}"})
    return sorted(known)


async def create_user(actor, data: UserIn) -> User:
    if data.role == "superadmin":
        if not actor.is_superadmin:
            raise forbidden("Only the platform operator can create platform operators.")
        if data.tenant_id is not None:
            raise validation_error({"tenant_id": "must be empty for a superadmin"})
        tenant_id = None
    else:
        tenant_id = (await tenant_for_new_record(actor, data.tenant_id)).id
    if problem := password_problem(data.password, data.username):
        raise _weak(problem)
    if await User.aget_or_none(User.username == data.username) is not None:
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


async def update_user(actor, user: User, patch: UserPatch) -> User:
    """Apply a patch; any change to access or password ends the user's sessions."""
    changes = patch.model_dump(exclude_unset=True)
    if patch.role == "superadmin" and user.tenant_id is not None:
        raise forbidden("A tenant user cannot become a platform operator.")
    if patch.role is not None and patch.role != "superadmin" and user.is_superadmin:
        raise validation_error({"role": "a platform operator has no tenant role"})
    if user.id == actor.id and ("role" in changes or changes.get("disabled")):
        raise validation_error({"role": "you cannot change your own role or disable yourself"})
    if patch.role is not None:
        user.role = patch.role
    if patch.shop_ids is not None or patch.role is not None:
        wanted = patch.shop_ids
        if wanted is None:  # a promotion to admin lifts the shop limit instead of failing on it
            wanted = user.shop_ids if user.role in ("staff", "viewer") else []
        user.shop_ids = await _checked_shop_ids(user.tenant_id, user.role, wanted)
    if patch.disabled is not None:
        user.disabled = patch.disabled
    if patch.password is not None:
        if problem := password_problem(patch.password, user.username):
            raise _weak(problem)
        user.password_hash = await hash_password(patch.password)
        user.must_change_password = True
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
    if user.id == actor.id:
        raise validation_error({"id": "you cannot delete yourself"})
    await user.adelete_instance(recursive=True)
    await audit.record(
        "user.delete",
        target=f"user:{user.id}",
        details={"username": user.username},
        **actor_context(tenant_id=user.tenant_id),
    )


@blueprint.get("")
@rate_limit("api_limit")
@require_role("admin")
@validate_response(UserList)
async def index():
    """Users the caller administers."""
    return {"users": [user.to_dict() for user in await users_visible_to(current_account())]}


@blueprint.post("")
@rate_limit("api_limit")
@require_role("admin")
@validate_request(UserIn)
@validate_response(UserOne, 201)
async def create(data: UserIn):
    """Create a user; they must choose a new password at first login."""
    return {"user": (await create_user(current_account(), data)).to_dict()}, 201


@blueprint.get("/<int:user_id>")
@rate_limit("api_limit")
@require_role("admin")
@validate_response(UserOne)
async def show(user_id: int):
    """One user."""
    return {"user": (await get_user_for(current_account(), user_id)).to_dict()}


@blueprint.patch("/<int:user_id>")
@rate_limit("api_limit")
@require_role("admin")
@validate_request(UserPatch)
@validate_response(UserOne)
async def update(user_id: int, data: UserPatch):
    """Change role, shops, reset the password, or disable."""
    actor = current_account()
    user = await update_user(actor, await get_user_for(actor, user_id), data)
    return {"user": user.to_dict()}


@blueprint.delete("/<int:user_id>")
@rate_limit("api_limit")
@require_role("admin")
async def delete(user_id: int):
    """Delete a user and end their sessions."""
    actor = current_account()
    await delete_user(actor, await get_user_for(actor, user_id))
    return "", 204
