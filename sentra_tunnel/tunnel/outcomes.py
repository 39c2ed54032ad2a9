"""How a door command ends: the device's reply, or why there is none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import wire


class CommandFailed(Exception):
    """A command did not produce a result; subclasses say why."""


class DeviceOffline(CommandFailed):
    pass


class DeviceTimeout(CommandFailed):
    pass


class HubBusy(CommandFailed):
    """Too many commands are waiting for devices already."""


class DeviceRejected(CommandFailed):
    """The device answered with `success: false`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Reply:
    """What came back for a command: a result, the device's error, or `gone` (tunnel closed)."""

    success: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    gone: bool = False

    @classmethod
    def of(cls, frame: wire.ResultFrame) -> Reply:
        error = frame.error.model_dump() if frame.error else None
        return cls(success=frame.success, result=frame.result or {}, error=error)

    def outcome(self) -> dict:
        """The device's result, or the CommandFailed that stands for its absence."""
        if self.gone:
            raise DeviceOffline("The device disconnected before answering.")
        if not self.success:
            raise DeviceRejected(self.error["code"], self.error["message"])
        return self.result


GONE = Reply(success=False, gone=True)
