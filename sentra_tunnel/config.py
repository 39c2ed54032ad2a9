"""Settings from environment variables, validated once at start."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path

from limits import parse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


class ConfigError(Exception):
    """A setting has a value the server cannot run with."""

    def __init__(self, variable: str, message: str):
        super().__init__(f"{variable}: {message}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///data/tunnel.db"
    database_pool_size: int = 8
    secret_key: str = ""
    audit_key: str = ""  # keys the audit chain; empty: derived from secret_key
    debug: bool = False
    public_api_docs: bool = False  # /docs and /openapi.json without a login (always in debug)
    port: int = 8000
    host: str = ""  # empty: 127.0.0.1 when debugging, else every interface
    command_timeout_s: float = 10.0
    heartbeat_s: int = 20
    registration_token_ttl_s: int = 86400
    bcrypt_rounds: int = 12
    redis_url: str | None = None
    forwarded_allow_ips: tuple[str, ...] = ()
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    login_limit: str = "5/minute"  # per account, from every address together
    login_ip_limit: str = "30/minute"
    login_backoff_after: int = 10  # failures in a row; then each further try waits twice as long
    session_idle: int = 12 * 3600  # seconds unused before a session ends
    session_lifetime: int = 7 * 86400  # seconds after its login a session ends, used or not
    register_limit: str = "10/minute"
    api_limit: str = "300/minute"
    device_connect_ip_limit: str = "600/minute"
    device_connect_key_limit: str = "12/minute"
    device_frame_rate: int = 20
    device_frame_burst: int = 50
    handshake_concurrency: int = 256
    testing: bool = False

    @property
    def bind_host(self) -> str:
        return self.host or ("127.0.0.1" if self.debug else "0.0.0.0")

    @property
    def audit_secret(self) -> str:
        return self.audit_key or self.secret_key

    def with_overrides(self, **overrides) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(", ".join(sorted(unknown)), "is not a known setting")
        return replace(self, **overrides)


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(
            name, f"must be a whole number from {low} to {high}, got {value!r}"
        ) from None
    if not low <= number <= high:
        raise ConfigError(name, f"must be from {low} to {high}, got {number}")
    return number


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, f"must be true or false, got {value!r}")


def _database_url(name: str, value: str) -> str:
    if not value.startswith(("sqlite:///", "postgres://", "postgresql://")):
        raise ConfigError(
            name, "must start with sqlite:///, postgres:// or postgresql://, got " + repr(value)
        )
    return value


def _redis_url(name: str, value: str) -> str | None:
    if not value:
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(name, f"must be a redis:// or rediss:// URL, got {value!r}")
    return value


def _allow_ips(name: str, value: str) -> tuple[str, ...]:
    entries = tuple(part.strip() for part in value.split(",") if part.strip())
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                name,
                f"must be IP addresses or networks, comma separated, or *; {entry!r} is neither",
            ) from None
    return entries


def _limit(name: str, value: str) -> str:
    try:
        parse(value)
    except ValueError:
        raise ConfigError(
            name, f"must be a rate such as 300/minute or 10/second, got {value!r}"
        ) from None
    return value


def _host(name: str, value: str) -> str:
    if value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(name, f"must be an IP address to listen on, got {value!r}") from None
    return value


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(name: str, value: str, low: int, high: int) -> int:
    """Seconds from "90", "45m", "12h" or "7d", within [low, high] seconds."""
    text = value.strip().lower()
    scale = DURATION_UNITS.get(text[-1:], 0)
    digits = text[:-1] if scale else text
    if not digits.isdigit():
        raise ConfigError(name, f"must be a duration such as 3600, 45m, 12h or 7d, got {value!r}")
    seconds = int(digits) * (scale or 1)
    if not low <= seconds <= high:
        raise ConfigError(name, f"must be from {low} to {high} seconds, got {seconds}")
    return seconds


def _session_settings(env) -> dict:
    """How long a session lives unused, and at most; the idle time cannot exceed the lifetime."""
    found = {}
    for name, (low, high) in {"session_idle": (300, 30 * 86400),
                              "session_lifetime": (300, 365 * 86400)}.items():  # fmt: skip
        if name.upper() in env:
            found[name] = _duration(name.upper(), env[name.upper()], low, high)
    idle = found.get("session_idle", Settings.session_idle)
    if idle > found.get("session_lifetime", Settings.session_lifetime):
        raise ConfigError("SESSION_IDLE", "must not be longer than SESSION_LIFETIME")
    return found


def _existing_file(name: str, value: str) -> str | None:
    if not value:
        return None
    if not Path(value).is_file():
        raise ConfigError(name, f"must name a readable file, {value!r} does not exist")
    return value


def load_secret_key(data_dir: Path = DATA_DIR) -> str:
    """Return the key kept in data/secret_key, creating it once so workers and restarts share it."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written aside (mkstemp makes it 0600) and linked into place: a worker starting at the
        # same moment sees no key or the whole key, and the loser of the race uses the winner's.
        descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def _capacity_settings(env) -> dict:
    """Pool size, rate limits and device budgets; each one's default is Settings' own."""
    numbers = {  # setting → (lowest, highest)
        "database_pool_size": (1, 100),
        "device_frame_rate": (1, 1000),
        "device_frame_burst": (1, 10000),
        "handshake_concurrency": (1, 10000),
        "login_backoff_after": (1, 1000),
    }
    limits = (
        "login_limit",
        "login_ip_limit",
        "register_limit",
        "api_limit",
        "device_connect_ip_limit",
        "device_connect_key_limit",
    )
    found = {}
    for name, (low, high) in numbers.items():
        if name.upper() in env:
            found[name] = _int(name.upper(), env[name.upper()], low, high)
    for name in limits:
        if name.upper() in env:
            found[name] = _limit(name.upper(), env[name.upper()])
    return found


