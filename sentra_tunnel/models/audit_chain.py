"""Proving the audit trail: recompute the keyed chain and hold it against a logged checkpoint.

Each finding names what happened, as far as the chain can tell:
- an entry whose content no longer matches its hash while the next entry still chains from it
  was *edited*;
- an entry that breaks the chain while the next entry chains from the one before it was
  *inserted*;
- a break right after a gap in the ids, or a head short of a checkpoint, means entries were
  *removed* (a gap alone is not: PostgreSQL sequences skip ids on rollback);
- hashes that all follow the plain, unkeyed SHA-256 chain were *recomputed without the key*.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from .audit import (
    GENESIS_HASH,
    AuditEntry,
    canonical,
    chain_hash,
    chain_key,
    checkpoint_signature,
    hashed_fields,
)

CHECKPOINT = re.compile(r"audit-checkpoint id=(\d+) hash=([0-9a-f]{64}) sig=([0-9a-f]{64})")


@dataclass
class Checkpoint:
    entry_id: int
    entry_hash: str
    signature: str

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The last checkpoint in `text` (a log line, or a whole log)."""
        found = CHECKPOINT.findall(text)
        if not found:
            raise ValueError("no audit-checkpoint line (id=… hash=… sig=…) found")
        entry_id, entry_hash, signature = found[-1]
        return cls(int(entry_id), entry_hash, signature)


@dataclass
class ChainReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def unkeyed_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


def verify_chain(checkpoint: Checkpoint | None = None, key: bytes | None = None) -> ChainReport:
    """Recompute every hash in id order (sync: the command line), naming what broke."""
    key = key or chain_key()
    entries = list(AuditEntry.select().order_by(AuditEntry.id).iterator())
    report = ChainReport(checked=len(entries))
    if entries and _all_unkeyed(entries):
        report.problems.append("the chain was recomputed without the key (plain SHA-256)")
        return report
    _check_links(entries, key, report)
    if checkpoint is not None:
        _check_checkpoint(entries, checkpoint, key, report)
    return report


def _check_links(entries: list[AuditEntry], key: bytes, report: ChainReport) -> None:
    prev_hash, prev_id = GENESIS_HASH, 0
    for index, entry in enumerate(entries):
        if chain_hash(prev_hash, hashed_fields(entry), key) != entry.hash:
            inserted = _is_inserted(entries, index, prev_hash, key)
            report.problems.append(_what_broke(entry, prev_id, inserted))
            if inserted:
                continue  # the chain goes on from the entry before the inserted one
        prev_hash, prev_id = entry.hash, entry.id


def _what_broke(entry: AuditEntry, prev_id: int, inserted: bool) -> str:
    if inserted:
        return f"entry {entry.id} was inserted (the chain skips it)"
    if prev_id and entry.id > prev_id + 1:  # a gap is only a finding where the chain breaks
        return f"entries {prev_id + 1}–{entry.id - 1} were removed"
    return f"entry {entry.id} was edited (its content no longer matches its hash)"


def _is_inserted(entries: list[AuditEntry], index: int, prev_hash: str, key: bytes) -> bool:
    if index + 1 >= len(entries):
        return False
    following = entries[index + 1]
    return chain_hash(prev_hash, hashed_fields(following), key) == following.hash


def _all_unkeyed(entries: list[AuditEntry]) -> bool:
    prev_hash = GENESIS_HASH
    for entry in entries:
        if unkeyed_hash(prev_hash, hashed_fields(entry)) != entry.hash:
            return False
        prev_hash = entry.hash
    return True


def _check_checkpoint(
    entries: list[AuditEntry], checkpoint: Checkpoint, key: bytes, report: ChainReport
) -> None:
    expected = checkpoint_signature(checkpoint.entry_id, checkpoint.entry_hash, key)
    if not hmac.compare_digest(expected, checkpoint.signature):
        report.problems.append("the checkpoint's signature is wrong (not made with this key)")
        return
    by_id = {entry.id: entry for entry in entries}
    newest = entries[-1].id if entries else 0
    if checkpoint.entry_id > newest:
        report.problems.append(
            f"entries {newest + 1}–{checkpoint.entry_id} were removed "
            f"(the checkpoint names entry {checkpoint.entry_id})"
        )
    elif by_id.get(checkpoint.entry_id) is None:
        report.problems.append(f"entry {checkpoint.entry_id} of the checkpoint was removed")
    elif by_id[checkpoint.entry_id].hash != checkpoint.entry_hash:
        report.problems.append(
            f"the chain up to entry {checkpoint.entry_id} differs from the checkpoint "
            "(entries before it were changed, inserted or removed)"
        )
