"""Validation and serialization of the door models shared with the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from sentra_tunnel.door_schema import (
    DoorConfig,
    DoorConfigPatch,
    DoorState,
    OpenParams,
    OverrideParams,
    ScheduleSlot,
    dump,
)

WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}


def test_door_state_serializes_utc_with_z():
    berlin_evening = datetime.fromisoformat("2026-11-26T19:00:00+01:00")
    state = DoorState(door="closed", lock="locked", mode="open", override_until=berlin_evening)
    assert dump(state) == {
        "door": "closed",
        "lock": "locked",
        "mode": "open",
        "override_until": "2026-11-26T18:00:00Z",
    }
    assert '"override_until":"2026-11-26T18:00:00Z"' in state.model_dump_json()


def test_door_state_keeps_null_override_and_rejects_unknown_values():
    assert dump(DoorState(door="unknown", lock="unlocked", mode="auto"))["override_until"] is None
    with pytest.raises(ValidationError):
        DoorState(door="ajar", lock="locked", mode="auto")
    with pytest.raises(ValidationError):
        DoorState.model_validate({"door": "open", "lock": "locked", "mode": "auto", "x": 1})


def test_door_state_parses_z_timestamps_and_rejects_naive_ones():
    state = DoorState.model_validate(
        {
            "door": "open",
            "lock": "locked",
            "mode": "locked",
            "override_until": "2026-11-26T18:00:00Z",
        }
    )
    assert state.override_until == datetime(2026, 11, 26, 18, tzinfo=UTC)
    with pytest.raises(ValidationError, match="timezone"):
        DoorState.model_validate(
            {
                "door": "open",
                "lock": "locked",
                "mode": "locked",
                "override_until": "2026-11-26T18:00",
            }
        )


def test_config_defaults_and_round_trip_with_from_alias():
    assert dump(DoorConfig()) == {"open_duration_s": 5, "timezone": "Europe/Berlin", "schedule": []}
    config = DoorConfig.model_validate({"timezone": "UTC", "schedule": [WEEKDAYS]})
    assert dump(config)["schedule"] == [WEEKDAYS]
    assert config.schedule[0].from_ == "08:00"
    assert ScheduleSlot(days=["sun"], from_="09:00", to="10:00").from_ == "09:00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"open_duration_s": 0}, "open_duration_s"),
        ({"open_duration_s": 31}, "open_duration_s"),
        ({"open_duration_s": "5"}, "open_duration_s"),
        ({"open_duration_s": True}, "open_duration_s"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "/etc/localtime"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"schedule": [{**WEEKDAYS, "days": []}]}, "schedule"),
        ({"schedule": [{**WEEKDAYS, "days": ["monday"]}]}, "schedule"),
        ({"schedule": [{**WEEKDAYS, "from": "8:00"}]}, "schedule"),
        ({"schedule": [{**WEEKDAYS, "to": "24:00"}]}, "schedule"),
        ({"schedule": [{**WEEKDAYS, "from": "18:00", "to": "08:00"}]}, "schedule"),
        ({"schedule": [{**WEEKDAYS, "extra": 1}]}, "schedule"),
        ({"schedule": [WEEKDAYS] * 51}, "schedule"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_configs_are_rejected(body, field):
    with pytest.raises(ValidationError) as info:
        DoorConfig.model_validate(body)
    assert info.value.errors()[0]["loc"][0] == field


def test_overnight_slot_message_explains_the_fix():
    with pytest.raises(ValidationError, match="earlier than 'to'"):
        ScheduleSlot.model_validate({"days": ["fri"], "from": "22:00", "to": "02:00"})


def test_schedule_active_uses_the_configured_timezone():
    config = DoorConfig.model_validate({"timezone": "Europe/Berlin", "schedule": [WEEKDAYS]})
    # 07:30 UTC on a Wednesday in winter is 08:30 in Berlin: open; in UTC it would be closed.
    wednesday = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
    assert config.schedule_active(wednesday)
    assert not config.model_copy(update={"timezone": "UTC"}).schedule_active(wednesday)
    assert not config.schedule_active(wednesday + timedelta(hours=9, minutes=30))  # 18:00 end
    assert not config.schedule_active(wednesday + timedelta(days=3))  # Saturday


def test_patch_merges_only_given_fields():
    base = DoorConfig.model_validate({"open_duration_s": 7, "schedule": [WEEKDAYS]})
    patched = DoorConfigPatch.model_validate({"timezone": "UTC"}).apply(base)
    assert (patched.open_duration_s, patched.timezone, patched.schedule) == (
        7,
        "UTC",
        base.schedule,
    )
    cleared = DoorConfigPatch.model_validate({"schedule": []}).apply(base)
    assert cleared.schedule == []
    with pytest.raises(ValidationError):
        DoorConfigPatch.model_validate({"open_duration_s": 99})
    with pytest.raises(ValidationError):
        DoorConfigPatch.model_validate({"unknown": 1})


def test_open_params():
    assert dump(OpenParams()) == {}
    assert OpenParams.model_validate({"duration_s": 30}).duration_s == 30
    for bad in ({"duration_s": 0}, {"duration_s": 31}, {"duration_s": 2.5}, {"seconds": 3}):
        with pytest.raises(ValidationError):
            OpenParams.model_validate(bad)


def test_override_params_forms():
    now = datetime.now(UTC)
    assert OverrideParams.model_validate({"mode": "open"}).expires_at(now) is None
    timed = OverrideParams.model_validate({"mode": "locked", "duration_s": 3600})
    assert timed.expires_at(now) == now + timedelta(hours=1)
    assert dump(timed) == {"mode": "locked", "duration_s": 3600}
    until = OverrideParams.model_validate({"mode": "open", "until": "2999-01-01T00:00:00Z"})
    assert dump(until) == {"mode": "open", "until": "2999-01-01T00:00:00Z"}
    assert until.expires_at(now) == datetime(2999, 1, 1, tzinfo=UTC)
    assert OverrideParams(mode="auto", duration_s=60).expires_at(now) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "open", "duration_s": 60, "until": "2999-01-01T00:00:00Z"}, "not both"),
        ({"mode": "open", "until": "2000-01-01T00:00:00Z"}, "future"),
        ({"mode": "open", "until": "2999-01-01T00:00:00"}, "timezone"),
        ({"mode": "open", "duration_s": 0}, "greater than or equal"),
        ({"mode": "open", "duration_s": 604801}, "less than or equal"),
        ({"mode": "party"}, "Input should be"),
        ({"duration_s": 60}, "Field required"),
        ({"mode": "open", "reason": "x"}, "Extra inputs"),
    ],
)
def test_bad_overrides_are_rejected(body, message):
    with pytest.raises(ValidationError, match=message):
        OverrideParams.model_validate(body)
