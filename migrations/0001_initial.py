"""Tenants, shops, users, sessions, devices and the audit trail."""

import datetime

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def _models(db):
    # A frozen copy of the schema at this step, deliberately independent of the app's models.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Tenant(Base):
        id = AutoField()
        name = CharField(max_length=100, unique=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

    class Shop(Base):
        id = AutoField()
        tenant = ForeignKeyField(Tenant, on_delete="CASCADE")
        name = CharField(max_length=100)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            indexes = ((("tenant", "name"), True),)

    class User(Base):
        id = AutoField()
        username = CharField(max_length=64, unique=True)
        password_hash = CharField(max_length=100)
        role = CharField(max_length=16)
        tenant = ForeignKeyField(Tenant, null=True, on_delete="CASCADE")
        shop_ids = TextField(default="[]")
        must_change_password = BooleanField(default=True)
        disabled = BooleanField(default=False)
        language = CharField(max_length=8, null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

    class Session(Base):
        id = CharField(max_length=64, primary_key=True)
        user = ForeignKeyField(User, on_delete="CASCADE")
        csrf_token = CharField(max_length=64)
        client = CharField(max_length=200, default="")
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        last_used_at = DateTimeField(default=datetime.datetime.utcnow)

    class Device(Base):
        id = AutoField()
        tenant = ForeignKeyField(Tenant, on_delete="CASCADE")
        shop = ForeignKeyField(Shop, on_delete="CASCADE")
        name = CharField(max_length=100)
        registered = BooleanField(default=False)
        key_id = CharField(max_length=32, null=True, unique=True)
        key_hash = CharField(max_length=64, null=True)
        registration_token_hash = CharField(max_length=64, null=True, unique=True)
        registration_expires_at = DateTimeField(null=True)
        online = BooleanField(default=False)
        generation = IntegerField(default=0)
        last_seen = DateTimeField(null=True)
        agent_version = CharField(max_length=64, null=True)
        hostname = CharField(max_length=255, null=True)
        state = TextField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

    class AuditEntry(Base):
        id = AutoField()
        ts = DateTimeField(index=True)
        actor = CharField(max_length=100)
        tenant_id = IntegerField(null=True, index=True)
        action = CharField(max_length=40, index=True)
        target = CharField(max_length=100, index=True)
        ip = CharField(max_length=64, default="")
        outcome = CharField(max_length=40)
        details = TextField(default="{}")
        hash = CharField(max_length=64)

    return [Tenant, Shop, User, Session, Device, AuditEntry]


def up(migrator, db):
    db.create_tables(_models(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_models(db))))
