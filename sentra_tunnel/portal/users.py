"""User administration pages for tenant admins and the platform operator."""

from __future__ import annotations

from pydantic import ValidationError
from quart import Blueprint

from ..auth import current_account
from ..errors import APIError, fields_from_validation, validation_error
from ..models.tenant import list_tenants, shops_visible_to
from ..models.user import TENANT_ROLES, get_user_for, users_visible_to
from ..ratelimit import rate_limit
from ..schemas import UserIn, UserPatch
from ..services.users import create_user, delete_user, update_user
from .web import form, form_list, input_errors, int_or_none, portal_page, render

blueprint = Blueprint("portal_users", __name__, url_prefix="/users")


async def users_page(status: int = 200, **context):
    user = current_account()
    roles = TENANT_ROLES + (("superadmin",) if user.is_superadmin else ())
    shops = await shops_visible_to(user)
    return await render(
        "users.html",
        "partials/_users.html",
        status=status,
        users=await users_visible_to(user),
        roles=roles,
        shops=shops,
        shop_names={shop.id: shop.name for shop in shops},
        tenants=await list_tenants() if user.is_superadmin else [],
        **context,
    )


async def shop_id_list() -> list[int]:
    return [number for number in map(int_or_none, await form_list("shop_ids")) if number]


@blueprint.get("")
@rate_limit("api_limit")
@portal_page("admin")
async def index():
    """Users the admin manages, with the form to add one (htmx: the list)."""
    return await users_page()


@blueprint.post("")
@rate_limit("api_limit")
@portal_page("admin")
async def create():
    """Create a user; they choose their own password at first login."""
    data = await form()
    body = {
        "username": data.get("username", ""),
        "password": data.get("password", ""),
        "role": data.get("role", ""),
        "tenant_id": int_or_none(data.get("tenant_id")),
        "shop_ids": await shop_id_list(),
    }
    try:
        user = await create_user(current_account(), UserIn.model_validate(body))
    except ValidationError as error:
        return await users_page(422, errors=input_errors(error), values=data)
    except APIError as error:
        return await users_page(error.status, error=error, errors=error.fields or {}, values=data)
    return await users_page(201, done="created", notice_name=user.username)


@blueprint.post("/<int:user_id>")
@rate_limit("api_limit")
@portal_page("admin")
async def update(user_id: int):
    """Change role, shops, disable, or set a new first password."""
    actor = current_account()
    target = await get_user_for(actor, user_id)
    data = await form()
    wanted = {
        "role": data.get("role") or target.role,
        "shop_ids": sorted(await shop_id_list()),
        "disabled": data.get("disabled") == "on" and target.id != actor.id,
    }
    current = {
        "role": target.role,
        "shop_ids": sorted(target.shop_ids or []),
        "disabled": target.disabled,
    }
    patch = {key: value for key, value in wanted.items() if value != current[key]}
    if data.get("password"):
        patch["password"] = data["password"]
    try:
        await update_user(actor, target, UserPatch.model_validate(patch))
    except ValidationError as error:
        return await users_page(422, error=validation_error(fields_from_validation(error)))
    except APIError as error:
        return await users_page(error.status, error=error)
    return await users_page(done="updated", notice_name=target.username)


@blueprint.post("/<int:user_id>/delete")
@rate_limit("api_limit")
@portal_page("admin")
async def delete(user_id: int):
    """Delete a user; their sessions end with them."""
    actor = current_account()
    target = await get_user_for(actor, user_id)
    try:
        await delete_user(actor, target)
    except APIError as error:
        return await users_page(error.status, error=error)
    return await users_page(done="deleted", notice_name=target.username)
