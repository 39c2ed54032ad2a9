"""The agent's local config file (server, device key, door settings), written atomically as 0600.

Default `/etc/sentra/tunnel.json`; without root (or a writable /etc/sentra) the user's
`~/.config/sentra/tunnel.json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sentra_tunnel.agent.controller import Override
from sentra_tunnel.door_schema import DoorConfig

SYSTEM_PATH = Path("/etc/sentra/tunnel.json")


class ConfigError(OSError):
    """The config file is missing, unreadable, invalid or cannot be written.

    An OSError so that code handling failed saves (e.g. `set_config`) catches it too.
    """


class GpioSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    relay_pin: int = 17
    contact_pin: int | None = 27  # None: no door contact, state "unknown"
    relay_active_high: bool = True
    contact_closed_when_low: bool = True  # reed switch to GND with the internal pull-up
    bounce_s: float | None = 0.05


class AgentConfig(BaseModel):
    # Typos in a hand-edited file (e.g. "relay_pn") should fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")
    server: str
    device_id: str | int
    api_key: str
    ws_url: str
    ca_file: str | None = None
    insecure: bool = False
    door: DoorConfig = Field(default_factory=DoorConfig)
    gpio: GpioSettings = Field(default_factory=GpioSettings)
    override: Override | None = None


def user_path() -> Path:
    return Path.home() / ".config" / "sentra" / "tunnel.json"


def _can_write_dir(directory: Path) -> bool:
    """True if files can be created in `directory` or in the nearest existing parent."""
    while not directory.exists():
        if directory.parent == directory:
            return False
        directory = directory.parent
    return os.access(directory, os.W_OK | os.X_OK)


def path_for_write(system: Path = SYSTEM_PATH, user: Path | None = None) -> Path:
    """Where `sentra-register` writes: the system path if writable, else the user's."""
    if _can_write_dir(system.parent):
        return system
    return user or user_path()


def path_for_read(system: Path = SYSTEM_PATH, user: Path | None = None) -> Path:
    """Where `sentra-agent` looks: the system path if it exists, else the user's."""
    if system.exists():
        return system
    return user or user_path()


def load_config(path: Path) -> AgentConfig:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no config at {path}; run sentra-register first") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return AgentConfig.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"invalid config {path}: {exc}") from None


def check_writable(path: Path) -> None:
    """Fail early (before a single-use token is spent) if `path` cannot be written."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"cannot write config to {path}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK) and os.geteuid() != 0:
        # rename() would still replace it, but a read-only file says "do not touch".
        raise ConfigError(f"cannot write config to {path}: file is read-only")


def save_config(path: Path, config: AgentConfig) -> None:
    """Write via temp file + rename so a power cut leaves the old or the new file, never half."""
    data = config.model_dump_json(indent=2, by_alias=True) + "\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write config to {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # the file holds the device's API key
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise ConfigError(f"cannot write config to {path}: {exc.strerror or exc}") from None
    _fsync_dir(path.parent)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every filesystem allows opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
