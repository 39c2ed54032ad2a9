"""Schema migrations: up and down on an empty database, and up again."""

from __future__ import annotations

from sentra_tunnel.db import migrate_up, migration_runner, open_sync, pending_migrations

TABLES = {"tenant", "shop", "user", "session", "device", "audit_entry"}
HISTORY = "schema_migration"


def tables(url: str) -> set[str]:
    db = open_sync(url)
    try:
        return set(db.get_tables())
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
    assert pending_migrations(url) == ["0001_initial"]
    assert migrate_up(url) == ["0001_initial"]
    assert tables(url) == TABLES | {HISTORY}
    assert pending_migrations(url) == []
    assert migrate_up(url) == []

    assert revert_all(url) == ["0001_initial"]
    assert tables(url) == {HISTORY}
    assert pending_migrations(url) == ["0001_initial"]

    assert migrate_up(url) == ["0001_initial"]
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
