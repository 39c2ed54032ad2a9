"""Every change to a user or their sessions tells the listeners (the live streams) whose it was."""

from __future__ import annotations

import pytest

from sentra_tunnel.models import user as user_model
from sentra_tunnel.models.user import end_session, end_sessions_of, start_session


@pytest.fixture
def told(monkeypatch) -> list[int]:
    heard: list[int] = []
    monkeypatch.setattr(user_model, "user_listeners", [heard.append])
    return heard


async def test_ending_a_session_names_its_user_once(tenant, told):
    raw, _ = await start_session(tenant.staff, "phone")
    await end_session(raw)
    await end_session(raw)  # gone already: nobody to tell
    await end_session("never-issued")
    assert told == [tenant.staff.id]


async def test_ending_all_sessions_saving_and_deleting_name_the_user(tenant, told):
    await end_sessions_of(tenant.staff.id)
    tenant.viewer.shop_ids = [tenant.shop_b.id]
    await tenant.viewer.asave()
    await tenant.admin.adelete_instance(recursive=True)
    assert told == [tenant.staff.id, tenant.viewer.id, tenant.admin.id]
