"""The audit writer: many entries per transaction, in order, durable before `record` returns."""

from __future__ import annotations

import asyncio

import pytest

from sentra_tunnel.db import DatabaseBusy, database
from sentra_tunnel.models import audit
from sentra_tunnel.models.audit import AuditEntry, AuditWriter
from sentra_tunnel.models.audit_chain import verify_chain
from tests.support.api import audit_rows


async def test_concurrent_entries_share_transactions_and_keep_the_chain(app):
    writer = audit.current_writer()
    batches_before = writer.batches
    entries = await asyncio.gather(
        *(audit.record("auth.login", actor=f"u{n}", target=f"user:{n}") for n in range(300))
    )
    assert [entry.target for entry in entries] == [f"user:{n}" for n in range(300)]
    ids = [entry.id for entry in entries]
    assert ids == sorted(ids) and len(set(ids)) == 300  # committed in the order recorded
    assert writer.batches - batches_before < 30  # group commit, not one transaction each
    report = await database.run(verify_chain)
    assert report.intact and report.checked >= 300


async def test_record_returns_only_once_the_entry_is_stored(app):
    entry = await audit.record("tenant.create", actor="op", target="tenant:1")
    stored = await AuditEntry.aget_by_id(entry.id)
    assert (stored.action, stored.hash) == ("tenant.create", entry.hash)


async def test_a_busy_database_is_retried_and_nothing_is_dropped(app, monkeypatch):
    failures = [DatabaseBusy("locked"), DatabaseBusy("locked")]
    original = AuditWriter.write

    async def flaky_write(self, items):
        if failures:
            raise failures.pop()
        return await original(self, items)

    monkeypatch.setattr(AuditWriter, "write", flaky_write)
    monkeypatch.setattr(AuditWriter, "retry_first_s", 0.001)
    entries = await asyncio.gather(
        *(audit.record("shop.create", actor="a", target=f"shop:{n}") for n in range(5))
    )
    assert failures == [] and len({entry.id for entry in entries}) == 5
    rows = await audit_rows(AuditEntry.select().where(AuditEntry.action == "shop.create"))
    assert sorted(row.target for row in rows) == [f"shop:{n}" for n in range(5)]


async def test_a_cancelled_caller_does_not_lose_its_entry(app):
    task = asyncio.ensure_future(audit.record("device.revoke", actor="a", target="device:9"))
    await asyncio.sleep(0)  # the entry is queued once the task has started
    task.cancel()
    rows = await audit_rows(AuditEntry.select().where(AuditEntry.target == "device:9"))
    assert [row.action for row in rows] == ["device.revoke"]


async def test_entries_recorded_later_are_read_back(app, tenant):
    audit.record_later("command.open", actor="x", target="device:3", tenant_id=tenant.id)
    entries = await audit.entries_visible_to(tenant.admin, device_id=3)
    assert [entry.action for entry in entries] == ["command.open"]


async def test_a_full_queue_refuses_instead_of_growing_and_says_so(app, monkeypatch, caplog):
    writer = audit.current_writer()
    monkeypatch.setattr(writer, "queue_limit", 0)
    with pytest.raises(DatabaseBusy):
        await audit.record("auth.login", actor="a", target="user:1")
    assert audit.record_later("command.open", actor="a", target="device:7") is False
    assert "audit queue full: command.open device:7" in caplog.text


def _failing_write(monkeypatch, fails) -> list:
    """Make AuditWriter.write raise `fails(items)` (an exception or None) before writing."""
    calls = []
    original = AuditWriter.write

    async def write(self, items):
        calls.append([item["target"] for item in items])
        error = fails(items)
        if error is not None:
            raise error
        return await original(self, items)

    monkeypatch.setattr(AuditWriter, "write", write)
    monkeypatch.setattr(AuditWriter, "retry_first_s", 0.001)
    return calls


async def _stored(action: str) -> list[str]:
    rows = await audit_rows(AuditEntry.select().where(AuditEntry.action == action))
    return sorted(row.target for row in rows)


async def test_a_failed_batch_is_retried_and_stored(app, monkeypatch):
    failures = [RuntimeError("disk hiccup")]
    calls = _failing_write(monkeypatch, lambda items: failures.pop() if failures else None)
    audit.record_later("command.open", actor="a", target="device:1", outcome="ok")
    assert await _stored("command.open") == ["device:1"]
    assert calls == [["device:1"], ["device:1"]]


async def test_one_bad_entry_does_not_sink_its_batch_and_is_logged_loudly(app, monkeypatch, caplog):
    def fails(items):
        bad = any(item["target"] == "device:bad" for item in items)
        return TypeError("cannot store this") if bad else None

    _failing_write(monkeypatch, fails)
    for target in ("device:1", "device:bad", "device:2"):  # queued together: one batch
        audit.record_later("command.open", actor="a", target=target, outcome="device_error")
    assert await _stored("command.open") == ["device:1", "device:2"]
    lost = [r for r in caplog.records if r.levelname == "ERROR" and "lost" in r.getMessage()]
    assert [r.getMessage() for r in lost] == [
        "AuditWriter lost audit entry command.open device:bad (device_error)"
    ]


async def test_a_database_busy_for_too_long_is_given_up_loudly_not_waited_forever(
    app, monkeypatch, caplog
):
    monkeypatch.setattr(AuditWriter, "busy_retry_s", 0.05)
    calls = _failing_write(monkeypatch, lambda items: DatabaseBusy("database is locked"))
    with pytest.raises(DatabaseBusy):  # not a TimeoutError: the writer gives up by itself
        await asyncio.wait_for(audit.record("device.revoke", actor="a", target="device:7"), 5)
    assert 1 < len(calls) < 20  # retried, within its bound
    messages = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "AuditWriter lost audit entry device.revoke device:7 (ok)" in messages
    monkeypatch.undo()
    assert (await audit.record("device.revoke", actor="a", target="device:8")).id  # writes on
