"""The spending part of the limiter: prices a request from its estimate, holds
its worst case before it is sent, charges its real cost after.

`reserve` may ask Redis (the shared daily total): the app calls it off the
event loop. `settle` and `release` never wait: with a shared total they are
handed to a worker thread (a late settle only lowers a hold, so it is safe).
"""

from __future__ import annotations

from typing import Any

from .estimator import RequestEstimate
from .model_table import PriceList
from .pools import rate_limit_pool
from .spend import UsageShape, usage_cost, worst_case_cost
from .spending import SpendCaps, SpendHold, Spending, SpendReport
from .waiting import in_background

HOUR_TTL = 3600.0


class SpendGate:
    def __init__(self, spending: Spending, prices: PriceList, *, shared: bool) -> None:
        self._spending = spending
        self._prices = prices
        self._shared = shared

    def worst_case(
        self, request: RequestEstimate | int, max_tokens: int, *, model: str | None
    ) -> int:
        """The most the request can cost, in nano-dollars."""
        tokens = (
            request.total_tokens if isinstance(request, RequestEstimate) else request
        )
        return worst_case_cost(
            tokens,
            max_tokens,
            self._prices.for_model(model),
            writes_ttl=_writes_ttl(request),
        )

    def reserve(
        self,
        request: RequestEstimate | int,
        max_tokens: int,
        *,
        model: str | None,
        conversation: str,
        account: str,
    ) -> SpendHold:
        """Hold the worst case against every cap; raises `SpendCapReached`."""
        return self._spending.reserve(
            conversation=conversation,
            account=account,
            pool=rate_limit_pool(model),
            worst=self.worst_case(request, max_tokens, model=model),
        )

    def cost_of(
        self, usage: Any, *, model: str | None, request: RequestEstimate | None = None
    ) -> int:
        shape = UsageShape.of(usage, writes_ttl=_writes_ttl(request) or "5m")
        return usage_cost(shape, self._prices.for_model(model))

    def settle(
        self,
        hold: SpendHold,
        usage: Any,
        *,
        model: str | None,
        request: RequestEstimate | None = None,
    ) -> None:
        real = self.cost_of(usage, model=model, request=request)
        if self._shared:
            in_background(self._spending.settle, hold, real)
        else:
            self._spending.settle(hold, real)

    def release(self, hold: SpendHold) -> None:
        if self._shared:
            in_background(self._spending.release, hold)
        else:
            self._spending.release(hold)

    def report(
        self, *, conversation: str = "", account: str = "", fresh: bool = False
    ) -> SpendReport:
        """Spent so far (`Spending.report`); with `fresh` it may ask Redis."""
        return self._spending.report(
            conversation=conversation, account=account, fresh=fresh
        )

    def set_caps(self, caps: SpendCaps) -> None:
        """Replace the caps (the CLI's --max-cost, the sidebar's fields)."""
        self._spending.caps = caps

    def day(self, account: str = "") -> str:
        """Today's date (UTC), as the daily cap counts it."""
        return self._spending.day_key(account).rsplit(":", 1)[1]

    @property
    def caps(self) -> SpendCaps:
        return self._spending.caps


def _writes_ttl(request: RequestEstimate | int | None) -> str | None:
    """The longest TTL the request's cache marks ask for, or None if it has none."""
    detail = request.detail if isinstance(request, RequestEstimate) else None
    if detail is None or not detail.breakpoints:
        return None
    longest = max(point.ttl for point in detail.breakpoints)
    return "1h" if longest >= HOUR_TTL else "5m"
