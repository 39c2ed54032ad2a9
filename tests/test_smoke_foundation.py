async def test_bootstrap_admin_must_change_password(client):
    response = await client.login("admin", "admin")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["user"]["role"] == "superadmin"
    assert body["user"]["must_change_password"] is True
    response = await client.get("/api/tenants")
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"] == "password_change_required"


async def test_admin_lists_users_of_own_tenant(admin_client, tenant, other_tenant):
    response = await admin_client.get("/api/users")
    names = {user["username"] for user in (await response.get_json())["users"]}
    assert names == {"bakery-admin", "bakery-staff", "bakery-viewer"}


def test_live_server_answers(live_server):
    import httpx

    response = httpx.get(live_server.url + "/auth/me")
    assert response.status_code == 401
