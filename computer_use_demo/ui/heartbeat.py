"""A turn's heartbeat: redraws what time changes and relays Streamlit's Stop.

Never lets an interruption raised in a side task get lost: Streamlit raises its
rerun/stop once, at the first `st` call after a click; the heartbeat catches it,
cancels the turn's task and hands the exception back to re-raise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.05  # the live text's trailing redraw comes at most this late
SLOW_TICK_SECONDS = 0.5  # meter and countdown


def is_script_control(error: BaseException) -> bool:
    """Streamlit's StopException/RerunException: BaseExceptions, not errors.

    Matched by shape rather than by import, as their module moves between
    Streamlit releases.
    """
    return not isinstance(
        error, Exception | asyncio.CancelledError | KeyboardInterrupt | SystemExit
    )


@dataclass
class InterruptRelay:
    """Runs UI actions from side tasks; a Streamlit interruption cancels `turn`."""

    turn: asyncio.Task[object] | None
    interruption: BaseException | None = None

    def run(self, action: Callable[[], None]) -> bool:
        """Run `action`; False once the turn is being interrupted."""
        if self.interruption is not None:
            return False
        try:
            action()
        except Exception:
            logger.exception("a UI refresh failed")  # drawing never ends a turn
        except BaseException as error:
            if not is_script_control(error):
                raise
            self.interruption = error
            if self.turn is not None:
                self.turn.cancel()
            return False
        return True


@dataclass
class Heartbeat:
    """Calls `fast` every tick and `slow` every few, until stopped."""

    relay: InterruptRelay
    fast: Callable[[], None]
    slow: Callable[[], None]
    tick: float = TICK_SECONDS
    slow_every: int = max(1, round(SLOW_TICK_SECONDS / TICK_SECONDS))
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self.tick)
            beats += 1
            if not self.relay.run(self.fast):
                return
            if beats % self.slow_every == 0 and not self.relay.run(self.slow):
                return

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
