"""The in-process fixed window and the login backoff: counts per key, refuses past the limit,
says when to retry."""

from __future__ import annotations

import pytest

from sentra_tunnel import ratelimit
from sentra_tunnel.errors import APIError
from sentra_tunnel.ratelimit import LocalFixedWindow, LoginBackoff, parse


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


async def test_a_refund_gives_back_one_hit_of_the_current_window_only(clock):
    limiter, limit = LocalFixedWindow(), parse("2/minute")
    for _ in range(2):
        await limiter.hit(limit, "k")
    await limiter.refund(limit, "k")
    assert await limiter.hit(limit, "k")
    assert not await limiter.hit(limit, "k")
    clock[0] += 60
    await limiter.refund(limit, "k")  # nothing counted in this window yet: nothing to give
    assert [await limiter.hit(limit, "k") for _ in range(3)] == [True, True, False]


def refused_for(backoff: LoginBackoff, account: str, after: int) -> int | None:
    """Seconds the attempt is told to wait, or None when it may go ahead."""
    try:
        backoff.admit(account, after)
    except APIError as error:
        assert (error.status, error.code) == (429, "rate_limited")
        return int(error.headers["Retry-After"])
    return None


async def test_each_failure_past_the_free_ones_doubles_the_wait(clock):
    backoff = LoginBackoff()
    assert [refused_for(backoff, "ann", 3) for _ in range(3)] == [None] * 3
    waits = []
    for _ in range(8):
        waits.append(refused_for(backoff, "ann", 3))
        clock[0] += waits[-1]
        assert refused_for(backoff, "ann", 3) is None  # the one attempt after the wait
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert refused_for(backoff, "bob", 3) is None


async def test_racing_attempts_past_the_wait_let_one_through(clock):
    backoff = LoginBackoff()
    for _ in range(3):
        backoff.admit("ann", 3)
    clock[0] += 60
    assert [refused_for(backoff, "ann", 3) for _ in range(3)] == [None, 120, 120]


async def test_a_success_or_a_quiet_day_clears_the_account(clock):
    backoff = LoginBackoff()
    for account in ("ann", "bob"):
        for _ in range(3):
            backoff.admit(account, 3)
    backoff.succeeded("ann")
    assert refused_for(backoff, "ann", 3) is None
    clock[0] += ratelimit.BACKOFF_FORGET_S + 1
    assert refused_for(backoff, "bob", 3) is None


async def test_the_accounts_remembered_are_bounded(clock):
    backoff = LoginBackoff(size=2)
    for account in ("ann", "bob", "cy"):
        backoff.admit(account, 5)
    assert list(backoff._accounts) == ["bob", "cy"]
