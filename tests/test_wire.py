"""Frame parsing and builders: every malformed kind maps to the contract's error code."""

from __future__ import annotations

import json

import pytest

from sentra_tunnel import wire as protocol
from sentra_tunnel.agent.controller import DoorController
from sentra_tunnel.agent.door import SimDoor
from sentra_tunnel.door_schema import DoorConfig
from sentra_tunnel.portal.audit import AUDIT_ACTIONS
from sentra_tunnel.portal.labels import action_label
from sentra_tunnel.services.commands import COMMANDS
from sentra_tunnel.wire import FrameError, parse_frame
from tests.tunnel.fakes import STATE

MALFORMED = {
    "binary": (b'{"type": "hello"}', protocol.INVALID_FORMAT),
    "empty binary": (None, protocol.INVALID_FORMAT),
    "not json": ("hello there", protocol.INVALID_FORMAT),
    "deeply nested": ("[" * 50_000 + "]" * 50_000, protocol.INVALID_FORMAT),
    "array": ("[1, 2]", protocol.INVALID_FORMAT),
    "string": ('"hello"', protocol.INVALID_FORMAT),
    "no type": ("{}", protocol.INVALID_FORMAT),
    "type not a string": ('{"type": 5}', protocol.INVALID_FORMAT),
    "unknown type": ('{"type": "teleport"}', protocol.UNKNOWN_TYPE),
    "server-only type": ('{"type": "welcome"}', protocol.UNKNOWN_TYPE),
    "hello without state": ('{"type": "hello", "agent_version": "1"}', protocol.INVALID_FORMAT),
    "result without id": ('{"type": "result", "success": true, "result": {}}', "invalid_format"),
    "result ok without result": (
        '{"type": "result", "id": "a", "success": true}',
        "invalid_format",
    ),
    "result failed without error": (
        '{"type": "result", "id": "a", "success": false}',
        protocol.INVALID_FORMAT,
    ),
    "result success not bool": (
        '{"type": "result", "id": "a", "success": "yes", "result": {}}',
        protocol.INVALID_FORMAT,
    ),
    "event without data": ('{"type": "event", "event": "state"}', protocol.INVALID_FORMAT),
}


@pytest.mark.parametrize("raw, code", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frames_raise_frame_error(raw, code):
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.code == code
    assert caught.value.message and "Traceback" not in caught.value.message


def test_hello_parses_with_its_door_state():
    frame = parse_frame(json.dumps({"type": "hello", "agent_version": "1.0", "state": STATE}))
    assert isinstance(frame, protocol.HelloFrame)
    assert frame.state.door == "closed"


def test_unknown_event_and_bad_state_are_rejected():
    unknown = parse_frame(json.dumps({"type": "event", "event": "smoke", "data": {}}))
    with pytest.raises(FrameError) as caught:
        protocol.parse_state(unknown)
    assert caught.value.code == protocol.UNKNOWN_TYPE
    bad = parse_frame(json.dumps({"type": "event", "event": "state", "data": {"door": "ajar"}}))
    with pytest.raises(FrameError) as caught:
        protocol.parse_state(bad)
    assert caught.value.code == protocol.INVALID_FORMAT


def test_frame_size_counts_utf8_bytes():
    assert protocol.frame_size("ä" * 10) == 20
    assert protocol.frame_size(b"abc") == 3


def test_builders_match_the_contract():
    assert protocol.welcome(7, 20) == {"type": "welcome", "device_id": 7, "heartbeat_s": 20}
    assert protocol.command("x", "open", {}) == {
        "type": "command",
        "id": "x",
        "name": "open",
        "params": {},
    }
    assert protocol.error("unknown_type", "m") == {
        "type": "error",
        "error": {"code": "unknown_type", "message": "m"},
    }


CONFIG = {"open_duration_s": 5, "timezone": "Europe/Berlin", "schedule": []}
OVERRIDDEN = {**STATE, "mode": "open", "override_until": "2026-12-02T18:00:00Z"}


@pytest.mark.parametrize(
    "name, result, expected",
    [
        ("status", STATE, STATE),
        ("override", OVERRIDDEN, OVERRIDDEN),
        (
            "open",
            {"opened": True, "state": STATE, "relay_ms": 5000},
            {"opened": True, "state": STATE},
        ),
        ("get_config", CONFIG, CONFIG),
    ],
)
def test_results_of_the_contracts_shape_pass_normalised(name, result, expected):
    assert protocol.checked_result(name, result) == expected


@pytest.mark.parametrize(
    "name, result, problem",
    [
        ("status", {**STATE, "override_until": "not-a-date"}, "override_until"),
        ("open", {}, "opened"),
        ("open", {"opened": "yes", "state": STATE}, "opened"),
        ("status", {"door": "ajar", "lock": "locked", "mode": "auto"}, "door"),
        (
            "get_config",
            {"open_duration_s": 500, "timezone": "Europe/Berlin", "schedule": []},
            "open_duration_s",
        ),
    ],
)
def test_malformed_results_are_refused_naming_the_field(name, result, problem):
    with pytest.raises(protocol.ResultError) as refused:
        protocol.checked_result(name, result)
    assert problem in str(refused.value)


def test_every_command_has_a_result_shape():
    assert set(protocol.RESULT_MODELS) == set(protocol.COMMAND_NAMES)


async def test_every_end_covers_exactly_the_wire_command_names():
    """The Pi's handlers, the server's command table, the audit actions the portal filters by
    and the portal's labels all name the same commands as the wire."""
    door = SimDoor()
    try:
        agent_handlers = set(DoorController(door, DoorConfig()).handlers)
    finally:
        door.close()
    audited = {a.removeprefix("command.") for a in AUDIT_ACTIONS if a.startswith("command.")}
    labelled = {
        name
        for name in protocol.COMMAND_NAMES
        if action_label(f"command.{name}") != f"command.{name}"
    }
    names = set(protocol.COMMAND_NAMES)
    assert agent_handlers == names
    assert set(COMMANDS) == names
    assert audited == names
    assert labelled == names


def test_every_audit_action_the_portal_filters_by_has_a_label():
    assert [action for action in AUDIT_ACTIONS if action_label(action) == action] == []
