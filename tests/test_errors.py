"""Bad input answers a clear 4xx in the contract's error shape, never a 500."""

from __future__ import annotations

import pytest

from sentra_tunnel.models.tenant import Tenant
from tests.support.api import PASSWORD, error_code

JSON = {"Content-Type": "application/json"}
TOO_BIG = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
HUGE_ID = 10**30
# Nested deeper than json.loads can recurse, yet far below 1 MiB.
TOO_DEEP = b"[" * 100_000 + b"]" * 100_000

# (method, path, request kwargs, status, code, fields that must be named)
BAD_REQUESTS = [
    ("post", "/api/tenants", {"data": b'{"name": ', "headers": JSON}, 400, "invalid_json", None),
    (
        "post",
        "/api/tenants",
        {"data": b"\xff\xfe{}", "headers": JSON},
        400,
        "invalid_encoding",
        None,
    ),
    (
        "post",
        "/api/tenants",
        {"data": b'{"name": "\xe9"}', "headers": JSON},
        400,
        "invalid_encoding",
        None,
    ),
    ("post", "/api/tenants", {"json": {"name": 5}}, 422, "validation_error", {"name"}),
    (
        "post",
        "/api/tenants",
        {"json": {"name": "A", "color": "red"}},
        422,
        "validation_error",
        {"color"},
    ),
    ("post", "/api/tenants", {"json": {}}, 422, "validation_error", {"name"}),
    ("post", "/api/tenants", {"json": {"name": "   "}}, 422, "validation_error", {"name"}),
    ("post", "/api/tenants", {"json": {"name": "A\x00B"}}, 422, "validation_error", {"name"}),
    ("post", "/api/shops", {"json": {"name": "Tab\there"}}, 422, "validation_error", {"name"}),
    (
        "post",
        "/api/users",
        {"json": {"username": "nul", "password": "long enough\x00", "role": "staff"}},
        422,
        "validation_error",
        {"password"},
    ),
    ("post", "/api/tenants", {"json": ["name"]}, 422, "validation_error", None),
    ("post", "/api/tenants", {"json": "name"}, 422, "validation_error", None),
    ("post", "/api/tenants", {"data": b"null", "headers": JSON}, 422, "validation_error", None),
    ("post", "/api/tenants", {"form": {"name": "Form"}}, 415, "unsupported_media_type", None),
    (
        "post",
        "/api/tenants",
        {"data": b"name=x", "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_media_type",
        None,
    ),
    ("post", "/api/tenants", {"data": TOO_BIG, "headers": JSON}, 413, "payload_too_large", None),
    (
        "post",
        "/api/shops",
        {"json": {"name": "S", "tenant_id": "1"}},
        422,
        "validation_error",
        {"tenant_id"},
    ),
    (
        "post",
        "/api/shops",
        {"json": {"name": "S", "tenant_id": HUGE_ID}},
        422,
        "validation_error",
        {"tenant_id"},
    ),
    (
        "post",
        "/api/users",
        {"json": {"username": "x y", "password": PASSWORD, "role": "staff"}},
        422,
        "validation_error",
        {"username"},
    ),
    (
        "post",
        "/api/users",
        {"json": {"username": "xy", "password": PASSWORD, "role": "boss"}},
        422,
        "validation_error",
        {"role"},
    ),
    (
        "post",
        "/api/users",
        {
            "json": {
                "username": "xy",
                "password": PASSWORD,
                "role": "staff",
                "tenant_id": 1,
                "shop_ids": [HUGE_ID],
            }
        },
        422,
        "validation_error",
        None,
    ),
    ("patch", "/api/users/1", {"json": {"disabled": "yes"}}, 422, "validation_error", {"disabled"}),
    ("get", f"/api/users/{HUGE_ID}", {}, 404, "not_found", None),
    ("patch", f"/api/users/{HUGE_ID}", {"json": {"role": "viewer"}}, 404, "not_found", None),
    ("delete", f"/api/users/{HUGE_ID}", {}, 404, "not_found", None),
    ("get", "/api/users/abc", {}, 404, "not_found", None),
    ("get", "/api/audit?limit=abc", {}, 422, "validation_error", {"limit"}),
    ("get", "/api/audit?limit=0", {}, 422, "validation_error", {"limit"}),
    ("get", f"/api/audit?before={HUGE_ID}", {}, 422, "validation_error", {"before"}),
    ("get", f"/api/audit?device_id={HUGE_ID}", {}, 422, "validation_error", {"device_id"}),
    ("get", "/api/nothing-here", {}, 404, "not_found", None),
    ("put", "/api/tenants", {"json": {"name": "A"}}, 405, "method_not_allowed", None),
    ("delete", "/api/audit", {}, 405, "method_not_allowed", None),
    ("post", "/api/tenants", {"data": TOO_DEEP, "headers": JSON}, 400, "invalid_json", None),
    ("post", "/api/commands/1/open", {"data": TOO_DEEP}, 400, "invalid_json", None),
    ("post", "/auth/login", {"data": TOO_DEEP, "headers": JSON}, 400, "invalid_json", None),
    ("post", "/auth/login", {"data": b"{", "headers": JSON}, 400, "invalid_json", None),
    (
        "post",
        "/auth/login",
        {"data": b'{"username": "\xff"}', "headers": JSON},
        400,
        "invalid_encoding",
        None,
    ),
    ("post", "/auth/login", {"json": [1, 2]}, 422, "validation_error", None),
    (
        "post",
        "/auth/login",
        {"json": {"username": "a", "password": 1}},
        422,
        "validation_error",
        {"password"},
    ),
    ("post", "/auth/login", {"data": TOO_BIG, "headers": JSON}, 413, "payload_too_large", None),
    ("post", "/auth/password", {"data": b"[", "headers": JSON}, 400, "invalid_json", None),
    (
        "post",
        "/auth/password",
        {"json": {"current_password": PASSWORD}},
        422,
        "validation_error",
        {"new_password"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "fields"),
    BAD_REQUESTS,
    ids=[f"{m} {p[:30]} {s} {c}" for m, p, _, s, c, _ in BAD_REQUESTS],
)
async def test_bad_requests_answer_in_the_error_shape(
    superadmin_client, method, path, kwargs, status, code, fields
):
    response = await getattr(superadmin_client, method)(path, **kwargs)
    assert response.status_code == status, await response.get_data()
    body = await response.get_json()
    assert await error_code(response) == code
    if fields:
        assert fields <= set(body["error"]["fields"]), body
    assert await Tenant.aget_or_none() is None  # nothing was created on the way


@pytest.mark.filterwarnings("ignore:Secure cookies")
async def test_malformed_json_is_the_same_without_debug(app_with):
    app = await app_with(debug=False)
    response = await app.test_client().post("/auth/login", data=b"{", headers=JSON)
    assert response.status_code == 400
    assert await error_code(response) == "invalid_json"


async def test_method_not_allowed_names_the_allowed_methods(superadmin_client):
    response = await superadmin_client.put("/api/tenants", json={"name": "A"})
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")


async def test_unknown_page_outside_the_api_is_html(client):
    response = await client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"


async def test_the_api_is_documented(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = (await response.get_json())["paths"]
    assert {"/auth/login", "/api/users", "/api/users/{user_id}", "/api/audit"} <= set(paths)
    assert (await client.get("/docs")).status_code == 200


def test_a_validation_error_names_each_field_once():
    from pydantic import ValidationError

    from sentra_tunnel.errors import fields_from_validation
    from sentra_tunnel.schemas import UserIn

    body = {"username": "x", "password": "", "role": "boss", "shop_ids": [0, -1], "extra": 1}
    with pytest.raises(ValidationError) as info:
        UserIn.model_validate(body)
    fields = fields_from_validation(info.value)
    assert set(fields) == {"username", "password", "role", "shop_ids.0", "shop_ids.1", "extra"}
    assert fields["extra"] == "is not a known field"
    assert fields_from_validation(ValueError("no errors")) == {"body": "is invalid"}
