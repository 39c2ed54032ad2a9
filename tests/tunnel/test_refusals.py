"""Refused /ws keys are audited without the key, and a storm of them is one entry a minute."""

from __future__ import annotations

import asyncio

import pytest
from quart.testing import WebsocketResponseError

from sentra_tunnel.models.audit import AuditEntry
from sentra_tunnel.tunnel.refusals import RefusalLog, key_prefix
from tests.support.api import audit_rows

from .fakes import WAIT_S


async def _refusals() -> list[AuditEntry]:
    query = AuditEntry.select().where(AuditEntry.action == "device.connect_refused")
    return await audit_rows(query.order_by(AuditEntry.id))


async def _connect(app, api_key: str) -> int:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with app.test_client().websocket("/ws", headers=headers) as ws:
        with pytest.raises(WebsocketResponseError) as rejected:
            await asyncio.wait_for(ws.receive(), WAIT_S)
    return rejected.value.response.status_code


@pytest.mark.parametrize(
    "api_key, prefix",
    [
        ("0123456789abcdef.the-secret", "01234567"),
        ("0123.the-secret", "0123"),
        ("my-password", ""),  # no key of ours: it may be a secret itself
        ("passw0rd.the-secret", ""),
        ("", ""),
    ],
)
def test_only_a_key_ids_first_characters_are_kept(api_key, prefix):
    assert key_prefix(api_key) == prefix


async def test_a_key_guessing_storm_is_one_entry_without_the_key(app):
    guesses = [f"{n:016x}.wrong-secret-{n}" for n in range(30)]
    for guess in guesses:
        assert await _connect(app, guess) == 401
    [entry] = await _refusals()
    assert (entry.actor, entry.outcome, entry.tenant_id) == ("anonymous", "invalid_key", None)
    assert entry.ip and entry.details == {"key_prefix": "00000000", "refused_since_last_entry": 0}
    assert "wrong-secret" not in str(entry.__data__)


async def test_the_next_entry_counts_the_refusals_held_back(app):
    now = [0.0]
    refusals = RefusalLog(window_s=60, clock=lambda: now[0])
    for _ in range(5):
        refusals.refused("192.0.2.1", "0123456789abcdef.x")
    refusals.refused("192.0.2.2", "")  # another address has its own window
    now[0] = 61
    refusals.refused("192.0.2.1", "fedcba9876543210.x")
    entries = await _refusals()
    assert [(e.ip, e.details) for e in entries] == [
        ("192.0.2.1", {"key_prefix": "01234567", "refused_since_last_entry": 0}),
        ("192.0.2.2", {"key_prefix": "", "refused_since_last_entry": 0}),
        ("192.0.2.1", {"key_prefix": "fedcba98", "refused_since_last_entry": 4}),
    ]


async def test_memory_for_addresses_is_bounded(app):
    refusals = RefusalLog(max_addresses=2)
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        refusals.refused(ip, "")
    assert len(await _refusals()) == 2 and refusals.unrecorded == 1
