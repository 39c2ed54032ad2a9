"""Password rules (long enough, not the username, not a common one) and bcrypt work bounded to
one check per core, with a waiting line that answers busy when full."""

from __future__ import annotations

import asyncio
import os
import threading

import bcrypt
import pytest

from sentra_tunnel.errors import APIError
from sentra_tunnel.security import (
    BcryptSlots,
    bcrypt_slots,
    check_password,
    common_passwords,
    password_problem,
)
from tests.support.api import PASSWORD, error_code


def test_the_bundled_list_holds_the_ten_thousand_most_common_passwords():
    listed = common_passwords()
    assert len(listed) >= 10_000
    assert {"123456", "password", "password123", "qwertyuiop", "passwort"} <= listed


@pytest.mark.parametrize(
    "password, problem",
    [
        ("password123", "is too easy to guess"),
        ("PassWord123", "is too easy to guess"),
        ("1qaz2wsx3edc", "is too easy to guess"),
        ("bakery-admin", "is too easy to guess"),
        ("short", "must be at least 10 characters"),
        ("a" * 73, "must be at most 72 bytes"),
    ],
)
def test_weak_passwords_are_refused(password, problem):
    assert password_problem(password, "bakery-admin") == problem


def test_a_long_uncommon_password_is_fine():
    assert password_problem("amber kettle on the windowsill", "bakery-admin") is None


async def test_the_api_refuses_a_common_new_password(admin_client):
    response = await admin_client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "password123"}
    )
    assert response.status_code == 422
    assert await error_code(response) == "weak_password"


class BlockingWork:
    """Thread work that waits to be let go, counting how many run at once."""

    def __init__(self):
        self.lock, self.go = threading.Lock(), threading.Event()
        self.running = self.most = self.done = 0

    def __call__(self, *args):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.go.wait(timeout=10)
        with self.lock:
            self.running -= 1
            self.done += 1
        return True


async def until(condition) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_password_checks_run_at_most_one_per_core_at_once(app, monkeypatch):
    work = BlockingWork()
    monkeypatch.setattr(bcrypt, "checkpw", work)
    async with app.app_context():
        slots = bcrypt_slots()
        calls = 3 * slots.size
        checks = [asyncio.ensure_future(check_password("a guess", "$2b$04$" + "x" * 53))
                  for _ in range(calls)]  # fmt: skip
        await until(lambda: work.running == slots.size and slots._in_line == calls - slots.size)
        work.go.set()
        assert await asyncio.gather(*checks) == [True] * calls
    assert slots.size == (os.cpu_count() or 1)
    assert (work.most, work.done) == (slots.size, calls)


async def test_past_the_waiting_line_a_check_is_told_the_server_is_busy():
    slots, work = BcryptSlots(size=1, waiting=2), BlockingWork()
    admitted = [asyncio.ensure_future(slots.run(work)) for _ in range(3)]
    await until(lambda: work.running == 1 and slots._in_line == 2)
    with pytest.raises(APIError) as refused:
        await slots.run(work)
    assert (refused.value.status, refused.value.code) == (503, "busy")
    assert int(refused.value.headers["Retry-After"]) >= 1
    work.go.set()
    assert await asyncio.gather(*admitted) == [True] * 3


async def test_a_caller_giving_up_keeps_the_slot_until_its_thread_ends():
    slots, work = BcryptSlots(size=1, waiting=4), BlockingWork()
    first = asyncio.ensure_future(slots.run(work))
    await until(lambda: work.running == 1)
    first.cancel()
    second = asyncio.ensure_future(slots.run(work))
    await until(lambda: first.done() and slots._in_line == 1)
    assert work.running == 1  # the cancelled check's thread still holds the one slot
    work.go.set()
    assert await second is True
    assert work.most == 1
