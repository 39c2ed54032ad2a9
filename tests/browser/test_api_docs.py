"""Swagger UI runs under the strict Content-Security-Policy (the fixture fails on a violation)."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_api_docs_render_every_operation_without_a_policy_violation(live_server, new_phone):
    page = new_phone()
    page.goto(live_server.url + "/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 20  # the whole API, read from /openapi.json
    expect(page.get_by_text("/api/commands/{device_id}/open").first).to_be_visible()
