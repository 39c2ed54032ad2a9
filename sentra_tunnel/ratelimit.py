"""Rate limits with `limits`: every route declares one, or says why it needs none."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from functools import wraps

from limits import parse as parse_limit
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from limits.util import WindowStats
from quart import Quart, current_app

from .errors import APIError
from .security import client_ip

SWEEP_EVERY_S = 60


@functools.lru_cache(maxsize=64)
def parse(limit: str):
    """A limit string such as "300/minute", parsed once."""
    return parse_limit(limit)


class LocalFixedWindow:
    """limits' fixed-window strategy for one process, in plain memory.

    limits' own memory storage takes an asyncio lock per key and sweeps every key for expiry
    after each hit: a fifth of a small request's cost, growing with users and devices. A dict of
    counters needs neither; ended windows are swept once a minute. With Redis the limits
    library itself counts, shared by every node, with the same strategy.
    """

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int, int]] = {}  # key → (window, hits, its seconds)
        self._swept_at = 0.0

    def _used(self, key: str, window: int) -> int:
        seen = self._counts.get(key)
        return seen[1] if seen and seen[0] == window else 0

    async def hit(self, item, *identifiers, cost: int = 1) -> bool:
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        window = int(time.time() // expiry)
        used = self._used(key, window)
        if used + cost > item.amount:
            return False
        self._counts[key] = (window, used + cost, expiry)
        self._sweep()
        return True

    async def test(self, item, *identifiers, cost: int = 1) -> bool:
        window = int(time.time() // item.get_expiry())
        return self._used(item.key_for(*identifiers), window) + cost <= item.amount

    async def get_window_stats(self, item, *identifiers) -> WindowStats:
        expiry = item.get_expiry()
        window = int(time.time() // expiry)
        used = self._used(item.key_for(*identifiers), window)
        return WindowStats((window + 1) * expiry, max(0, item.amount - used))

    def _sweep(self) -> None:
        now = time.time()
        if now - self._swept_at < SWEEP_EVERY_S:
            return
        self._swept_at = now
        for key, (window, _, expiry) in list(self._counts.items()):
            if (window + 1) * expiry <= now:
                del self._counts[key]


def init_app(app: Quart) -> None:
    settings = app.config["SETTINGS"]
    if settings.redis_url:
        storage = storage_from_string("async+" + settings.redis_url)
        app.extensions["rate_limiter"] = FixedWindowRateLimiter(storage)
    else:
        app.extensions["rate_limiter"] = LocalFixedWindow()


async def hit(limit: str, *keys: str) -> None:
    """Count one hit against `limit` for these keys; raise 429 with Retry-After when over."""
    if not await current_app.extensions["rate_limiter"].hit(parse(limit), *keys):
        await _refuse(limit, keys)


async def check(limit: str, *keys: str) -> None:
    """Raise 429 if `limit` is used up for these keys, without counting this request."""
    if not await current_app.extensions["rate_limiter"].test(parse(limit), *keys):
        await _refuse(limit, keys)


async def count(limit: str, *keys: str) -> None:
    """Count one hit without refusing anything (e.g. a failed login, after it failed)."""
    await current_app.extensions["rate_limiter"].hit(parse(limit), *keys)


async def _refuse(limit: str, keys: tuple[str, ...]) -> None:
    stats = await current_app.extensions["rate_limiter"].get_window_stats(parse(limit), *keys)
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    raise APIError(
        429,
        "rate_limited",
        f"Too many attempts; try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def rate_limit(setting: str, scope: str | None = None) -> Callable:
    """Limit a route per client address; `setting` names a limit in Settings (e.g. "api_limit")."""

    def decorator(view):
        @wraps(view)
        async def limited(*args, **kwargs):
            limit = getattr(current_app.config["SETTINGS"], setting)
            await hit(limit, scope or view.__name__, client_ip())
            return await view(*args, **kwargs)

        limited.rate_limit = setting
        return limited

    return decorator


def exempt(reason: str) -> Callable:
    """Mark a route as deliberately unlimited; the reason is for the reader and the route test."""

    def decorator(view):
        view.rate_limit = f"exempt: {reason}"
        return view

    return decorator
