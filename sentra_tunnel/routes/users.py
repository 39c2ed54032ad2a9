"""Users of a tenant, managed by its admins (and by the platform operator)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import current_account, require_role
from ..models.user import get_user_for, users_visible_to
from ..ratelimit import rate_limit
from ..schemas import UserIn, UserList, UserOne, UserPatch
from ..services.users import create_user, delete_user, update_user

blueprint = Blueprint("users", __name__, url_prefix="/api/users")


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
    """Change role, shops, reset another user's password, or disable."""
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
