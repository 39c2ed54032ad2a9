"""What every model shares: which values are ids, how times are stored and shown, JSON columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sentra_tunnel.models.base import MAX_ID, JSONField, iso, utcnow, valid_id


@pytest.mark.parametrize("value", [1, "1", 42, MAX_ID, str(MAX_ID)])
def test_ids_a_row_can_have(value):
    assert valid_id(value)


@pytest.mark.parametrize(
    "value", [0, -1, MAX_ID + 1, 2**70, "", "1x", " ", None, True, 1.0, 1.5, [1], "٣"]
)
def test_values_that_are_no_id_are_simply_absent(value):
    assert not valid_id(value)


def test_stored_times_are_naive_utc_to_the_second():
    now = utcnow()
    assert now.tzinfo is None and now.microsecond == 0
    assert abs(datetime.now(UTC).replace(tzinfo=None) - now) < timedelta(seconds=2)


@pytest.mark.parametrize(
    "moment, shown",
    [
        (None, None),
        (datetime(2026, 12, 2, 9, 30, 15, 999), "2026-12-02T09:30:15Z"),
        (
            datetime(2026, 12, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))),
            "2026-12-02T09:30:00Z",
        ),
    ],
)
def test_times_are_shown_in_utc_with_a_z(moment, shown):
    assert iso(moment) == shown


def test_json_columns_round_trip_and_keep_null():
    field = JSONField()
    value = {"door": "open", "list": [1, "ä"], "nested": {"none": None}}
    assert field.python_value(field.db_value(value)) == value
    assert field.db_value(None) is None and field.python_value(None) is None
    assert " " not in field.db_value({"a": [1, 2]})  # compact: state is stored on every change