def from_environment(environ: dict[str, str] | None = None) -> Settings:
    """Read every setting from the environment; raise ConfigError naming the first bad one."""
    env = os.environ if environ is None else environ
    settings = Settings(
        database_url=_database_url("DATABASE_URL", env.get("DATABASE_URL", Settings.database_url)),
        secret_key=env.get("SECRET_KEY", ""),
        audit_key=env.get("AUDIT_KEY", ""),
        debug=_bool("DEBUG", env.get("DEBUG", "false")),
        public_api_docs=_bool("PUBLIC_API_DOCS", env.get("PUBLIC_API_DOCS", "false")),
        port=_int("PORT", env.get("PORT", "8000"), 1, 65535),
        host=_host("HOST", env.get("HOST", "")),
        command_timeout_s=_int("COMMAND_TIMEOUT_S", env.get("COMMAND_TIMEOUT_S", "10"), 1, 120),
        heartbeat_s=_int("HEARTBEAT_S", env.get("HEARTBEAT_S", "20"), 1, 25),
        registration_token_ttl_s=_int(
            "REGISTRATION_TOKEN_TTL_S", env.get("REGISTRATION_TOKEN_TTL_S", "86400"), 60, 2592000
        ),
        bcrypt_rounds=_int("BCRYPT_ROUNDS", env.get("BCRYPT_ROUNDS", "12"), 4, 16),
        redis_url=_redis_url("REDIS_URL", env.get("REDIS_URL", "")),
        forwarded_allow_ips=_allow_ips("FORWARDED_ALLOW_IPS", env.get("FORWARDED_ALLOW_IPS", "")),
        tls_cert_file=_existing_file("TLS_CERT_FILE", env.get("TLS_CERT_FILE", "")),
        tls_key_file=_existing_file("TLS_KEY_FILE", env.get("TLS_KEY_FILE", "")),
        **_capacity_settings(env),
        **_session_settings(env),
    )
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise ConfigError("TLS_CERT_FILE", "and TLS_KEY_FILE must be set together")
    if settings.secret_key and len(settings.secret_key) < 16:
        raise ConfigError("SECRET_KEY", "must be at least 16 characters")
    if settings.audit_key and len(settings.audit_key) < 16:
        raise ConfigError("AUDIT_KEY", "must be at least 16 characters")
    if not settings.secret_key:
        settings = replace(settings, secret_key=load_secret_key())
    return settings
