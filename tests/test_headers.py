"""Every response carries the security headers; the portal's policy allows only this origin."""


async def test_pages_and_api_carry_security_headers(client):
    for path in ("/login", "/api/devices", "/static/js/app.js"):
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy
        assert "Strict-Transport-Security" not in response.headers  # plain http in tests


async def test_hsts_only_when_a_trusted_proxy_says_https(app_with):
    app = await app_with(forwarded_allow_ips=("*",))
    client = app.test_client()
    plain = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert plain.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_forwarded_proto_from_an_untrusted_peer_is_ignored(client):
    response = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers
