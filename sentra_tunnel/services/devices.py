"""Device lifecycle: create, register, reprovision, revoke and delete, for the API and the portal.

Callers look the device up with `get_device_for(user, id)` first (404 for what the user cannot
see); these functions then check the role (403) and do the work, audit it and publish it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from quart import current_app

from ..auth import actor_context
from ..errors import APIError, forbidden
from ..models import audit
from ..models.base import utcnow
from ..models.device import (
    Device,
    claim_registration,
    find_by_key_id,
    find_by_registration_hash,
    get_device,
    update_device,
)
from ..models.tenant import get_shop_for
from ..schemas import clean_name
from ..security import new_token, same_secret, token_hash
from ..tunnel import current_hub
from ..tunnel.broker import device_deleted_event
from ..wire import CLOSE_REVOKED

REGISTRATION_PREFIX = "reg_"
KEY_ID_BYTES = 8
KEY_SECRET_BYTES = 32


def _require_admin(user) -> None:
    if not user.has_role("admin"):
        raise forbidden("Only an admin can manage devices.")


def _audit_context(device: Device) -> dict:
    # A superadmin has no tenant of their own; the entry belongs to the device's tenant.
    return actor_context(tenant_id=device.tenant_id)


def _new_registration() -> tuple[str, str, datetime]:
    token = new_token(REGISTRATION_PREFIX, 32)
    ttl = current_app.config["SETTINGS"].registration_token_ttl_s
    return token, token_hash(token), utcnow() + timedelta(seconds=ttl)


def new_api_key() -> tuple[str, str, str]:
    """(key_id, secret, api_key): the id finds the device without a scan, the secret proves it."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    secret = new_token(nbytes=KEY_SECRET_BYTES)
    return key_id, secret, f"{key_id}.{secret}"


def invalid_token(ip: str, reason: str, device: Device | None = None) -> APIError:
    """The one answer to a bad token, audited with why and from where, never with the token.
    Queued, not awaited: the per-address limit on registrations bounds how many there are."""
    audit.record_later(
        "device.register_failed",
        actor="anonymous",
        target=f"device:{device.id}" if device else "device:unknown",
        tenant_id=device.tenant_id if device else None,
        outcome="invalid_token",
        ip=ip,
        details={"reason": reason},
    )
    return APIError(401, "invalid_token", "The registration token is unknown, used or expired.")


async def create_device(user, name: str, shop_id: int) -> tuple[Device, str, datetime]:
    """A new device in a shop the user may see; returns it, its registration token and expiry."""
    _require_admin(user)
    name = clean_name(name)
    shop = await get_shop_for(user, shop_id)
    token, registration_hash, expires_at = _new_registration()
    device = await Device.acreate(
        tenant=shop.tenant_id,
        shop=shop.id,
        name=name,
        registration_token_hash=registration_hash,
        registration_expires_at=expires_at,
    )
    await audit.record(
        "device.create",
        target=f"device:{device.id}",
        details={"name": name, "shop_id": shop.id},
        **_audit_context(device),
    )
    await current_hub().publish_device(device)
    return device, token, expires_at


async def register_device(
    token: str, hostname: str | None, agent_version: str | None, ip: str
) -> tuple[Device, str]:
    """Spend a registration token (once) for an API key; returns the device and the key."""
    if not token.startswith(REGISTRATION_PREFIX):
        raise invalid_token(ip, "unknown")
    registration_hash = token_hash(token)
    device = await find_by_registration_hash(registration_hash)
    if device is None:
        raise invalid_token(ip, "unknown")  # never issued, or spent already
    expires_at = device.registration_expires_at
    if expires_at is None or expires_at < utcnow():
        raise invalid_token(ip, "expired", device)
    key_id, secret, api_key = new_api_key()
    fields = {
        "key_id": key_id,
        "key_hash": token_hash(secret),
        "registered": True,
        "hostname": hostname,
        "agent_version": agent_version,
    }
    if not await claim_registration(device.id, registration_hash, **fields):
        raise invalid_token(ip, "spent", device)  # by a concurrent request a moment ago
    registered = await get_device(device.id)
    if registered is None:  # deleted in the same moment
        raise invalid_token(ip, "deleted", device)
    device = registered
    await audit.record(
        "device.register",
        actor=f"device:{device.id}",
        target=f"device:{device.id}",
        tenant_id=device.tenant_id,
        ip=ip,
        details={"hostname": hostname, "agent_version": agent_version},
    )
    await current_hub().publish_device(device)
    return device, api_key


async def authenticate_key(api_key: str) -> Device | None:
    """The device an API key belongs to, or None; the secret is compared in constant time."""
    key_id, _, secret = api_key.partition(".")
    if not key_id or not secret or len(key_id) > 32:
        return None
    device = await find_by_key_id(key_id)
    if device is None or not device.key_hash:
        return None
    return device if same_secret(token_hash(secret), device.key_hash) else None


# Revocation fails closed, in this order: the hub refuses the key and closes the tunnel, then
# the database forgets the key, then the change is published and audited. Whatever fails after
# the first step (a busy database, the audit write), the device is cut off and stays so.


async def _cut_off(device: Device, reason: str) -> None:
    await current_hub().close_device(device.id, CLOSE_REVOKED, reason, key_id=device.key_id)


async def _kill_key(device: Device, **fields) -> None:
    """Make the key useless in the database too; no new tunnel can start with it."""
    key_id = device.key_id
    fields = {"key_id": None, "key_hash": None, "registered": False, **fields}
    await update_device(device.id, **fields)
    current_hub().key_forgotten(key_id)
    for name, value in fields.items():
        setattr(device, name, value)


async def reprovision_device(user, device: Device) -> tuple[str, datetime]:
    """Revoke the key and issue a new registration token; returns the token and its expiry."""
    _require_admin(user)
    token, registration_hash, expires_at = _new_registration()
    await _cut_off(device, "key revoked")
    await _kill_key(
        device, registration_token_hash=registration_hash, registration_expires_at=expires_at
    )
    await current_hub().publish_device(device)
    await audit.record(
        "device.reprovision",
        target=f"device:{device.id}",
        details={"expires_at": expires_at.isoformat() + "Z"},
        **_audit_context(device),
    )
    return token, expires_at


async def revoke_device(user, device: Device) -> None:
    """Kill the key and any unused registration token; the tunnel closes with 4001."""
    _require_admin(user)
    await _cut_off(device, "key revoked")
    await _kill_key(device, registration_token_hash=None, registration_expires_at=None)
    await current_hub().publish_device(device)
    await audit.record("device.revoke", target=f"device:{device.id}", **_audit_context(device))


async def delete_device(user, device: Device) -> None:
    """Delete the device; its tunnel closes with 4001."""
    _require_admin(user)
    await _cut_off(device, "device deleted")
    await device.adelete_instance()
    current_hub().key_forgotten(device.key_id)
    await current_hub().broker.publish(device_deleted_event(device))
    await audit.record(
        "device.delete",
        target=f"device:{device.id}",
        details={"name": device.name},
        **_audit_context(device),
    )
