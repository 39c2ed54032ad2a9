"""Reply: the device's result, its error, or the tunnel gone, each read the one way."""

from __future__ import annotations

import pytest

from sentra_tunnel import wire
from sentra_tunnel.tunnel.outcomes import GONE, DeviceOffline, DeviceRejected, Reply


def result_frame(**fields) -> wire.ResultFrame:
    return wire.ResultFrame.model_validate({"type": "result", "id": "c1", **fields})


def test_a_successful_reply_is_its_result():
    reply = Reply.of(result_frame(success=True, result={"opened": True}))
    assert reply.outcome() == {"opened": True}


def test_a_device_error_keeps_its_code_and_message():
    frame = result_frame(success=False, error={"code": "door_jammed", "message": "Stuck."})
    with pytest.raises(DeviceRejected) as rejected:
        Reply.of(frame).outcome()
    assert (rejected.value.code, rejected.value.message) == ("door_jammed", "Stuck.")


def test_a_tunnel_gone_before_the_answer_is_offline():
    with pytest.raises(DeviceOffline):
        GONE.outcome()


@pytest.mark.parametrize(
    "fields", [{"success": True}, {"success": False}, {"success": False, "error": {"code": "x"}}]
)
def test_a_result_frame_without_its_outcome_is_refused(fields):
    with pytest.raises(ValueError):
        result_frame(**fields)
