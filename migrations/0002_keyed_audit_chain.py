"""Key the audit chain: recompute every stored hash with HMAC-SHA256 under the audit key.

The one time entries are rewritten. The unkeyed chain is verified first; a database whose
chain is already broken is left alone and the migration stops, naming the entry, because
re-keying it would make the tampering look legitimate. Frozen copies of the hashing rules of
both steps live here, independent of the app's code.
"""

import datetime
import hashlib
import hmac
import json

GENESIS_HASH = "0" * 64
KEY_CONTEXT = b"sentra-tunnel audit chain v1"
COLUMNS = '"id", "ts", "actor", "tenant_id", "action", "target", "ip", "outcome", "details", "hash"'


def _iso(value) -> str:
    moment = (
        value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(value)
    )
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def _canonical(row) -> str:
    _, ts, actor, tenant_id, action, target, ip, outcome, details, _ = row
    fields = {
        "ts": _iso(ts),
        "actor": actor,
        "tenant_id": tenant_id,
        "action": action,
        "target": target,
        "ip": ip,
        "outcome": outcome,
        "details": json.loads(details) if details else {},
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def _plain(prev: str, row) -> str:
    return hashlib.sha256((prev + _canonical(row)).encode()).hexdigest()


def _keyed(key: bytes):
    def chain(prev: str, row) -> str:
        return hmac.new(key, (prev + _canonical(row)).encode(), hashlib.sha256).hexdigest()

    return chain


def _key() -> bytes:
    from sentra_tunnel.config import from_environment

    secret = from_environment().audit_secret
    return hmac.new(secret.encode(), KEY_CONTEXT, hashlib.sha256).digest()


def _rechain(db, old, new) -> None:
    rows = db.execute_sql(f'SELECT {COLUMNS} FROM "audit_entry" ORDER BY "id"').fetchall()
    if not rows:
        return
    prev_old = prev_new = GENESIS_HASH
    fresh = []
    for row in rows:
        if old(prev_old, row) != row[-1]:
            raise RuntimeError(
                f"the audit chain is broken at entry {row[0]}; it is left as it is. Restore a "
                "backup, or investigate with `sentra-tunnel audit-verify` before migrating."
            )
        prev_old, prev_new = row[-1], new(prev_new, row)
        fresh.append((prev_new, row[0]))
    param = db.param
    with db.atomic():
        for entry_hash, entry_id in fresh:
            db.execute_sql(
                f'UPDATE "audit_entry" SET "hash" = {param} WHERE "id" = {param}',
                (entry_hash, entry_id),
            )


def up(migrator, db):
    if db.execute_sql('SELECT 1 FROM "audit_entry" LIMIT 1').fetchone():
        _rechain(db, _plain, _keyed(_key()))


def down(migrator, db):
    if db.execute_sql('SELECT 1 FROM "audit_entry" LIMIT 1').fetchone():
        _rechain(db, _keyed(_key()), _plain)
