"""Door state, door config and command parameter models shared by the server and the Pi agent.

Timestamps are timezone-aware and serialize as ISO 8601 UTC with "Z"; use `dump()` for JSON.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DoorMode = Literal["auto", "open", "locked"]
MAX_SCHEDULE_SLOTS = 50
MAX_OVERRIDE_S = 7 * 24 * 3600
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def format_ts(value: datetime) -> str:
    """ISO 8601 UTC with "Z", seconds precision (e.g. "2026-11-26T18:00:00Z")."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp needs a timezone, e.g. '2026-11-26T18:00:00Z'")
    return value.astimezone(UTC)


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("time must be 'HH:MM' between 00:00 and 23:59")
    return value


@functools.cache
def _known_timezones() -> frozenset[str]:
    # Excludes aliases ZoneInfo would still open, like "localtime" or "posixrules".
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(value: str) -> str:
    # ZoneInfo also accepts odd keys (absolute paths); bound the input before asking it.
    try:
        if not value or len(value) > 64 or value.startswith("/"):
            raise ValueError(value)
        known = _known_timezones()
        if known and value not in known:
            raise ValueError(value)
        ZoneInfo(value)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError("unknown timezone; use an IANA name such as 'Europe/Berlin'") from None
    return value


UtcDatetime = Annotated[
    datetime, AfterValidator(_require_aware), PlainSerializer(format_ts, when_used="json")
]
HHMM = Annotated[str, AfterValidator(_check_hhmm)]
OpenDuration = Annotated[int, Field(ge=1, le=30, strict=True)]
OverrideDuration = Annotated[int, Field(ge=1, le=MAX_OVERRIDE_S, strict=True)]
TimezoneName = Annotated[str, Field(strict=True), AfterValidator(_check_timezone)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )
    # Command params omit unset optionals; state/config always carry every key.
    dump_exclude_none: ClassVar[bool] = False


class DoorState(_Model):
    door: Literal["open", "closed", "unknown"]
    lock: Literal["locked", "unlocked"]
    mode: DoorMode
    override_until: UtcDatetime | None = None


class ScheduleSlot(_Model):
    days: Annotated[list[Day], Field(min_length=1, max_length=7)]
    from_: HHMM = Field(alias="from")
    to: HHMM

    @model_validator(mode="after")
    def _from_before_to(self) -> ScheduleSlot:
        if self.from_ >= self.to:
            raise ValueError(
                "'from' must be earlier than 'to'; split overnight hours into two slots"
            )
        return self

    def covers(self, day: str, hhmm: str) -> bool:
        """True when `day` ("mon"…) at local time `hhmm` falls in [from, to)."""
        return day in self.days and self.from_ <= hhmm < self.to


Schedule = Annotated[list[ScheduleSlot], Field(max_length=MAX_SCHEDULE_SLOTS)]


class DoorConfig(_Model):
    open_duration_s: OpenDuration = 5
    timezone: TimezoneName = "Europe/Berlin"
    schedule: Schedule = Field(default_factory=list)

    def schedule_active(self, now: datetime) -> bool:
        """True when a schedule slot covers `now` (aware) in the configured timezone."""
        local = now.astimezone(ZoneInfo(self.timezone))
        day, hhmm = DAYS[local.weekday()], local.strftime("%H:%M")
        return any(slot.covers(day, hhmm) for slot in self.schedule)


class DoorConfigPatch(_Model):
    """A partial `set_config`: keys left out (or null) keep their current value."""

    dump_exclude_none: ClassVar[bool] = True
    open_duration_s: OpenDuration | None = None
    timezone: TimezoneName | None = None
    schedule: Schedule | None = None

    def apply(self, config: DoorConfig) -> DoorConfig:
        merged = config.model_dump() | self.model_dump(exclude_none=True)
        return DoorConfig.model_validate(merged)


class OpenParams(_Model):
    dump_exclude_none: ClassVar[bool] = True
    duration_s: OpenDuration | None = None


class OverrideParams(_Model):
    """Set the door mode; with `duration_s` or `until` it reverts to "auto" by itself."""

    dump_exclude_none: ClassVar[bool] = True
    mode: DoorMode
    duration_s: OverrideDuration | None = None
    until: UtcDatetime | None = None

    @model_validator(mode="after")
    def _one_end(self) -> OverrideParams:
        if self.duration_s is not None and self.until is not None:
            raise ValueError("give either 'duration_s' or 'until', not both")
        if self.until is not None and self.until <= datetime.now(UTC):
            raise ValueError("'until' must be in the future")
        return self

    def expires_at(self, now: datetime) -> datetime | None:
        """When the override ends (None: until changed again); "auto" never expires."""
        if self.mode == "auto":
            return None
        if self.duration_s is not None:
            return now + timedelta(seconds=self.duration_s)
        return self.until


def dump(model: BaseModel) -> dict:
    """A JSON-ready dict: aliases ("from"), "Z" timestamps; params omit unset optionals."""
    exclude_none = getattr(model, "dump_exclude_none", False)
    return model.model_dump(mode="json", by_alias=True, exclude_none=exclude_none)
