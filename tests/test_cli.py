"""The `sentra-tunnel` command, run as a newcomer would: in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sentra_tunnel.db import MIGRATIONS_DIR, database
from sentra_tunnel.models.tenant import Tenant
from sentra_tunnel.models.user import User, session_cache
from tests.support.api import ApiClient

STRONG = "a much longer secret 42"


LATEST_MIGRATION = sorted(p.stem for p in MIGRATIONS_DIR.glob("0*.py"))[-1]


def run_cli(*args: str, env: dict | None = None, stdin: str = "", cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sentra_tunnel", *args],
        input=stdin,
        env={**os.environ, "SECRET_KEY": "cli-test-secret-key-0123456789", **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def database_env(settings) -> dict:
    """The environment that points the command at the test's own database."""
    return {
        "DATABASE_URL": settings.database_url,
        "BCRYPT_ROUNDS": "4",
        "SECRET_KEY": settings.secret_key,  # the audit chain is keyed by it
    }


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PORT", "eighty"), ("HEARTBEAT_S", "60"), ("DATABASE_URL", "mysql://x/y")],
)
def test_serve_with_a_bad_variable_exits_naming_it(tmp_path, variable, value):
    result = run_cli("serve", env={variable: value}, cwd=tmp_path)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_refuses_a_database_that_is_behind(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}"}
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "sentra-tunnel migrate up" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_up_status_down(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    status = run_cli("migrate", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "0001_initial: pending" in status.stdout
    up = run_cli("migrate", "up", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert "0001_initial" in up.stdout
    status = run_cli("migrate", "status", env=env, cwd=tmp_path)
    assert "0001_initial: applied" in status.stdout
    down = run_cli("migrate", "down", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert f"reverted: {LATEST_MIGRATION}" in down.stdout
    status = run_cli("migrate", "status", env=env, cwd=tmp_path)
    assert f"{LATEST_MIGRATION}: pending" in status.stdout
    assert "0001_initial: applied" in status.stdout


async def test_create_user_and_log_in(app, client, database_env):
    result = run_cli(
        "create-user",
        "owner",
        "--role",
        "admin",
        "--tenant",
        "Bakery",
        "--password-stdin",
        env=database_env,
        stdin=STRONG + "\n",
    )
    assert result.returncode == 0, result.stderr
    login = await client.login("owner", STRONG)
    assert login.status_code == 200
    user = (await login.get_json())["user"]
    assert (user["role"], user["must_change_password"]) == ("admin", False)
    assert user["tenant_id"] is not None
    again = run_cli(
        "create-user",
        "owner",
        "--tenant",
        "Bakery",
        "--password-stdin",
        env=database_env,
        stdin=STRONG + "\n",
    )
    assert again.returncode != 0
    assert "exists" in again.stderr


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("--role", "admin"), STRONG, "--tenant"),
        (("--role", "superadmin"), "short", "password"),
        (("--role", "admin", "--tenant", "Florist"), "short", "password"),
    ],
)
async def test_create_user_refuses_clearly(app, database_env, args, password, message):
    result = run_cli(
        "create-user", "someone", *args, "--password-stdin", env=database_env, stdin=password
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert await User.aget_or_none(User.username == "someone") is None
    assert await Tenant.aget_or_none() is None


async def test_reset_password(app, tenant, login_as, database_env):
    session = await login_as(tenant.staff)
    result = run_cli(
        "reset-password", "bakery-staff", "--password-stdin", env=database_env, stdin=STRONG
    )
    assert result.returncode == 0, result.stderr
    # Another process ended the rows; this server notices once its session cache expires.
    session_cache.clear()
    assert (await session.get("/auth/me")).status_code == 401
    fresh = ApiClient(app.test_client())
    login = await fresh.login("bakery-staff", STRONG)
    assert login.status_code == 200
    assert (await login.get_json())["user"]["must_change_password"] is True
    unknown = run_cli(
        "reset-password", "nobody", "--password-stdin", env=database_env, stdin=STRONG
    )
    assert unknown.returncode != 0
    assert "nobody" in unknown.stderr


async def test_audit_verify(app, tenant, login_as, database_env):
    await login_as(tenant.admin)
    await login_as(tenant.staff)
    result = run_cli("audit-verify", env=database_env)
    assert result.returncode == 0, result.stderr
    assert "intact: 2 entries" in result.stdout
    await database.aexecute_sql("UPDATE audit_entry SET actor = 'someone else' WHERE id = 2")
    result = run_cli("audit-verify", env=database_env)
    assert result.returncode == 1
    assert "entry 2 was edited" in result.stderr
