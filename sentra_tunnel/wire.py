"""What crosses the tunnel, written once for both ends: frame models and builders, close codes,
limits, command names and error codes.

Import-light on purpose (pydantic and the standard library): the Pi agent imports it without
the server's web stack, and the server's tunnel, command table and portal take their names
from here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .door_schema import DoorConfig, DoorState, dump

MAX_FRAME_BYTES = 64 * 1024

# Device → server
HELLO, RESULT, EVENT = "hello", "result", "event"
STATE_EVENT = "state"
# Server → device
WELCOME, COMMAND, ERROR = "welcome", "command", "error"
COMMAND_NAMES = ("open", "status", "get_config", "set_config", "override")

# Codes of the `error` frame
INVALID_FORMAT = "invalid_format"
RATE_LIMITED = "rate_limited"
UNKNOWN_TYPE = "unknown_type"
INTERNAL_ERROR = "internal_error"

# WebSocket close codes
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_POLICY = 1008  # no hello in time, heartbeat missed, or frame budget exceeded
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013  # the device reads too slowly, or the server is busy
CLOSE_REPLACED = 4000
CLOSE_REVOKED = 4001

# Heartbeat probes are `status` commands with ids of this prefix, answered like any other.
PROBE_PREFIX = "hb-"

Text64 = Annotated[str, Field(min_length=1, max_length=64)]


class FrameError(Exception):
    """A frame the server cannot act on; answered with an `error` frame, the tunnel stays up."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class _Frame(BaseModel):
    # Extra envelope keys are ignored so newer agents can add fields without breaking.
    model_config = ConfigDict(extra="ignore", strict=True)


class HelloFrame(_Frame):
    type: Literal["hello"]
    agent_version: Annotated[str, Field(max_length=64)]
    state: DoorState


class DeviceError(_Frame):
    code: Text64
    message: Annotated[str, Field(max_length=1000)]


class ResultFrame(_Frame):
    type: Literal["result"]
    id: Text64
    success: bool
    result: dict[str, Any] | None = None
    error: DeviceError | None = None

    @model_validator(mode="after")
    def _outcome_present(self) -> ResultFrame:
        if self.success and self.result is None:
            raise ValueError("a successful result needs a 'result' object")
        if not self.success and self.error is None:
            raise ValueError("a failed result needs an 'error' object with code and message")
        return self


class EventFrame(_Frame):
    type: Literal["event"]
    event: Text64
    data: dict[str, Any]


class OpenResult(BaseModel):
    """What `open` answers: whether the door opened, and the state it is in now."""

    model_config = ConfigDict(extra="ignore")  # "at least" these: an agent may say more
    opened: Annotated[bool, Field(strict=True)]
    state: DoorState


# What each command's successful result must look like; anything else is a device error.
RESULT_MODELS: dict[str, type[BaseModel]] = {
    "open": OpenResult,
    "status": DoorState,
    "get_config": DoorConfig,
    "set_config": DoorConfig,
    "override": DoorState,
}


class ResultError(ValueError):
    """A device's result does not have the contract's shape."""


def checked_result(name: str, result: dict) -> dict:
    """The result as the contract defines it for `name` (normalised), or ResultError."""
    try:
        return dump(RESULT_MODELS[name].model_validate(result))
    except ValidationError as error:
        raise ResultError(_first_problem(error)) from None


FRAME_MODELS: dict[str, type[_Frame]] = {
    HELLO: HelloFrame,
    RESULT: ResultFrame,
    EVENT: EventFrame,
}


def problems(error: ValidationError) -> dict[str, str]:
    """Field path → what is wrong with it: the one reading of a pydantic error in the code."""
    found: dict[str, str] = {}
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item.get("loc", ())) or "body"
        message = item.get("msg", "is invalid")
        if item.get("type") == "extra_forbidden":
            message = "is not a known field"
        found.setdefault(where, message)
    return found


def _first_problem(error: ValidationError) -> str:
    where, message = next(iter(problems(error).items()))
    return message if where == "body" else f"{where}: {message}"


def _decode(raw: str | bytes | None) -> dict:
    if not isinstance(raw, str):
        raise FrameError(INVALID_FORMAT, "Frames must be JSON text, not binary.")
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError(INVALID_FORMAT, "The frame is not valid JSON.") from None
    if not isinstance(message, dict):
        raise FrameError(INVALID_FORMAT, "The frame must be a JSON object.")
    return message


def parse_frame(raw: str | bytes | None) -> _Frame:
    """Decode and validate one frame from a device, or raise FrameError."""
    message = _decode(raw)
    kind = message.get("type")
    if not isinstance(kind, str):
        raise FrameError(INVALID_FORMAT, "The frame has no 'type'.")
    model = FRAME_MODELS.get(kind)
    if model is None:
        raise FrameError(UNKNOWN_TYPE, f"Unknown frame type {kind[:40]!r}.")
    try:
        return model.model_validate(message)
    except ValidationError as error:
        raise FrameError(INVALID_FORMAT, f"{kind}: {_first_problem(error)}") from None


def parse_state(event: EventFrame) -> DoorState:
    """The DoorState carried by an `event` frame; only `state` events exist."""
    if event.event != STATE_EVENT:
        raise FrameError(UNKNOWN_TYPE, f"Unknown event {event.event!r}.")
    try:
        return DoorState.model_validate(event.data)
    except ValidationError as error:
        raise FrameError(INVALID_FORMAT, f"event data: {_first_problem(error)}") from None


def frame_size(raw: str | bytes | None) -> int:
    if raw is None:
        return 0
    return len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)


# Builders, device → server ------------------------------------------------------------------


def hello(agent_version: str, state: dict) -> dict:
    return {"type": HELLO, "agent_version": agent_version, "state": state}


def result(command_id: str, value: dict) -> dict:
    return {"type": RESULT, "id": command_id, "success": True, "result": value}


def failure(command_id: str, code: str, message: str) -> dict:
    return {"type": RESULT, "id": command_id, "success": False, "error": error_body(code, message)}


def state_event(state: dict) -> dict:
    return {"type": EVENT, "event": STATE_EVENT, "data": state}


# Builders, server → device ------------------------------------------------------------------


def welcome(device_id: int, heartbeat_s: int) -> dict:
    return {"type": WELCOME, "device_id": device_id, "heartbeat_s": heartbeat_s}


def command(command_id: str, name: str, params: dict) -> dict:
    return {"type": COMMAND, "id": command_id, "name": name, "params": params}


def error(code: str, message: str) -> dict:
    return {"type": ERROR, "error": error_body(code, message)}


def error_body(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def encode(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))
