"""A logged-in API client and quick ways to create tenants, shops and users in tests."""

from __future__ import annotations

from dataclasses import dataclass

from sentra_tunnel.db import database
from sentra_tunnel.models import audit
from sentra_tunnel.models.tenant import Shop, Tenant
from sentra_tunnel.models.user import User
from sentra_tunnel.security import hash_password_sync

PASSWORD = "correct horse battery"


class ApiClient:
    """Wraps Quart's test client: keeps the CSRF token and sends it on unsafe requests."""

    def __init__(self, client):
        self.client = client
        self.csrf_token = ""

    async def login(self, username: str, password: str = PASSWORD):
        response = await self.client.post(
            "/auth/login", json={"username": username, "password": password}
        )
        if response.status_code == 200:
            self.csrf_token = (await response.get_json())["csrf_token"]
        return response

    def _headers(self, headers):
        return {"X-CSRF-Token": self.csrf_token, **(headers or {})}

    async def get(self, path, **kwargs):
        return await self.client.get(path, **kwargs)

    async def post(self, path, headers=None, **kwargs):
        return await self.client.post(path, headers=self._headers(headers), **kwargs)

    async def put(self, path, headers=None, **kwargs):
        return await self.client.put(path, headers=self._headers(headers), **kwargs)

    async def patch(self, path, headers=None, **kwargs):
        return await self.client.patch(path, headers=self._headers(headers), **kwargs)

    async def delete(self, path, headers=None, **kwargs):
        return await self.client.delete(path, headers=self._headers(headers), **kwargs)


@dataclass
class TenantWorld:
    """A tenant with two shops and one user of each role (staff and viewer limited to shop_a);
    the `tenant` and `other_tenant` fixtures."""

    tenant: Tenant
    shop_a: Shop
    shop_b: Shop
    admin: User
    staff: User
    viewer: User

    @property
    def id(self) -> int:
        return self.tenant.id


async def make_user(username, role, tenant=None, shop_ids=(), must_change=False) -> User:
    return await User.acreate(
        username=username,
        password_hash=hash_password_sync(PASSWORD, 4),
        role=role,
        tenant=tenant,
        shop_ids=list(shop_ids),
        must_change_password=must_change,
    )


async def make_tenant(name: str) -> TenantWorld:
    tenant = await Tenant.acreate(name=name)
    shop_a = await Shop.acreate(tenant=tenant, name=f"{name} A")
    shop_b = await Shop.acreate(tenant=tenant, name=f"{name} B")
    slug = name.lower()
    return TenantWorld(
        tenant=tenant,
        shop_a=shop_a,
        shop_b=shop_b,
        admin=await make_user(f"{slug}-admin", "admin", tenant),
        staff=await make_user(f"{slug}-staff", "staff", tenant, [shop_a.id]),
        viewer=await make_user(f"{slug}-viewer", "viewer", tenant, [shop_a.id]),
    )


async def error_code(response) -> str:
    """The contract's error code of a response, after checking the error shape."""
    body = await response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]["code"]


def session_cookie(response) -> str:
    """The session cookie's value from a response's Set-Cookie header."""
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "sentra_session":
            return rest.split(";", 1)[0]
    raise AssertionError("no session cookie set")


async def audit_rows(query) -> list:
    """Audit entries as stored, once everything recorded so far has been committed."""
    await audit.current_writer().flush()
    return await database.list(query)
