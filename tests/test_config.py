"""Settings from the environment: defaults, and a clear error naming each bad variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sentra_tunnel.config import ConfigError, Settings, from_environment, load_secret_key

KEY = {"SECRET_KEY": "a-secret-key-for-tests-only"}


def test_defaults():
    settings = from_environment(dict(KEY))
    assert settings.database_url == "sqlite:///data/tunnel.db"
    assert settings.secret_key == KEY["SECRET_KEY"]
    assert settings.debug is False
    assert settings.port == 8000
    assert settings.command_timeout_s == 10
    assert settings.heartbeat_s == 20
    assert settings.registration_token_ttl_s == 86400
    assert settings.bcrypt_rounds == 12
    assert settings.redis_url is None
    assert settings.forwarded_allow_ips == ()
    assert settings.tls_cert_file is None and settings.tls_key_file is None


def test_values_are_read(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    settings = from_environment(
        {
            **KEY,
            "DATABASE_URL": "postgres://u:p@db:5432/tunnel",
            "DEBUG": "true",
            "PORT": "9000",
            "HEARTBEAT_S": "25",
            "REDIS_URL": "redis://cache:6379/0",
            "FORWARDED_ALLOW_IPS": "10.0.0.0/8, 127.0.0.1",
            "TLS_CERT_FILE": str(cert),
            "TLS_KEY_FILE": str(key),
        }
    )
    assert settings.database_url == "postgres://u:p@db:5432/tunnel"
    assert settings.debug is True
    assert (settings.port, settings.heartbeat_s) == (9000, 25)
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.forwarded_allow_ips == ("10.0.0.0/8", "127.0.0.1")
    assert (settings.tls_cert_file, settings.tls_key_file) == (str(cert), str(key))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("HEARTBEAT_S", "26"),
        ("HEARTBEAT_S", "0"),
        ("COMMAND_TIMEOUT_S", "soon"),
        ("REGISTRATION_TOKEN_TTL_S", "-1"),
        ("BCRYPT_ROUNDS", "40"),
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://localhost/tunnel"),
        ("DATABASE_URL", "data/tunnel.db"),
        ("REDIS_URL", "localhost:6379"),
        ("FORWARDED_ALLOW_IPS", "10.0.0.0/8,proxy.example"),
        ("TLS_CERT_FILE", "/nonexistent/cert.pem"),
        ("TLS_KEY_FILE", "/nonexistent/key.pem"),
        ("SECRET_KEY", "short"),
        ("AUDIT_KEY", "short"),
        ("HOST", "example.org"),
        ("DATABASE_POOL_SIZE", "0"),
        ("API_LIMIT", "lots"),
        ("DEVICE_FRAME_RATE", "-5"),
        ("HANDSHAKE_CONCURRENCY", "many"),
        ("LOGIN_LIMIT", "five"),
        ("LOGIN_BACKOFF_AFTER", "0"),
        ("SESSION_IDLE", "soon"),
        ("SESSION_IDLE", "1m"),
        ("SESSION_IDLE", "31d"),
        ("SESSION_LIFETIME", "-7d"),
        ("SESSION_LIFETIME", "2y"),
        ("SESSION_LIFETIME", "400d"),
    ],
)
def test_a_bad_value_names_the_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        from_environment({**KEY, variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)
    assert len(str(caught.value)) > len(variable) + 10  # says what is allowed


def test_tls_needs_both_files(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("cert")
    with pytest.raises(ConfigError) as caught:
        from_environment({**KEY, "TLS_CERT_FILE": str(cert)})
    assert "TLS_KEY_FILE" in str(caught.value)


def test_unknown_override_is_refused():
    with pytest.raises(ConfigError):
        Settings().with_overrides(no_such_setting=1)


def test_secret_key_is_generated_once_and_private(tmp_path):
    data_dir = tmp_path / "data"
    first = load_secret_key(data_dir)
    path = data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(first)) == 32
    assert load_secret_key(data_dir) == first
    assert load_secret_key(tmp_path / "elsewhere") != first


def test_an_existing_key_file_is_used(tmp_path):
    (tmp_path / "secret_key").write_text("kept-by-an-earlier-start\n")
    assert load_secret_key(tmp_path) == "kept-by-an-earlier-start"


def test_a_key_written_by_another_worker_meanwhile_wins(tmp_path, monkeypatch):
    (tmp_path / "secret_key").write_text("written-by-the-other-worker")
    monkeypatch.setattr(Path, "exists", lambda self: False)  # it appeared after our check
    assert load_secret_key(tmp_path) == "written-by-the-other-worker"
    monkeypatch.undo()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret_key"]


def test_capacity_settings_are_read():
    settings = from_environment(
        {
            **KEY,
            "DATABASE_POOL_SIZE": "3",
            "API_LIMIT": "50/second",
            "DEVICE_CONNECT_IP_LIMIT": "10/minute",
            "DEVICE_FRAME_RATE": "5",
            "DEVICE_FRAME_BURST": "9",
            "HANDSHAKE_CONCURRENCY": "7",
        }
    )
    assert (settings.database_pool_size, settings.api_limit) == (3, "50/second")
    assert settings.device_connect_ip_limit == "10/minute"
    assert (settings.device_frame_rate, settings.device_frame_burst) == (5, 9)
    assert settings.handshake_concurrency == 7


def test_debug_listens_on_loopback_unless_told_otherwise():
    assert from_environment({**KEY, "DEBUG": "true"}).bind_host == "127.0.0.1"
    assert from_environment({**KEY, "DEBUG": "true", "HOST": "0.0.0.0"}).bind_host == "0.0.0.0"
    assert from_environment(dict(KEY)).bind_host == "0.0.0.0"


def test_the_audit_chain_is_keyed_by_its_own_key_or_the_secret_key():
    assert from_environment(dict(KEY)).audit_secret == KEY["SECRET_KEY"]
    own = from_environment({**KEY, "AUDIT_KEY": "an-audit-key-of-its-own"})
    assert own.audit_secret == "an-audit-key-of-its-own"


def test_login_and_session_settings_are_read():
    defaults = from_environment(dict(KEY))
    assert (defaults.login_limit, defaults.login_ip_limit) == ("5/minute", "30/minute")
    assert defaults.login_backoff_after == 10
    assert (defaults.session_idle, defaults.session_lifetime) == (12 * 3600, 7 * 86400)
    settings = from_environment(
        {**KEY, "LOGIN_BACKOFF_AFTER": "3", "SESSION_IDLE": "45m", "SESSION_LIFETIME": "2d"}
    )
    assert settings.login_backoff_after == 3
    assert (settings.session_idle, settings.session_lifetime) == (45 * 60, 2 * 86400)
    assert from_environment({**KEY, "SESSION_IDLE": "3600"}).session_idle == 3600


def test_a_session_cannot_idle_longer_than_it_lives():
    with pytest.raises(ConfigError) as caught:
        from_environment({**KEY, "SESSION_IDLE": "2d", "SESSION_LIFETIME": "1d"})
    assert caught.value.variable == "SESSION_IDLE"
    assert "SESSION_LIFETIME" in str(caught.value)
