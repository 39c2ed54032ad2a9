"""The audit log as a page: newest first, filtered by action and door, a page at a time."""

from __future__ import annotations

from urllib.parse import urlencode

from quart import Blueprint, request, url_for

from ..auth import current_account
from ..models.audit import entries_visible_to
from ..models.device import devices_visible_to, get_device_for
from ..ratelimit import rate_limit
from .web import int_or_none, portal_page, render

blueprint = Blueprint("portal_audit", __name__)

AUDIT_PAGE_SIZE = 50
AUDIT_ACTIONS = (
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.password",
    "auth.password_failed",
    "tenant.create",
    "shop.create",
    "user.create",
    "user.update",
    "user.delete",
    "device.create",
    "device.register",
    "device.register_failed",
    "device.reprovision",
    "device.revoke",
    "device.delete",
    "device.connect",
    "device.connect_refused",
    "device.disconnect",
    "command.open",
    "command.status",
    "command.get_config",
    "command.set_config",
    "command.override",
)


@blueprint.get("/audit")
@rate_limit("api_limit")
@portal_page("admin")
async def audit():
    """The audit log, newest first, filtered by action and door, 50 per page."""
    user = current_account()
    action = request.args.get("action") or None
    action = action if action in AUDIT_ACTIONS else None
    device_id = int_or_none(request.args.get("device_id"))
    if device_id is not None:
        await get_device_for(user, device_id)
    before = int_or_none(request.args.get("before"))
    entries = await entries_visible_to(
        user, device_id=device_id, action=action, before=before, limit=AUDIT_PAGE_SIZE + 1
    )
    filters = {key: value for key, value in (("action", action), ("device_id", device_id)) if value}
    more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    return await render(
        "audit.html",
        "partials/_audit.html",
        entries=[entry.to_dict() for entry in entries],
        actions=AUDIT_ACTIONS,
        devices=await devices_visible_to(user),
        filters=filters,
        older_url=url_for("portal_audit.audit", **filters, before=entries[-1].id) if more else None,
        csv_url=url_for("audit.export_csv") + ("?" + urlencode(filters) if filters else ""),
    )
