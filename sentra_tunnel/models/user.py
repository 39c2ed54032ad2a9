"""Portal users, their server-side sessions, and the queries that scope them."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from datetime import timedelta

from peewee import AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField

from ..db import database
from ..errors import not_found
from ..security import new_token, token_hash
from .base import BaseModel, JSONField, utcnow, valid_id
from .tenant import Tenant

ROLES = ("viewer", "staff", "admin", "superadmin")
TENANT_ROLES = ROLES[:3]
SESSION_TOUCH_EVERY = timedelta(minutes=5)
SESSION_CACHE_S = 5.0
SESSION_CACHE_SIZE = 20_000


class User(BaseModel):
    id = AutoField()
    username = CharField(max_length=64, unique=True)
    password_hash = CharField(max_length=100)
    role = CharField(max_length=16)
    tenant = ForeignKeyField(Tenant, null=True, backref="users", on_delete="CASCADE")
    shop_ids = JSONField(default=list)
    must_change_password = BooleanField(default=True)
    disabled = BooleanField(default=False)
    language = CharField(max_length=8, null=True)
    created_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):
        result = super().save(*args, **kwargs)
        session_cache.forget_user(self.id)  # role, shops, password or disabled may have changed
        user_changed(self.id)
        return result

    def delete_instance(self, *args, **kwargs):
        session_cache.forget_user(self.id)
        result = super().delete_instance(*args, **kwargs)
        user_changed(self.id)
        return result

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def is_superadmin(self) -> bool:
        return self.role == "superadmin"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "tenant_id": self.tenant_id,
            "shop_ids": list(self.shop_ids or []),
            "must_change_password": self.must_change_password,
            "disabled": self.disabled,
        }


class Session(BaseModel):
    """The cookie holds a random id; only its hash is stored, so a database leak opens nothing."""

    id = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    csrf_token = CharField(max_length=64)
    client = CharField(max_length=200, default="")
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(default=utcnow)


class SessionCache:
    """Recently loaded sessions, so a request costs no query; ending a session forgets it.

    Per process: a session ended in another process (the command line; later another node)
    is noticed once its entry expires, within SESSION_CACHE_S.
    """

    def __init__(self, ttl: float = SESSION_CACHE_S, size: int = SESSION_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self._entries: dict[str, tuple[float, Session]] = {}

    def get(self, session_id: str) -> Session | None:
        entry = self._entries.get(session_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, session: Session) -> None:
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        self._entries[session.id] = (time.monotonic() + self.ttl, session)

    def forget(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def forget_user(self, user_id) -> None:
        for session_id, (_, session) in list(self._entries.items()):
            if session.user_id == user_id:
                del self._entries[session_id]


session_cache = SessionCache()

# Called with a user's id once their sessions or access changed (committed), so that live streams
# end or re-scope at once. The portal registers one at startup: models import no tunnel or portal.
user_listeners: list[Callable[[int], None]] = []


def user_changed(user_id: int) -> None:
    for listener in list(user_listeners):
        listener(user_id)


def _users_query(viewer):
    query = User.select().order_by(User.username)
    if viewer.tenant_id is not None:
        query = query.where(User.tenant == viewer.tenant_id)
    return query


async def users_visible_to(viewer, tenant_id: int | None = None) -> list[User]:
    query = _users_query(viewer)
    if tenant_id is not None:
        query = query.where(User.tenant == tenant_id)
    return await database.list(query)


async def get_user_for(viewer, user_id: int) -> User:
    user = None
    if valid_id(user_id):
        user = await database.first(_users_query(viewer).where(User.id == int(user_id)))
    if user is None:
        raise not_found("user")
    return user


def normalize_username(username: str) -> str:
    """The one form a username is stored, looked up, limited and audited in: NFKC (so look-alike
    full-width letters are the same name), no surrounding spaces, lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


async def find_user_by_name(username: str) -> User | None:
    return await User.aget_or_none(User.username == normalize_username(username))


async def username_taken(username: str) -> bool:
    return await find_user_by_name(username) is not None


async def start_session(
    user: User, client: str, csrf_token: str | None = None
) -> tuple[str, Session]:
    """Create a session; returns the raw id for the cookie and the stored row."""
    raw = new_token(nbytes=32)
    session = await Session.acreate(
        id=token_hash(raw),
        user=user,
        csrf_token=csrf_token or new_token(nbytes=24),
        client=client[:200],
    )
    session_cache.put(session)
    return raw, session


async def load_session(raw: str, *, idle: timedelta, lifetime: timedelta) -> Session | None:
    """The live session for a cookie id with its user joined in, touching it now and then.

    A session unused for `idle`, or older than `lifetime` however busy, is ended here."""
    session_id = token_hash(raw)
    session = session_cache.get(session_id)
    cached = session is not None
    if not cached:
        query = (
            Session.select(Session, User)
            .join(User)
            .where(Session.id == session_id, User.disabled == False)  # noqa: E712
        )
        session = await database.first(query)
        if session is None:
            return None
    now = utcnow()
    if now - session.created_at > lifetime or now - session.last_used_at > idle:
        await end_session(raw)
        return None
    if not cached:
        if now - session.last_used_at > min(SESSION_TOUCH_EVERY, idle / 10):
            session.last_used_at = now
            touch = Session.update(last_used_at=now).where(Session.id == session.id)
            await database.run(touch.execute)
        session_cache.put(session)
    return session


async def session_user(session_id: str, *, lifetime: timedelta) -> User | None:
    """The user of the session with this stored id, read now past every cache; None once the
    session ended (logout, reset, deletion, older than `lifetime`) or the user is disabled.

    No idle check: an open live page is the session in use."""
    query = (
        Session.select(Session, User)
        .join(User)
        .where(
            Session.id == session_id,
            Session.created_at > utcnow() - lifetime,
            User.disabled == False,  # noqa: E712
        )
    )
    session = await database.first(query)
    return None if session is None else session.user


async def end_session(raw: str) -> None:
    session_id = token_hash(raw)
    session_cache.forget(session_id)
    query = Session.delete().where(Session.id == session_id).returning(Session.user)
    for user_id in await database.run(lambda: [row.user_id for row in query.execute()]):
        user_changed(user_id)


async def end_sessions_of(user_id: int, keep_session_id: str | None = None) -> None:
    session_cache.forget_user(user_id)
    query = Session.delete().where(Session.user == user_id)
    if keep_session_id is not None:
        query = query.where(Session.id != keep_session_id)
    await database.run(query.execute)
    user_changed(user_id)
