"""The sizes the manager decides: request estimates and max_tokens under the
output budget (a part of `TokenManager`).

Never waits; holds the manager's lock only for in-memory work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .budgets import Budget
from .estimator import RequestEstimate
from .limiter_state import LimiterState
from .pools import rate_limit_pool

logger = logging.getLogger("token_manager")


class Sizing:
    """Request estimates and max_tokens under the output budget."""

    def __init__(self, state: LimiterState) -> None:
        self._state = state

    def estimate_request(
        self,
        *,
        system: Any = None,
        messages: Sequence[Any] = (),
        tools: Sequence[Any] | None = None,
        model: str | None = None,
        account: str = "",
    ) -> RequestEstimate:
        """Input tokens of a request (the prefix the server measured, exactly, plus
        a calibrated count of what is new) and how many the cache should serve.

        `account`: the tag of the API key the request is sent with
        (`account_tag`): the server keeps a cache per organisation."""
        with self._state.lock:
            return self._state.estimator.estimate(
                system=system,
                messages=messages,
                tools=tools,
                model=model,
                now=self._state.clock(),
                account=account,
            )

    def estimate_input_tokens(
        self,
        *,
        system: Any = None,
        messages: Sequence[Any] = (),
        tools: Sequence[Any] | None = None,
    ) -> int:
        """All input tokens of a request (older callers: charged in full)."""
        return self.estimate_request(
            system=system, messages=messages, tools=tools
        ).total_tokens

    def estimate_message_tokens(self, message: Any) -> int:
        """One message's calibrated estimate (the context budget counts message by message)."""
        with self._state.lock:
            return self._state.estimator.message_tokens(message)

    def estimate_frame_tokens(
        self, *, system: Any = None, tools: Sequence[Any] | None = None
    ) -> int:
        """The system prompt and tool definitions: the part of a request that never changes."""
        with self._state.lock:
            return self._state.estimator.frame_tokens(system, tools)

    @property
    def calibration_ratio(self) -> float:
        return self._state.estimator.calibration.ratio

    async def count_tokens_with_server(self, client: Any, **request: Any) -> int:
        """The server's own count (`count_tokens` endpoint), for when exactness matters."""
        result = await client.beta.messages.count_tokens(**request)
        return int(result.input_tokens)

    def clamp_max_tokens(self, max_tokens: int, *, model: str | None = None) -> int:
        """max_tokens the output budget can ever admit (the server pre-charges all of it)."""
        limit = self._state.limits_of(rate_limit_pool(model)).output_tokens_per_minute
        return max_tokens if limit is None else max(1, min(max_tokens, limit))

    def _spendable_output(self, model: str | None) -> int | None:
        """The output budget one request may ask of now: its share while the
        shared store is away (a larger request would wait for it)."""
        limits = self._state.limits_of(rate_limit_pool(model)).by_budget()
        spendable = self._state.store.spendable(rate_limit_pool(model), limits)
        return spendable[Budget.OUTPUT_TOKENS]

    def max_tokens_for_next_request(
        self, max_tokens: int, minimum: int = 4096, *, model: str | None = None
    ) -> int:
        """max_tokens lowered to the output budget free right now (never below
        `minimum`): a request pre-charged with the whole budget would wait for
        the window to empty completely before every call."""
        ceiling = self.clamp_max_tokens(max_tokens, model=model)
        limit = self._spendable_output(model)
        if limit is None:
            return ceiling
        pool = rate_limit_pool(model)
        with self._state.lock:
            window = self._state.window
            used = self._state.store.local.usage(pool, window, self._state.clock())
        free = limit - used[Budget.OUTPUT_TOKENS]
        return max(min(ceiling, minimum), min(ceiling, free))
