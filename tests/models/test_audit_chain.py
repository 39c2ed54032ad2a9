"""The keyed audit chain: intact after appends; each kind of tampering found and named."""

from __future__ import annotations

import asyncio
import logging

from sentra_tunnel.db import database
from sentra_tunnel.models import audit
from sentra_tunnel.models.audit import GENESIS_HASH, AuditEntry, checkpoint_line, hashed_fields
from sentra_tunnel.models.audit_chain import Checkpoint, unkeyed_hash, verify_chain


async def record_some(count: int) -> list[int]:
    ids = []
    for number in range(count):
        entry = await audit.record(
            "user.update", actor="tester", target=f"user:{number}", details={"n": number}
        )
        ids.append(entry.id)
    return ids


async def verify(checkpoint: Checkpoint | None = None):
    return await database.run(verify_chain, checkpoint)


async def head_checkpoint() -> Checkpoint:
    entry_id, entry_hash = await database.run(audit.chain_head)
    return Checkpoint.parse(checkpoint_line(entry_id, entry_hash))


async def test_an_untouched_chain_verifies(app):
    await record_some(4)
    await asyncio.gather(
        *(audit.record("auth.login", actor=f"u{n}", target=f"user:{n}") for n in range(6))
    )
    report = await verify(await head_checkpoint())
    assert (report.checked, report.problems) == (10, [])


async def test_an_empty_chain_verifies(app):
    report = await verify()
    assert (report.checked, report.intact) == (0, True)


async def test_an_edited_field_is_found_and_named(app):
    ids = await record_some(5)
    await database.aexecute_sql(
        "UPDATE audit_entry SET outcome = 'forbidden' WHERE id = ?", (ids[2],)
    )
    report = await verify()
    assert report.problems == [
        f"entry {ids[2]} was edited (its content no longer matches its hash)"
    ]


async def test_a_deleted_last_entry_is_found_against_the_checkpoint(app):
    await record_some(4)
    checkpoint = await head_checkpoint()
    assert (await verify()).intact  # without the checkpoint the shorter chain looks whole
    await database.aexecute_sql("DELETE FROM audit_entry WHERE id = ?", (checkpoint.entry_id,))
    report = await verify(checkpoint)
    assert report.problems == [
        f"entries {checkpoint.entry_id}–{checkpoint.entry_id} were removed "
        f"(the checkpoint names entry {checkpoint.entry_id})"
    ]


async def test_a_deleted_middle_entry_is_found(app):
    ids = await record_some(4)
    await database.aexecute_sql("DELETE FROM audit_entry WHERE id = ?", (ids[1],))
    problems = (await verify()).problems
    assert f"entries {ids[1]}–{ids[1]} were removed" in problems


async def test_an_entry_inserted_in_the_middle_is_found_and_named(app):
    first, *rest = await record_some(3)
    for entry_id in reversed(rest):  # make room after the first entry, as a forger must
        await database.aexecute_sql("UPDATE audit_entry SET id = id + 1 WHERE id = ?", (entry_id,))
    forged = ("2026-01-01 00:00:00", "mallory", None, "auth.login", "user:9", "", "ok", "{}")
    await database.aexecute_sql(
        "INSERT INTO audit_entry (id, ts, actor, tenant_id, action, target, ip, outcome,"
        " details, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (first + 1, *forged, "f" * 64),
    )
    assert (await verify()).problems == [f"entry {first + 1} was inserted (the chain skips it)"]


async def test_a_chain_recomputed_without_the_key_is_found_and_named(app):
    await record_some(3)
    prev = GENESIS_HASH
    for entry in await database.list(AuditEntry.select().order_by(AuditEntry.id)):
        prev = unkeyed_hash(prev, hashed_fields(entry))
        await database.aexecute_sql(
            "UPDATE audit_entry SET hash = ? WHERE id = ?", (prev, entry.id)
        )
    assert (await verify()).problems == ["the chain was recomputed without the key (plain SHA-256)"]


async def test_a_checkpoint_signed_with_another_key_is_refused(app):
    await record_some(2)
    entry_id, entry_hash = await database.run(audit.chain_head)
    forged = Checkpoint.parse(checkpoint_line(entry_id, entry_hash, key=b"another key" * 3))
    assert (await verify(forged)).problems == [
        "the checkpoint's signature is wrong (not made with this key)"
    ]


async def test_the_writer_logs_signed_checkpoints_at_start_and_close(app, caplog):
    caplog.set_level(logging.INFO, logger="sentra_tunnel.models.audit")
    await record_some(2)
    writer = audit.current_writer()
    await writer.close()
    lines = [r.getMessage() for r in caplog.records if "audit-checkpoint" in r.getMessage()]
    assert lines, "no checkpoint was logged"
    checkpoint = Checkpoint.parse("\n".join(lines))
    assert checkpoint.entry_id == (await database.run(audit.chain_head))[0]
    assert (await verify(checkpoint)).intact
