"""First start: an empty database gets the platform operator admin/admin, to be changed at once."""

from __future__ import annotations

import asyncio
import logging

from peewee import IntegrityError

from .db import database
from .models.user import User
from .security import hash_password_sync

log = logging.getLogger(__name__)


async def ensure_first_admin(bcrypt_rounds: int) -> None:
    if await database.exists(User.select()):
        return
    password_hash = await asyncio.to_thread(hash_password_sync, "admin", bcrypt_rounds)
    try:
        await User.acreate(
            username="admin",
            password_hash=password_hash,
            role="superadmin",
            tenant=None,
            must_change_password=True,
        )
    except IntegrityError:
        return  # another worker created it first
    log.warning("created the first user admin/admin; log in and change the password now")
