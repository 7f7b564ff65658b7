"""One request's reservation with the token manager, from admission to settling.

Every reservation is settled exactly once: reconciled with what the server
measured, or released when the server refused the request without counting it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic

from token_manager import Reservation, TokenManager

from .request_assembly import AssembledRequest
from .sdk_internals import is_error_event

OnWait = Callable[[str, float], None]  # (budget, seconds): the limiter holds us


def refused_uncounted(error: BaseException) -> bool:
    """A status error before the stream: the server refused the request uncounted.

    Anything later (an error event, a broken stream, a cancellation) was counted.
    """
    return isinstance(error, anthropic.APIStatusError) and not is_error_event(error)


@dataclass
class HeldReservation:
    """An admitted request's charge, until the response (or its failure) settles it."""

    manager: TokenManager
    reservation: Reservation
    settled: bool = False

    def settle(self, usage: Any) -> None:
        """The response arrived: charge what the server measured."""
        if not self.settled:
            self.settled = True
            self.manager.reconcile(self.reservation, usage)

    def settle_failed(self, error: BaseException, measured_usage: Any) -> None:
        """Refused requests cost nothing; broken streams cost what the server had
        measured (the estimate, when nothing was measured)."""
        if self.settled:
            return
        self.settled = True
        if refused_uncounted(error):
            self.manager.release(self.reservation)
        else:
            self.manager.reconcile(self.reservation, measured_usage)


async def admit(
    manager: TokenManager,
    request: AssembledRequest,
    *,
    model: str,
    on_wait: OnWait,
) -> HeldReservation:
    """Wait until the limiter admits `request`; raises `RequestTooLargeError` when
    it never can."""
    reservation = await manager.acquire(
        request.estimate, request.max_tokens, model=model, on_wait=on_wait
    )
    return HeldReservation(manager, reservation)
