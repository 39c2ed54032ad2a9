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
BACKOFF_FIRST_S = 60
BACKOFF_MAX_S = 3600
BACKOFF_FORGET_S = 86400  # a day without attempts forgets an account's failures
BACKOFF_ACCOUNTS = 100_000  # accounts remembered at most (names tried, known or not)


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

    async def refund(self, item, *identifiers) -> None:
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        window = int(time.time() // expiry)
        used = self._used(key, window)
        if used:
            self._counts[key] = (window, used - 1, expiry)

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


class SharedFixedWindow(FixedWindowRateLimiter):
    """limits' fixed window on Redis, shared by every node, able to give one hit back."""

    async def refund(self, item, *identifiers) -> None:
        await self.storage.incr(item.key_for(*identifiers), item.get_expiry(), amount=-1)


class LoginBackoff:
    """Failed logins in a row per account, from every address together: once `after` attempts
    failed, each further one must wait twice as long as the one before (BACKOFF_FIRST_S up to
    BACKOFF_MAX_S), answered 429 with Retry-After. A success clears the account.

    An attempt counts as failed the moment it is admitted (a success undoes that), with no await
    between looking and counting, so a burst cannot slip past while its passwords are checked.
    Kept per process, also beside Redis; the fixed-window login limits are the shared ones.
    """

    def __init__(self, size: int = BACKOFF_ACCOUNTS) -> None:
        self.size = size
        self._accounts: dict[str, tuple[int, float, float]] = {}  # → (failures, not before, at)

    def admit(self, account: str, after: int) -> None:
        now = time.time()
        failures, not_before, at = self._accounts.pop(account, (0, 0.0, now))
        if now - at > BACKOFF_FORGET_S:
            failures, not_before = 0, 0.0
        if now < not_before:
            self._accounts[account] = (failures, not_before, at)
            raise too_many(not_before - now, "Too many failed logins for this account")
        failures += 1
        if failures >= after:
            not_before = now + min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (failures - after))
        self._accounts[account] = (failures, not_before, now)  # last in order: newest
        if len(self._accounts) > self.size:
            self._accounts.pop(next(iter(self._accounts)))  # the account tried longest ago

    def succeeded(self, account: str) -> None:
        self._accounts.pop(account, None)


def init_app(app: Quart) -> None:
    settings = app.config["SETTINGS"]
    if settings.redis_url:
        storage = storage_from_string("async+" + settings.redis_url)
        app.extensions["rate_limiter"] = SharedFixedWindow(storage)
    else:
        app.extensions["rate_limiter"] = LocalFixedWindow()
    app.extensions["login_backoff"] = LoginBackoff()


def login_backoff() -> LoginBackoff:
    return current_app.extensions["login_backoff"]


async def hit(limit: str, *keys: str) -> None:
    """Count one hit against `limit` for these keys; raise 429 with Retry-After when over.

    Counting and checking are one step, so requests racing each other cannot all pass."""
    if not await current_app.extensions["rate_limiter"].hit(parse(limit), *keys):
        await _refuse(limit, keys)


async def refund(limit: str, *keys: str) -> None:
    """Give back one hit that turned out harmless (a login that succeeded)."""
    await current_app.extensions["rate_limiter"].refund(parse(limit), *keys)


def too_many(wait_s: float, what: str = "Too many attempts") -> APIError:
    retry_after = max(1, math.ceil(wait_s))
    return APIError(
        429,
        "rate_limited",
        f"{what}; try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


async def _refuse(limit: str, keys: tuple[str, ...]) -> None:
    stats = await current_app.extensions["rate_limiter"].get_window_stats(parse(limit), *keys)
    raise too_many(stats.reset_time - time.time())


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
