"""The audit trail's hash chain: intact after appends, broken where a row was changed."""

from __future__ import annotations

import asyncio

from sentra_tunnel.db import database
from sentra_tunnel.models import audit
from sentra_tunnel.models.audit import verify_chain


async def record_some(count: int) -> list[int]:
    ids = []
    for number in range(count):
        entry = await audit.record(
            "user.update", actor="tester", target=f"user:{number}", details={"n": number}
        )
        ids.append(entry.id)
    return ids


async def test_an_untouched_chain_verifies(app):
    await record_some(4)
    await asyncio.gather(
        *(audit.record("auth.login", actor=f"u{n}", target=f"user:{n}") for n in range(6))
    )
    assert await database.run(verify_chain) == (10, None)


async def test_an_empty_chain_verifies(app):
    assert await database.run(verify_chain) == (0, None)


async def test_a_modified_entry_breaks_the_chain_there(app):
    ids = await record_some(5)
    await database.aexecute_sql(
        "UPDATE audit_entry SET outcome = 'forbidden' WHERE id = ?", (ids[2],)
    )
    assert await database.run(verify_chain) == (2, ids[2])


async def test_modified_details_break_the_chain(app):
    ids = await record_some(3)
    await database.aexecute_sql(
        "UPDATE audit_entry SET details = '{\"n\":7}' WHERE id = ?", (ids[0],)
    )
    assert await database.run(verify_chain) == (0, ids[0])


async def test_a_deleted_entry_breaks_the_chain_after_it(app):
    ids = await record_some(4)
    await database.aexecute_sql("DELETE FROM audit_entry WHERE id = ?", (ids[1],))
    assert await database.run(verify_chain) == (1, ids[2])
