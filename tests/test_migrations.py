"""Schema migrations: up and down on an empty database, and up again."""

from __future__ import annotations

import hashlib
import json

import pytest

from sentra_tunnel.db import migrate_up, migration_runner, open_sync, pending_migrations

TABLES = {"tenant", "shop", "user", "session", "device", "audit_entry"}
MIGRATIONS = ["0001_initial", "0002_keyed_audit_chain", "0003_never_reuse_ids"]
HISTORY = "schema_migration"


def tables(url: str) -> set[str]:
    db = open_sync(url)
    try:
        return set(db.get_tables()) - {"sqlite_sequence"}  # SQLite's own, for AUTOINCREMENT
    finally:
        db.close()


def revert_all(url: str) -> list[str]:
    db = open_sync(url)
    try:
        runner = migration_runner(db)
        reverted = []
        while step := runner.down():
            reverted += step
        return reverted
    finally:
        db.close()


def test_up_down_up_on_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert pending_migrations(url) == MIGRATIONS
    assert migrate_up(url) == MIGRATIONS
    assert tables(url) == TABLES | {HISTORY}
    assert pending_migrations(url) == []
    assert migrate_up(url) == []

    assert revert_all(url) == list(reversed(MIGRATIONS))
    assert tables(url) == {HISTORY}
    assert pending_migrations(url) == MIGRATIONS

    assert migrate_up(url) == MIGRATIONS
    assert tables(url) == TABLES | {HISTORY}


def test_the_schema_matches_the_models(tmp_path):
    """Every column a model declares exists after the migrations (and nothing is missing)."""
    from sentra_tunnel.models.audit import AuditEntry
    from sentra_tunnel.models.device import Device
    from sentra_tunnel.models.tenant import Shop, Tenant
    from sentra_tunnel.models.user import Session, User

    url = f"sqlite:///{tmp_path / 'schema.db'}"
    migrate_up(url)
    db = open_sync(url)
    try:
        for model in (Tenant, Shop, User, Session, Device, AuditEntry):
            table = model._meta.table_name
            columns = {column.name for column in db.get_columns(table)}
            assert columns == {field.column_name for field in model._meta.sorted_fields}, table
    finally:
        db.close()


def _unkeyed_chain(db, count: int, tamper_at: int | None = None) -> None:
    """Entries as the first release stored them: a plain SHA-256 chain."""
    prev = "0" * 64
    for number in range(1, count + 1):
        fields = {"ts": "2026-11-01T10:00:00Z", "actor": "admin", "tenant_id": None}
        fields |= {"action": "auth.login", "target": f"user:{number}", "ip": "", "outcome": "ok"}
        fields["details"] = {"n": number}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        prev = hashlib.sha256((prev + canonical).encode()).hexdigest()
        actor = "someone else" if number == tamper_at else "admin"
        db.execute_sql(
            "INSERT INTO audit_entry (ts, actor, tenant_id, action, target, ip, outcome, details,"
            " hash) VALUES ('2026-11-01 10:00:00', ?, NULL, 'auth.login', ?, '', 'ok', ?, ?)",
            (actor, f"user:{number}", json.dumps({"n": number}), prev),
        )


def _first_release(url: str, **chain) -> None:
    db = open_sync(url)
    try:
        migration_runner(db).up("0001_initial")
        _unkeyed_chain(db, 5, **chain)
    finally:
        db.close()


def test_an_existing_unkeyed_chain_is_keyed_and_verifies(tmp_path, monkeypatch):
    from sentra_tunnel.models import audit
    from sentra_tunnel.models.audit_chain import verify_chain

    monkeypatch.setenv("SECRET_KEY", "migration-test-secret-0123456789")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _first_release(url)
    assert migrate_up(url) == ["0002_keyed_audit_chain", "0003_never_reuse_ids"]
    db = open_sync(url)
    audit.database.initialize(db)
    try:
        report = verify_chain(key=audit.derive_key("migration-test-secret-0123456789"))
    finally:
        db.close()
    assert (report.checked, report.problems) == (5, [])


def test_a_broken_unkeyed_chain_is_not_keyed(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "migration-test-secret-0123456789")
    url = f"sqlite:///{tmp_path / 'tampered.db'}"
    _first_release(url, tamper_at=3)
    with pytest.raises(RuntimeError, match="broken at entry 3"):
        migrate_up(url)
    assert pending_migrations(url) == ["0002_keyed_audit_chain", "0003_never_reuse_ids"]


def test_a_deleted_id_is_never_given_out_again(tmp_path):
    """Tenant B's new device must not inherit the id of tenant A's deleted one."""
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    migrate_up(url)
    db = open_sync(url)
    try:
        db.execute_sql("INSERT INTO tenant (name, created_at) VALUES ('A', '2026-12-01')")
        db.execute_sql("INSERT INTO tenant (name, created_at) VALUES ('B', '2026-12-01')")
        db.execute_sql("DELETE FROM tenant WHERE name = 'B'")
        db.execute_sql("INSERT INTO tenant (name, created_at) VALUES ('C', '2026-12-01')")
        ids = dict(db.execute_sql("SELECT name, id FROM tenant").fetchall())
        assert ids == {"A": 1, "C": 3}
        for table in ("tenant", "shop", "user", "device", "audit_entry"):
            create = db.execute_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)
            ).fetchone()[0]
            assert "AUTOINCREMENT" in create, table
    finally:
        db.close()
