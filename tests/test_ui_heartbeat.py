"""The turn's heartbeat: Streamlit's one-shot Stop is never lost in a side task."""

from __future__ import annotations

import asyncio

import pytest

from computer_use_demo.ui.heartbeat import Heartbeat, InterruptRelay, is_script_control


class FakeRerun(BaseException):
    """Shaped like Streamlit's RerunException: a BaseException, not an error."""


def test_streamlit_control_exceptions_are_recognised_by_shape() -> None:
    from streamlit.runtime.scriptrunner_utils.exceptions import (
        RerunData,
        RerunException,
        StopException,
    )

    assert is_script_control(StopException())
    assert is_script_control(RerunException(RerunData()))
    assert not is_script_control(ValueError())
    assert not is_script_control(asyncio.CancelledError())
    assert not is_script_control(KeyboardInterrupt())


async def test_a_stop_raised_in_a_side_task_cancels_the_turn_and_is_kept() -> None:
    turn = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    relay = InterruptRelay(turn)
    stop = FakeRerun()

    def draw() -> None:
        raise stop

    assert relay.run(draw) is False
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert relay.interruption is stop
    assert relay.run(lambda: None) is False, "nothing is drawn after a Stop"


async def test_a_drawing_error_is_logged_and_the_turn_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    turn = asyncio.get_running_loop().create_task(asyncio.sleep(0))
    relay = InterruptRelay(turn)

    def broken() -> None:
        raise ValueError("bad element")

    assert relay.run(broken) is True
    await turn
    assert not turn.cancelled() and relay.interruption is None
    assert "a UI refresh failed" in caplog.text


async def test_the_heartbeat_ticks_fast_and_slow_until_a_stop() -> None:
    turn = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    calls: list[str] = []

    def fast() -> None:
        calls.append("fast")
        if calls.count("fast") == 7:
            raise FakeRerun()

    heartbeat = Heartbeat(
        InterruptRelay(turn), fast, lambda: calls.append("slow"), 0, 3
    )
    heartbeat.start()
    with pytest.raises(asyncio.CancelledError):
        await turn
    await asyncio.sleep(0)
    assert calls.count("fast") == 7
    assert calls.count("slow") == 2, "every third tick, until the Stop"
    heartbeat.stop()
