"""Request and response bodies of the JSON API, as the contract states them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[\w.@+-]+$"),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Role = Literal["viewer", "staff", "admin", "superadmin"]


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
    tenant_id: int | None = None


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
    tenant_id: int | None = None
    shop_ids: list[int] = Field(default_factory=list, max_length=1000)


class UserPatch(Strict):
    role: Role | None = None
    shop_ids: list[int] | None = Field(default=None, max_length=1000)
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
    before: int | None = Field(default=None, ge=1)
    device_id: int | None = None
    action: Annotated[str, StringConstraints(max_length=40)] | None = None
