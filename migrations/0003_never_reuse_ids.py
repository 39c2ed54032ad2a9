"""Ids are never handed out twice: SQLite tables get AUTOINCREMENT.

Without it SQLite gives the next row the highest id plus one, so after a delete the next
device, user or shop gets the id a deleted one had (and whatever still names that id, a
connected Pi or an audit entry, now names the new one). SQLite cannot add AUTOINCREMENT to a
table, so each is rebuilt from its own CREATE statement. PostgreSQL's sequences never go back,
so there is nothing to do there.
"""

import re

from peewee import SqliteDatabase

TABLES = ("tenant", "shop", "user", "device", "audit_entry")
PRIMARY_KEY = re.compile(r'"id" INTEGER NOT NULL PRIMARY KEY(?: AUTOINCREMENT)?')
atomic = False  # foreign keys can only be switched off outside a transaction


def _rebuild(db, table: str, autoincrement: bool) -> None:
    create = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()[0]
    indexes = [
        row[0]
        for row in db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",
            (table,),
        )
    ]
    key = '"id" INTEGER NOT NULL PRIMARY KEY' + (" AUTOINCREMENT" if autoincrement else "")
    create = PRIMARY_KEY.sub(key, create, count=1)
    create = create.replace(f'"{table}"', f'"{table}__rebuilt"', 1)
    db.execute_sql(create)
    db.execute_sql(f'INSERT INTO "{table}__rebuilt" SELECT * FROM "{table}"')
    db.execute_sql(f'DROP TABLE "{table}"')
    db.execute_sql(f'ALTER TABLE "{table}__rebuilt" RENAME TO "{table}"')
    for index in indexes:
        db.execute_sql(index)


def _rebuild_all(db, autoincrement: bool) -> None:
    if not isinstance(db, SqliteDatabase):
        return
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        with db.atomic():
            for table in TABLES:
                _rebuild(db, table, autoincrement)
            broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")


def up(migrator, db):
    _rebuild_all(db, autoincrement=True)


def down(migrator, db):
    _rebuild_all(db, autoincrement=False)
