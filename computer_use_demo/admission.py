"""One request's reservation with the token manager, from admission to settling.

Every reservation, of tokens and of money, is settled exactly once: reconciled
with what the server measured, or released when the server refused the request
without counting it. The money is held first: a request whose worst case could
pass a spending cap is refused before it waits for tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic

from token_manager import Reservation, TokenManager
from token_manager.spending import SpendHold

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
    spend: SpendHold
    request: AssembledRequest
    model: str
    settled: bool = False

    def settle(self, usage: Any) -> None:
        """The response arrived: charge what the server measured."""
        if not self.settled:
            self.settled = True
            self.manager.reconcile(self.reservation, usage)
            self._charge(usage)

    def _charge(self, usage: Any) -> None:
        estimate = self.request.estimate
        if usage is None:
            return  # counted, but never learnt how much: the hold stays charged
        self.manager.spending.settle(
            self.spend, usage, model=self.model, request=estimate
        )

    def settle_failed(self, error: BaseException, measured_usage: Any) -> None:
        """Refused requests cost nothing; broken streams cost what the server had
        measured (the estimate, when nothing was measured)."""
        if self.settled:
            return
        self.settled = True
        if refused_uncounted(error):
            self.manager.release(self.reservation)
            self.manager.spending.release(self.spend)
        else:
            self.manager.reconcile(self.reservation, measured_usage)
            self._charge(measured_usage)


async def admit(
    manager: TokenManager,
    request: AssembledRequest,
    *,
    model: str,
    on_wait: OnWait,
    conversation: str = "",
    account: str = "",
) -> HeldReservation:
    """Hold the request's worst-case cost (raises `SpendCapReached` if it could
    pass a cap), then wait until the limiter admits it (raises
    `RequestTooLargeError` when it never can, giving the money back)."""
    spend = await asyncio.to_thread(  # may ask Redis: off the event loop
        manager.spending.reserve,
        request.estimate,
        request.max_tokens,
        model=model,
        conversation=conversation,
        account=account,
    )
    try:
        reservation = await manager.acquire(
            request.estimate, request.max_tokens, model=model, on_wait=on_wait
        )
    except BaseException:
        manager.spending.release(spend)
        raise
    return HeldReservation(manager, reservation, spend, request, model)
