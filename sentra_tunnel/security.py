"""Password hashing, secret tokens and the client's address, in one place."""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import bcrypt
from quart import current_app, has_request_context, request, websocket

from .errors import busy

BCRYPT_WAITING = 16  # callers in line per slot (one slot per core) before 503 busy
BCRYPT_RETRY_S = 2
MAX_PASSWORD_BYTES = 72  # bcrypt 5 refuses longer input instead of truncating
MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS_FILE = Path(__file__).parent / "wordlists" / "common_passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the 10,000 most common passwords, read on first use."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


class BcryptSlots:
    """At most `size` bcrypt calls at once, so a burst of logins cannot take every core; past
    `waiting` callers in line, the next is told 503 busy with Retry-After instead of queueing.

    A slot is given back when the thread finishes, not when its caller gives up waiting."""

    def __init__(self, size: int, waiting: int) -> None:
        self.size, self.waiting = size, waiting
        self._slots = asyncio.Semaphore(size)
        self._in_line = 0

    async def run(self, work: Callable, *args):
        if self._slots.locked() and self._in_line >= self.waiting:
            raise busy("Too many password checks at once; try again shortly.", BCRYPT_RETRY_S)
        self._in_line += 1
        try:
            await self._slots.acquire()
        finally:
            self._in_line -= 1
        running = asyncio.ensure_future(asyncio.to_thread(work, *args))
        running.add_done_callback(lambda _: self._slots.release())
        return await asyncio.shield(running)


def bcrypt_slots() -> BcryptSlots:
    slots = current_app.extensions.get("bcrypt_slots")
    if slots is None:
        size = os.cpu_count() or 1
        slots = current_app.extensions["bcrypt_slots"] = BcryptSlots(size, BCRYPT_WAITING * size)
    return slots


async def hash_password(password: str) -> str:
    rounds = current_app.config["SETTINGS"].bcrypt_rounds
    return await bcrypt_slots().run(_hash, password, rounds)


def _hash(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def hash_password_sync(password: str, rounds: int) -> str:
    return _hash(password, rounds)


async def check_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not the user exists, so timing reveals nothing."""
    encoded = password.encode()
    acceptable = (
        password_hash is not None and len(encoded) <= MAX_PASSWORD_BYTES and b"\x00" not in encoded
    )
    target = (password_hash if acceptable else await _dummy_hash()).encode()
    matches = await bcrypt_slots().run(bcrypt.checkpw, encoded[:MAX_PASSWORD_BYTES], target)
    return matches and acceptable


async def _dummy_hash() -> str:
    cached = current_app.config.get("DUMMY_PASSWORD_HASH")
    if cached is None:  # made once, off the event loop
        cached = await hash_password(secrets.token_hex(8))
        current_app.config["DUMMY_PASSWORD_HASH"] = cached
    return cached


def password_problem(password: str, username: str = "") -> str | None:
    """Why a new password is too weak, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"must be at most {MAX_PASSWORD_BYTES} bytes"
    if "\x00" in password:  # bcrypt would silently ignore everything after it
        return "must not contain NUL characters"
    if password.lower() in common_passwords() or password.lower() == username.lower():
        return "is too easy to guess"
    return None


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _trusted_proxy(address: str) -> bool:
    allowed = current_app.config["SETTINGS"].forwarded_allow_ips
    if "*" in allowed:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in allowed)


def client_ip() -> str:
    """The peer address, or the one a trusted proxy forwarded for it (HTTP or WebSocket)."""
    incoming = request if has_request_context() else websocket
    address = incoming.remote_addr or ""
    forwarded = incoming.headers.get("X-Forwarded-For", "")
    if forwarded and _trusted_proxy(address):
        return forwarded.split(",")[-1].strip()
    return address


def request_host() -> str:
    """The host the browser asked for, as a trusted proxy reports it."""
    forwarded = request.headers.get("X-Forwarded-Host", "")
    if forwarded and _trusted_proxy(request.remote_addr or ""):
        return forwarded.split(",")[0].strip()
    return request.host


def request_scheme() -> str:
    proto = request.headers.get("X-Forwarded-Proto", "")
    if proto in ("http", "https") and _trusted_proxy(request.remote_addr or ""):
        return proto
    return request.scheme
