"""Rate limits with `limits`: every route declares one, or says why it needs none."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from quart import Quart, current_app

from .errors import APIError
from .security import client_ip


def init_app(app: Quart) -> None:
    settings = app.config["SETTINGS"]
    if settings.redis_url:
        storage = storage_from_string("async+" + settings.redis_url)
    else:
        storage = MemoryStorage()
    app.extensions["rate_limiter"] = MovingWindowRateLimiter(storage)


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
