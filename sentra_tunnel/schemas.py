"""Request and response bodies of the JSON API, as the contract states them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from .errors import validation_error
from .models.base import MAX_ID
from .models.user import normalize_username

NAME_MAX = 100
# Control characters have no place in a display name, and PostgreSQL refuses NUL outright.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN
    ),
]
Username = Annotated[
    str,
    # Stored in the one normal form the login looks up, so "Anna " and "anna" are one account.
    StringConstraints(min_length=2, max_length=64, pattern=r"^[\w.@+-]+$"),
    BeforeValidator(lambda value: normalize_username(value) if isinstance(value, str) else value),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Role = Literal["viewer", "staff", "admin", "superadmin"]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def clean_name(value: str | None, field: str = "name") -> str:
    """The same rule as `Name`, for callers that did not come through a schema (the portal)."""
    name = (value or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise validation_error({field: f"must be 1 to {NAME_MAX} characters"})
    if re.search(r"[\x00-\x1f\x7f]", name):
        raise validation_error({field: "must not contain control characters"})
    return name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    tenant_id: int | None
    shop_ids: list[int]
    must_change_password: bool
    disabled: bool


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Password


class PasswordChangeIn(Strict):
    current_password: Password
    new_password: Password


class TenantIn(Strict):
    name: Name


class TenantOut(BaseModel):
    id: int
    name: str


class TenantOne(BaseModel):
    tenant: TenantOut


class TenantList(BaseModel):
    tenants: list[TenantOut]


class ShopIn(Strict):
    name: Name
    tenant_id: Id | None = None


class ShopOut(BaseModel):
    id: int
    name: str
    tenant_id: int


class ShopOne(BaseModel):
    shop: ShopOut


class ShopList(BaseModel):
    shops: list[ShopOut]


class UserIn(Strict):
    username: Username
    password: Password
    role: Role
    tenant_id: Id | None = None
    shop_ids: list[Id] = Field(default_factory=list, max_length=1000)


class UserPatch(Strict):
    role: Role | None = None
    shop_ids: list[Id] | None = Field(default=None, max_length=1000)
    password: Password | None = None
    disabled: bool | None = None


class UserOne(BaseModel):
    user: UserOut


class UserList(BaseModel):
    users: list[UserOut]


class AuditEntryOut(BaseModel):
    id: int
    ts: str
    actor: str
    tenant_id: int | None
    action: str
    target: str
    ip: str
    outcome: str
    details: dict[str, Any]


class AuditList(BaseModel):
    entries: list[AuditEntryOut]


class AuditQuery(BaseModel):
    limit: int = Field(default=50, ge=1, le=500)
    before: Id | None = None
    device_id: Id | None = None
    action: Annotated[str, StringConstraints(max_length=40)] | None = None


# Devices and commands ------------------------------------------------------------------------


class DeviceOut(BaseModel):
    id: int
    name: str
    tenant_id: int
    shop_id: int
    registered: bool
    online: bool
    last_seen: str | None
    agent_version: str | None
    state: dict[str, Any] | None


class DeviceList(BaseModel):
    devices: list[DeviceOut]


class DeviceOne(BaseModel):
    device: DeviceOut


class DeviceIn(Strict):
    name: Name
    shop_id: Id


class DeviceCreated(BaseModel):
    device: DeviceOut
    registration_token: str
    expires_at: str


class RegistrationOut(BaseModel):
    registration_token: str
    expires_at: str


class RegisterIn(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    hostname: Annotated[str, StringConstraints(max_length=255)] | None = None
    agent_version: Annotated[str, StringConstraints(max_length=64)] | None = None


class Registered(BaseModel):
    device_id: int
    api_key: str
    ws_url: str


class CommandOut(BaseModel):
    ok: bool
    result: dict[str, Any]
