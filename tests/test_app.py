"""The application factory's safety settings."""

from __future__ import annotations


async def test_no_traceback_reaches_a_client_even_in_debug(app_with):
    app = await app_with(debug=True)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret-internal-detail")

    response = await app.test_client().get("/boom", headers={"Accept": "text/html"})
    body = await response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "secret-internal-detail" not in body
    assert app.config["DEBUG"] is False
