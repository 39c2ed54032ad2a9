"""The in-process fixed window: counts per key, refuses past the limit, says when to retry."""

from __future__ import annotations

import pytest

from sentra_tunnel import ratelimit
from sentra_tunnel.ratelimit import LocalFixedWindow, parse


@pytest.fixture
def clock(monkeypatch):
    now = [60.0 * 16_667 + 20]  # 20 s into a minute
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    return now


async def test_counts_each_key_on_its_own_and_refuses_past_the_limit(clock):
    limiter, limit = LocalFixedWindow(), parse("3/minute")
    assert [await limiter.hit(limit, "login", "ann") for _ in range(4)] == [True] * 3 + [False]
    assert await limiter.hit(limit, "login", "bob")
    assert not await limiter.test(limit, "login", "ann")


async def test_a_new_window_starts_afresh_and_retry_after_points_at_it(clock):
    limiter, limit = LocalFixedWindow(), parse("2/minute")
    for _ in range(2):
        await limiter.hit(limit, "k")
    stats = await limiter.get_window_stats(limit, "k")
    assert stats.remaining == 0 and stats.reset_time - clock[0] == 40
    clock[0] += 40
    assert await limiter.hit(limit, "k")


async def test_ended_windows_are_swept(clock):
    limiter, limit = LocalFixedWindow(), parse("5/second")
    for user in range(100):
        await limiter.hit(limit, "api", str(user))
    clock[0] += ratelimit.SWEEP_EVERY_S + 1
    await limiter.hit(limit, "api", "late")
    assert len(limiter._counts) == 1
