"""The agent's config file: 0600, atomic replacement, path fallback, clear errors."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sentra_tunnel.agent import config as config_module
from sentra_tunnel.agent.config import (
    AgentConfig,
    ConfigError,
    check_writable,
    load_config,
    path_for_read,
    path_for_write,
    save_config,
)


def sample_config(**overrides) -> AgentConfig:
    values = {
        "server": "https://tunnel.example.com",
        "device_id": "dev_1",
        "api_key": "k" * 43,
        "ws_url": "wss://tunnel.example.com/ws",
    }
    return AgentConfig.model_validate(values | overrides)


def test_save_writes_0600_and_loads_back(tmp_path):
    path = tmp_path / "sentra" / "tunnel.json"
    save_config(path, sample_config())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["door"] == {"open_duration_s": 5, "timezone": "Europe/Berlin", "schedule": []}
    assert data["gpio"]["relay_pin"] == 17 and data["gpio"]["contact_pin"] == 27
    assert data["ca_file"] is None and data["insecure"] is False
    assert load_config(path) == sample_config()


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "tunnel.json"
    save_config(path, sample_config())
    before = path.read_text()

    def power_cut(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(config_module.os, "replace", power_cut)
    with pytest.raises(ConfigError, match="No space left"):
        save_config(path, sample_config(device_id="dev_2"))
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["tunnel.json"]


def test_save_tightens_an_existing_loose_file(tmp_path):
    path = tmp_path / "tunnel.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_config(path, sample_config())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_path_falls_back_to_user_config(tmp_path, monkeypatch):
    system = tmp_path / "etc" / "sentra" / "tunnel.json"
    user = tmp_path / "home" / "tunnel.json"
    assert path_for_write(system, user) == system  # tmp_path is writable
    blocker = tmp_path / "etc-is-a-file"
    blocker.write_text("")
    monkeypatch.setattr(config_module.os, "access", lambda *_args: False)  # as a non-root user
    assert path_for_write(system, user) == user
    assert path_for_write(blocker / "sentra" / "tunnel.json", user) == user


def test_read_path_prefers_an_existing_system_file(tmp_path):
    system, user = tmp_path / "system.json", tmp_path / "user.json"
    assert path_for_read(system, user) == user
    system.write_text("{}")
    assert path_for_read(system, user) == system


def test_default_user_path_is_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_module.user_path() == tmp_path / ".config" / "sentra" / "tunnel.json"


def test_check_writable_creates_the_directory_or_says_why(tmp_path):
    check_writable(tmp_path / "new" / "tunnel.json")
    assert (tmp_path / "new").is_dir()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(ConfigError, match="cannot write config"):
        check_writable(not_a_dir / "tunnel.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "run sentra-register"),
        ("{not json", "invalid config"),
        ('{"server": "x"}', "invalid config"),
    ],
)
def test_load_errors_are_clear(tmp_path, content, message):
    path = tmp_path / "tunnel.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_unknown_keys_in_the_file_are_rejected(tmp_path):
    path = tmp_path / "tunnel.json"
    data = sample_config().model_dump(mode="json")
    data["gpio"]["relay_pn"] = 4
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="relay_pn"):
        load_config(path)
